"""The lake end to end on hand-made landing files: bronze, quarantine (every reason), the
landed = bronze + quarantine invariant, late and duplicate events, silver, gold, and re-runs
that change nothing. One lake, built once (see lakehelpers.built_lake)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lakehelpers import (
    BAD_EVENTS,
    DAY,
    PREV,
    at,
    built_lake,
    ev,
    lake_settings,
    land,
    land_dimensions,
    table_rows,
)
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from fyplake import catalog, delta_io
from fyplake.landing_stats import landing_counts
from jobs.quality.gate import LAYERS

pytestmark = pytest.mark.slow

LAKE_TABLES = (
    "bronze.events",
    "quarantine.events",
    "silver.watch_history",
    "silver.users",
    "silver.videos",
    "silver.sounds",
    "silver.follows",
    "silver.hashtags",
    "gold.video_daily_stats",
    "gold.creator_daily_stats",
)


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    return built_lake(spark, tmp_path_factory.mktemp("lake"))


def _read(spark, settings, name):
    return delta_io.read_table(spark, catalog.table(name), settings=settings)


def test_bronze_has_one_row_per_event_and_late_events_in_their_own_partition(spark, lake):
    settings, _ = lake
    got = _read(spark, settings, "bronze.events").select(
        "event_id",
        "event_type",
        "event_date",
        F.regexp_extract("landing_file", r"test-(.*)\.jsonl", 1),
    )
    assertDataFrameEqual(
        got,
        [
            ("e1", "watch", DAY, "events-a"),  # its duplicate in events-b is quarantined
            ("e2", "like", DAY, "events-a"),
            ("e3", "skip", DAY, "events-a"),
            ("e4", "watch", DAY, "events-a"),
            ("e5", "follow", DAY, "events-a"),
            ("e6", "share", DAY, "events-a"),
            ("e7", "watch", PREV, "events-b"),  # late: arrived on DAY, belongs to the day before
            ("e8", "comment", DAY, "events-b"),
        ],
    )
    parts = {p.name for p in (Path(settings.lake) / "bronze" / "events").glob("event_date=*")}
    assert parts == {f"event_date={PREV}", f"event_date={DAY}"}


def test_every_quarantine_reason_with_raw_line_and_source(spark, lake):
    settings, _ = lake
    got = _read(spark, settings, "quarantine.events").select(
        "entity",
        F.regexp_extract("landing_file", r"test-(.*)\.jsonl", 1),
        "line_no",
        "reason_code",
        "ingest_date",
    )
    expected = [
        ("events", "events-bad", i + 1, code, DAY) for i, (_, code) in enumerate(BAD_EVENTS)
    ]
    expected += [
        ("events", "events-b", 1, "duplicate_event", DAY),
        ("users", "users-a", 4, "mistyped_field", DAY),
        ("videos", "videos-a", 3, "invalid_value", DAY),
        ("videos", "videos-a", 4, "reserved_id", DAY),
    ]
    assertDataFrameEqual(got, expected)
    dup = _read(spark, settings, "quarantine.events").where(
        F.col("reason_code") == "duplicate_event"
    )
    row = dup.select("raw", "reason").first()
    assert '"event_id": "e1"' in row["raw"]
    assert row["reason"] == (
        "duplicate_event: event_id=e1 already from "
        "landing/events/date=2026-11-01/hour=12/test-events-a.jsonl"
    )
    codes = {c for _, c in BAD_EVENTS} | {"duplicate_event", "invalid_value", "reserved_id"}
    from jobs.lake.reasons import REASONS

    assert codes == set(REASONS)  # every reason is exercised


def test_landed_equals_bronze_plus_quarantine(spark, lake):
    settings, result = lake
    landed = {entity: records for entity, (_, records) in landing_counts(settings).items()}
    quarantined = {
        r["entity"]: r["n"]
        for r in _read(spark, settings, "quarantine.events")
        .groupBy("entity")
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    }
    bronze = _read(spark, settings, "bronze.events").count()
    assert landed["events"] == 22
    assert landed["events"] == bronze + quarantined["events"]
    # per file, for every entity: lines = accepted + quarantined, and lines = what landed
    log = _read(spark, settings, "_meta.ingested_files")
    assert log.where(F.col("lines") != F.col("accepted") + F.col("quarantined")).count() == 0
    per_entity = {
        r["entity"]: r
        for r in log.groupBy("entity")
        .agg(F.sum("lines").alias("lines"), F.sum("quarantined").alias("q"))
        .collect()
    }
    for entity, n in landed.items():
        assert per_entity[entity]["lines"] == n
        assert per_entity[entity]["q"] == quarantined.get(entity, 0)
    ingest = result["ingest"]
    assert (ingest["lines"], ingest["accepted"], ingest["quarantined"]) == (31, 14, 17)


def test_silver_watch_history(spark, lake):
    settings, _ = lake
    got = _read(spark, settings, "silver.watch_history").drop("event_time")
    assertDataFrameEqual(
        got,
        [
            ("e1", 1, 100, 3, 8000, 10000, 0.8, True, False, False, False, DAY),
            ("e3", 2, 100, 3, 500, 10000, 0.05, False, False, False, True, DAY),
            ("e4", 2, 101, 3, 30000, 20000, 1.5, False, True, False, False, DAY),
            # late watch at 23:50 the day before; the comment at 00:10 belongs to it
            ("e7", 1, 101, 3, 5000, 20000, 0.25, False, False, True, False, PREV),
        ],
    )


def test_silver_dimensions(spark, lake):
    settings, _ = lake
    assert [r[0] for r in table_rows(spark, settings, "silver.users")] == [1, 2, 3]
    videos = _read(spark, settings, "silver.videos").select("video_id", "hashtags", "updated_at")
    assertDataFrameEqual(videos, [(100, ["dance", "fun"], at(10)), (101, ["fun"], at(10))])
    assertDataFrameEqual(
        _read(spark, settings, "silver.hashtags").select("hashtag", "video_id"),
        [("dance", 100), ("fun", 100), ("fun", 101)],
    )
    assertDataFrameEqual(_read(spark, settings, "silver.follows"), [(1, 3, at(11, 30))])
    assert _read(spark, settings, "silver.sounds").count() == 1


def test_gold_daily_stats(spark, lake):
    settings, _ = lake
    videos = _read(spark, settings, "gold.video_daily_stats").select(
        "date",
        "video_id",
        "views",
        "unique_viewers",
        "watch_ms_total",
        F.round("mean_completion", 9),
        "likes",
        "shares",
        "comments",
        "skips",
        "like_rate",
        "share_rate",
        "comment_rate",
    )
    assertDataFrameEqual(
        videos,
        [
            (PREV, 101, 1, 1, 5000, 0.25, 0, 0, 1, 0, 0.0, 0.0, 1.0),
            (DAY, 100, 2, 2, 8500, 0.425, 1, 0, 0, 1, 0.5, 0.0, 0.0),
            (DAY, 101, 1, 1, 30000, 1.5, 0, 1, 0, 0, 0.0, 1.0, 0.0),
        ],
    )
    creators = _read(spark, settings, "gold.creator_daily_stats").select(
        "date",
        "creator_id",
        "videos_watched",
        "views",
        "unique_viewers",
        "new_followers",
        "followers_total",
    )
    assertDataFrameEqual(creators, [(PREV, 3, 1, 1, 1, 0, 0), (DAY, 3, 2, 3, 2, 1, 1)])


def test_gates_ran_and_kept_their_results(lake):
    settings, result = lake
    assert list(result) == [
        "ingest",
        "quality_gate_bronze",
        "silver",
        "quality_gate_silver",
        "gold",
        "quality_gate_gold",
    ]
    assert result["quality_gate_silver"]["message"].startswith("gate silver passed")
    quality = Path(settings.quality_dir)
    site = quality / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert (quality / "results" / DAY.isoformat() / "gold-latest.json").exists()
    # each gate renders its own pages: every stored validation result and every gated table's
    # suite has its page, and the index links each result
    stored = list((quality / "gx" / "uncommitted" / "validations").rglob("*.json"))
    pages = list((site / "validations").rglob("*.html"))
    gated = {t for layer in ("bronze", "silver", "gold") for t in LAYERS[layer]}
    assert len(stored) == len(pages) >= len(gated), (len(stored), len(pages))
    suites = site / "expectations"
    assert {
        ".".join(p.relative_to(suites).with_suffix("").parts) for p in suites.rglob("*.html")
    } == gated
    index = (site / "index.html").read_text()
    assert all(str(p.relative_to(site)) in index for p in pages)


def test_every_lake_task_recorded_its_run(spark, lake):
    """The job skeleton: each job (and each gate, by layer) of the interval has its gold.runs row
    with the Delta versions it read and wrote; silver's are the ones its result names."""
    import json

    settings, result = lake
    runs = {
        r["job"]: r
        for r in _read(spark, settings, "gold.runs").where(F.col("ds") == F.lit(DAY)).collect()
    }
    gates = {f"quality_gate.{layer}" for layer in ("bronze", "silver", "gold")}
    assert {"ingest", "silver", "gold"} | gates <= set(runs)
    for name in ("ingest", "silver", "gold"):
        assert result[name]["run_id"].startswith(f"{DAY:%Y%m%d}-"), result[name]
    silver = runs["silver"]
    assert set(json.loads(silver["inputs"])) == {"bronze.events", "silver.videos"}
    assert set(json.loads(silver["outputs"])) == set(result["silver"]["versions"])
    assert "bronze.events" in json.loads(runs["ingest"]["outputs"])
    assert "silver.watch_history" in json.loads(runs["quality_gate.silver"]["inputs"])


def test_rerunning_the_interval_changes_nothing(spark, lake):
    from orchestration.inprocess import run_tasks
    from orchestration.tasks import LAKE_TASKS

    settings, _ = lake
    before = {name: table_rows(spark, settings, name) for name in LAKE_TABLES}
    again = run_tasks(LAKE_TASKS, DAY, spark=spark, settings=settings, gates=False)
    assert again["ingest"]["files_consumed"] == 0  # every file already consumed
    replay = run_tasks(
        LAKE_TASKS,
        DAY,
        spark=spark,
        settings=settings,
        gates=False,
        params={"ingest": {"force": True}},
    )
    assert replay["ingest"]["files_consumed"] == 6  # the same files read again
    after = {name: table_rows(spark, settings, name) for name in LAKE_TABLES}
    for name in LAKE_TABLES:
        assert after[name] == before[name], name


def test_hourly_intervals_neither_skip_nor_reread_a_file(spark, tmp_path):
    from jobs.lake.ingest import ingest_interval

    settings = lake_settings(tmp_path)
    land_dimensions(settings)  # hour 10
    land(
        settings,
        "events",
        at(12),
        [ev("h1", "watch", 1, at(11, 59), video_id=100, watch_ms=1)],
        "h12",
    )

    def consumed(start, end):
        return ingest_interval(spark, settings, start, end)["files_consumed"]

    assert consumed(at(10), at(11)) == 3  # the dimension files
    assert consumed(at(11), at(12)) == 0
    assert consumed(at(12), at(13)) == 1
    assert consumed(at(12), at(13)) == 0  # re-run: nothing new
    # a file that shows up in hour 12's folder after hour 12 ran is caught up by hour 13
    land(settings, "events", at(12), [ev("h2", "like", 1, at(12, 1), video_id=100)], "h12-late")
    assert consumed(at(13), at(14)) == 1
    # a consumed file that is rewritten (changed) is read again; MERGE keeps rows unique
    land(
        settings,
        "events",
        at(12),
        [
            ev("h1", "watch", 1, at(11, 59), video_id=100, watch_ms=1),
            ev("h3", "like", 2, at(12, 2), video_id=100),
        ],
        "h12",
    )
    assert consumed(at(12), at(13)) == 1
    ids = sorted(r[0] for r in _read(spark, settings, "bronze.events").select("event_id").collect())
    assert ids == ["h1", "h2", "h3"]
    # rewritten once more with h1 moved to the day before (bronze holds it on DAY): the MERGE
    # reads only the batch's dates, yet h1 stays the one row first written
    land(
        settings,
        "events",
        at(12),
        [
            ev("h1", "watch", 1, at(11, 59, day=PREV), video_id=100, watch_ms=1),
            ev("h3", "like", 2, at(12, 2), video_id=100),
            ev("h4", "like", 2, at(12, 3), video_id=100),
        ],
        "h12",
    )
    assert consumed(at(12), at(13)) == 1
    bronze = _read(spark, settings, "bronze.events")
    assert sorted((r[0], r[1]) for r in bronze.select("event_id", "event_date").collect()) == [
        ("h1", DAY),
        ("h2", DAY),
        ("h3", DAY),
        ("h4", DAY),
    ]
    assert _read(spark, settings, "quarantine.events").count() == 3  # the 3 bad dimension rows


def test_many_small_files_are_read_from_their_folders_in_few_partitions(spark, tmp_path):
    """The API's many small files cost no task or listing call each: the read lists their hour
    folders and packs them into a few partitions, and still reads exactly the files it is given
    (not one the caller left out as consumed, nor one written after the listing)."""
    from jobs.lake.ingest import read_lines
    from jobs.lake.landing_files import list_landing_files

    settings = lake_settings(tmp_path)
    for i in range(150):
        land(
            settings,
            "events",
            at(12 + i % 2),
            [ev(f"s{i}", "like", 1, at(12), video_id=100)],
            f"small-{i:03d}",
        )
    listed = list_landing_files(spark, settings, at(12), at(14))
    land(settings, "events", at(13), [ev("late", "like", 1, at(13), video_id=100)], "after")
    todo = listed[1:]  # the first as if consumed already
    lines = read_lines(spark, todo)
    assert lines.rdd.getNumPartitions() <= spark.sparkContext.defaultParallelism
    got = sorted(r["landing_file"] for r in lines.select("landing_file").collect())
    assert got == sorted(f.rel_path for f in todo) and len(got) == 149
    scan = lines._jdf.queryExecution().executedPlan().toString()  # noqa: SLF001
    assert "InMemoryFileIndex(2 paths)" in scan  # the two hour folders, not 149 files
