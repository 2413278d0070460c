"""Importers on small hand-written files in each format: MovieLens 100K, KuaiRec, generic CSV.

The pure tests read back the landing records; the slow one ingests all three into a lake."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from lakehelpers import lake_settings

from fyplake.importers.common import rating_events
from fyplake.importers.csv_log import import_csv
from fyplake.importers.kuairec import import_kuairec
from fyplake.importers.movielens import import_movielens

ARRIVAL = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


def _landed(settings, entity: str) -> list[dict]:
    root = Path(settings.lake) / "landing" / entity
    out = []
    for path in sorted(root.glob("date=*/hour=*/*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


def _movielens(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "u.data").write_text(
        "1\t10\t5\t881250949\n"
        "1\t11\t1\t881250960\n"
        "2\t10\t3\t891717742\n"
        "2\t11\tx\t891717750\n"  # unreadable rating: landed as a watch without watch_ms
    )
    (folder / "u.item").write_text(
        "10|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
        "11|Alien (1979)|01-Jan-1979||http://y|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0|0\n",
        encoding="latin-1",
    )
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    return folder


def test_movielens(tmp_path):
    settings = lake_settings(tmp_path)
    summary = import_movielens(settings, _movielens(tmp_path / "ml-100k"), arrival=ARRIVAL)
    assert summary.records == {"users": 2, "videos": 2, "events": 6}
    assert all("/date=2026-11-20/hour=09/" in f for f in summary.files)

    users = {u["user_id"]: u for u in _landed(settings, "users")}
    assert sorted(users) == [1, 2]  # the raters only: no user is made for a creator
    assert (users[1]["age_band"], users[2]["age_band"]) == ("18-24", "45+")
    assert users[1]["signup_time"] == "1997-12-04T15:55:49.000Z"  # first rating

    videos = {v["video_id"]: v for v in _landed(settings, "videos")}
    assert [v["creator_id"] for v in videos.values()] == [None, None]  # landed as explicit nulls
    assert videos[10]["hashtags"] == ["animation", "childrens", "comedy"]
    assert videos[11]["hashtags"] == ["action", "scifi"]
    assert videos[10]["created_at"] == "1995-01-01T00:00:00.000Z"

    events = sorted(
        (
            e["event_id"],
            e["event_type"],
            e["user_id"],
            e["video_id"],
            e.get("watch_ms"),
            e["event_time"],
        )
        for e in _landed(settings, "events")
    )
    t1, t2, t3, t4 = (
        "1997-12-04T15:55:49.000Z",
        "1997-12-04T15:56:00.000Z",
        "1998-04-04T19:22:22.000Z",
        "1998-04-04T19:22:30.000Z",
    )
    assert events == sorted(
        [
            (f"movielens:1:10:{t1}:watch", "watch", 1, 10, 60000, t1),  # 5 stars
            (f"movielens:1:10:{t1}:like", "like", 1, 10, None, "1997-12-04T15:55:50.000Z"),
            (f"movielens:1:10:{t1}:share", "share", 1, 10, None, "1997-12-04T15:55:51.000Z"),
            (f"movielens:1:11:{t2}:skip", "skip", 1, 11, 12000, t2),  # 1 star
            (f"movielens:2:10:{t3}:watch", "watch", 2, 10, 36000, t3),  # 3 stars
            (f"movielens:2:11:{t4}:watch", "watch", 2, 11, None, t4),  # rating 'x': no watch_ms
        ]
    )

    # importing the same folder again in the same hour rewrites the same files
    again = import_movielens(settings, tmp_path / "ml-100k", arrival=ARRIVAL)
    assert sorted(again.files) == sorted(summary.files)
    assert len(_landed(settings, "events")) == 6


def test_kuairec(tmp_path):
    settings = lake_settings(tmp_path)
    path = tmp_path / "small_matrix.csv"
    path.write_text(
        "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio\n"
        "14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.722103\n"
        "14,183,1000,11000,2020-07-05 05:28:00.375,20200705.0,1593898080.375,0.090909\n"
        "19,148,9000,6067,2020-07-06 01:00:00.000,20200706.0,,1.483435\n"
        "19,183,500,,,,,\n"
    )
    summary = import_kuairec(settings, path, arrival=ARRIVAL)
    assert summary.records == {"events": 4, "users": 2, "videos": 2}
    events = {(e["user_id"], e["video_id"]): e for e in _landed(settings, "events")}
    assert events[(14, 148)]["event_type"] == "watch"
    assert events[(14, 148)]["watch_ms"] == 4381
    assert events[(14, 148)]["event_time"] == "2020-07-04T21:27:48.378Z"  # from timestamp
    assert events[(14, 183)]["event_type"] == "skip"  # watch_ratio 0.09 <= 0.2
    assert events[(19, 148)]["event_time"] == "2020-07-06T01:00:00.000Z"  # from time
    assert events[(19, 183)]["event_time"] is None  # no time at all: the ingest quarantines it
    videos = {v["video_id"]: v for v in _landed(settings, "videos")}
    assert videos[148]["duration_ms"] == 6067 and videos[183]["duration_ms"] == 11000
    assert {u["user_id"] for u in _landed(settings, "users")} == {14, 19}
    assert {v["creator_id"] for v in videos.values()} == {None}


def test_csv_weight_completion_and_implicit(tmp_path):
    settings = lake_settings(tmp_path)
    weights = tmp_path / "ratings.csv"
    weights.write_text(
        "userId,movieId,rating,timestamp\n1,5,10,1700000000\n2,5,2,2023-11-14T22:13:20Z\n"
    )
    s1 = import_csv(settings, weights, rating_scale=10, arrival=ARRIVAL)
    assert s1.records["events"] == 4  # 10/10: watch + like + share; 2/10: skip
    completion = tmp_path / "completion.csv"
    completion.write_text(
        "user,item,timestamp,completion\n3,6,1700000100000,1.5\nx,6,1700000200,0.1\n"
    )
    s2 = import_csv(settings, completion, arrival=ARRIVAL)
    implicit = tmp_path / "implicit.csv"
    implicit.write_text("user_id,item_id,ts\n4,7,1700000300\n")
    s3 = import_csv(settings, implicit, arrival=ARRIVAL)
    assert (s2.records["events"], s3.records["events"]) == (2, 1)
    assert {u["user_id"] for u in _landed(settings, "users")} == {1, 2, 3, 4, "x"}
    assert {v["creator_id"] for v in _landed(settings, "videos")} == {None}
    got = sorted(
        (str(e["user_id"]), e["video_id"], e["event_type"], e.get("watch_ms"), e["event_time"])
        for e in _landed(settings, "events")
    )
    assert got == [
        ("1", 5, "like", None, "2023-11-14T22:13:21.000Z"),
        ("1", 5, "share", None, "2023-11-14T22:13:22.000Z"),
        ("1", 5, "watch", 60000, "2023-11-14T22:13:20.000Z"),
        ("2", 5, "skip", 12000, "2023-11-14T22:13:20.000Z"),
        ("3", 6, "watch", 90000, "2023-11-14T22:15:00.000Z"),  # epoch ms; loops kept
        ("4", 7, "watch", 60000, "2023-11-14T22:18:20.000Z"),  # implicit: a complete watch
        ("x", 6, "skip", 6000, "2023-11-14T22:16:40.000Z"),  # bad id landed as it is
    ]


def test_csv_needs_its_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="needs columns user, item, timestamp"):
        import_csv(lake_settings(tmp_path), bad)


def test_rating_mapping_table():
    kinds = {
        stars: [
            e["event_type"] for e in rating_events("t", 1, 2, "2020-01-01T00:00:00.000Z", stars / 5)
        ]
        for stars in range(1, 6)
    }
    assert kinds == {
        1: ["skip"],
        2: ["watch"],
        3: ["watch"],
        4: ["watch", "like"],
        5: ["watch", "like", "share"],
    }


def test_import_cli_json(tmp_path, monkeypatch):
    from cli import main
    from fyplake.config import reload_settings

    monkeypatch.setenv("FYP_LAKE", str(tmp_path / "lake"))
    reload_settings()
    try:
        folder = _movielens(tmp_path / "ml")
        res = CliRunner().invoke(main, ["import", "movielens", str(folder), "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["records"]["events"] == 6
        res = CliRunner().invoke(main, ["import", "movielens", str(tmp_path / "nope")])
        assert res.exit_code != 0
    finally:
        monkeypatch.delenv("FYP_LAKE")
        reload_settings()


@pytest.mark.slow
def test_imported_logs_go_through_the_lake(spark, tmp_path):
    """All three formats into one lake (ids kept apart by offsets), then the gated pipeline:
    every landed record is accepted or quarantined with the reason the importer could not fix."""
    from pyspark.sql import functions as F

    from fyplake import catalog, delta_io
    from orchestration.inprocess import run_tasks
    from orchestration.tasks import LAKE_TASKS

    settings = lake_settings(tmp_path)
    import_movielens(settings, _movielens(tmp_path / "ml-100k"), arrival=ARRIVAL)
    kuai = tmp_path / "small_matrix.csv"
    kuai.write_text(
        "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio\n"
        "14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.722103\n"
        "19,148,500,6067,,,,\n"
    )
    import_kuairec(settings, kuai, id_offset=1000, arrival=ARRIVAL)
    log = tmp_path / "log.csv"
    log.write_text("user,item,timestamp,weight\n1,5,1700000000,4\n")
    import_csv(settings, log, id_offset=2000, arrival=ARRIVAL)

    out = run_tasks(LAKE_TASKS, ARRIVAL.date(), spark=spark, settings=settings)
    ing = out["ingest"]
    assert ing["lines"] == ing["accepted"] + ing["quarantined"]
    q = delta_io.read_table(spark, catalog.QUARANTINE_EVENTS, settings=settings)
    assert sorted((r["entity"], r["reason"]) for r in q.collect()) == [
        ("events", "missing_field: event_time"),  # the KuaiRec row without any time
        ("events", "missing_field: watch_ms (required for watch)"),  # MovieLens rating 'x'
    ]
    bronze = delta_io.read_table(spark, catalog.BRONZE_EVENTS, settings=settings)
    assert bronze.count() == 5 + 1 + 2  # MovieLens 5, KuaiRec 1, CSV watch + like
    assert {r["source"] for r in bronze.select("source").distinct().collect()} == {
        "movielens",
        "kuairec",
        "csv",
    }
    # events keep their original dates (late relative to the arrival day)
    dates = {str(r[0]) for r in bronze.select("event_date").distinct().collect()}
    assert dates == {"1997-12-04", "1998-04-04", "2020-07-04", "2023-11-14"}
    gold = delta_io.read_table(spark, catalog.GOLD_VIDEO_DAILY_STATS, settings=settings)
    assert gold.where(F.col("date") == F.lit(dt.date(1997, 12, 4))).count() == 2


def _movielens_world(folder: Path, users: int = 8, movies: int = 10) -> Path:
    """A MovieLens-format folder: every user rates 5 of the movies over three days of 1998."""
    folder.mkdir(parents=True)
    t0 = 891_000_000  # 1998-03-27
    ratings = [
        f"{u}\t{(u * 3 + k) % movies + 1}\t{(u + k) % 5 + 1}\t{t0 + 86_400 * (k % 3) + u * 60}"
        for u in range(1, users + 1)
        for k in range(5)
    ]
    (folder / "u.data").write_text("\n".join(ratings) + "\n")
    flags = ["|".join("1" if g == m % 19 else "0" for g in range(19)) for m in range(movies)]
    items = [f"{m + 1}|Movie {m + 1}|01-Jan-1995||http://x|{flags[m]}" for m in range(movies)]
    (folder / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")
    (folder / "u.user").write_text(
        "".join(f"{u}|{18 + 4 * u}|M|other|0000{u}\n" for u in range(1, users + 1))
    )
    return folder


@pytest.mark.slow
def test_an_imported_log_gives_one_feed_per_user_and_no_creator(spark, tmp_path):
    """MovieLens-format file -> import -> lake -> nightly: imported movies have no creator (no
    pseudo-user is made for one), so the lake has exactly the raters as users and the nightly
    writes one feed per user; every movie is its own for creator diversity and none has a
    creator list, affinity or creator score of its own."""
    from pyspark.sql import functions as F

    from fyplake import catalog, delta_io
    from orchestration.inprocess import run_tasks
    from orchestration.tasks import LAKE_TASKS, NIGHTLY_TASKS, through

    settings = lake_settings(tmp_path)
    import_movielens(settings, _movielens_world(tmp_path / "ml"), arrival=ARRIVAL)
    run_tasks(LAKE_TASKS, ARRIVAL.date(), spark=spark, settings=settings)
    read = lambda spec: delta_io.read_table(spark, spec, settings=settings)  # noqa: E731
    assert sorted(r[0] for r in read(catalog.SILVER_USERS).select("user_id").collect()) == list(
        range(1, 9)
    )
    videos = read(catalog.SILVER_VIDEOS)
    assert videos.count() == 10 and videos.where(F.col("creator_id").isNotNull()).count() == 0

    ds = dt.date(1998, 3, 30)  # the day after the last rating
    run_tasks(through(NIGHTLY_TASKS, "ranking"), ds, spark=spark, settings=settings, gates=False)
    feeds = read(catalog.GOLD_FEEDS).where(F.col("ds") == F.lit(ds))
    assert sorted(r[0] for r in feeds.select("user_id").distinct().collect()) == list(range(1, 9))
    creators = read(catalog.GOLD_CREATOR_TOP).where(F.col("ds") == F.lit(ds))
    assert creators.count() == 0
    affinities = read(catalog.GOLD_USER_AFFINITIES).where(F.col("kind") == "creator")
    assert affinities.count() == 0
    features = read(catalog.GOLD_VIDEO_FEATURES).where(F.col("ds") == F.lit(ds))
    assert {r[0] for r in features.select("creator_score").distinct().collect()} == {1.0}
