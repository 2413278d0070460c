"""The learned ranker (jobs/recsys/learned.py): labels only from the window after the as-of
date, training features only from before it, the model's round trip through the lake, the
learned scoring path's feed invariants, and the fallback on a tiny world.

One small generated world (16 users, 30 videos, four days) is shared by the module; its
engine stages run in memory (a few seconds each), the fallback test runs the nightly jobs on a
real Delta lake of its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from lakehelpers import lake_settings
from pyspark.sql import functions as F
from pyspark.sql.types import StructType
from pyspark.testing import assertDataFrameEqual

from fyplake import catalog, delta_io, report
from jobs.recsys import learned, pipeline
from jobs.recsys.common import as_of_epoch
from jobs.recsys.params import RecParams
from orchestration.inprocess import run_tasks
from orchestration.tasks import NIGHTLY_TASKS, through

DS = dt.date(2026, 11, 10)
T_PRIME = DS - dt.timedelta(days=1)
T0 = dt.datetime(2026, 11, 1, 8)
TAGS = ["dance", "food", "cats", "cars", "music"]
#: Thresholds lowered for a 16-user world (the defaults say "too little history" here).
P = RecParams(
    cold_start_min=3,
    cold_start_full=5,
    ranker_min_users=2,
    ranker_min_positives_per_feature=0.01,
    ranker_rounds=8,
    ranker_validation_share=0.3,
    ranker_negatives=50,
)


def _user(uid: int) -> tuple:
    return (uid, ["18-24", "25-34"][uid % 2], ["US", "DE"][uid % 3 == 0], "en", False, T0, T0)


def _video(vid: int) -> tuple:
    tags = [TAGS[vid % 5], TAGS[(vid // 5) % 5]]
    return (
        vid,
        900 + vid % 4,
        15_000,
        f"clip {vid}",
        None,
        tags,
        50 + vid % 3,
        "en",
        "ready",
        T0,
        T0,
    )


def _watch(
    eid: str,
    uid: int,
    vid: int,
    when: dt.datetime,
    completion: float,
    liked: bool = False,
    skipped: bool = False,
) -> tuple:
    return (
        eid,
        uid,
        vid,
        None,
        int(15_000 * completion),
        15_000,
        completion,
        liked,
        False,
        False,
        skipped,
        when,
        when.date(),
    )


def _world_events(seed: int = 5) -> list[tuple]:
    """Each user likes the videos of one tag (its taste) and skips others: three days of
    history up to T', then a day of label-window events on videos not yet watched."""
    rng = np.random.default_rng(seed)
    out = []
    for uid in range(1, 17):
        taste = TAGS[uid % 5]
        order = rng.permutation(np.arange(100, 130))
        for j, vid in enumerate(order[:16]):
            day = dt.date(2026, 11, 7) + dt.timedelta(
                days=int(j >= 6) + int(j >= 11) + int(j >= 13)
            )
            when = dt.datetime(day.year, day.month, day.day, 9 + j % 10, uid)
            fit = taste in _video(int(vid))[5]
            out.append(
                _watch(
                    f"u{uid}v{vid}",
                    uid,
                    int(vid),
                    when,
                    0.9 if fit else 0.2,
                    liked=fit and j % 2 == 0,
                    skipped=not fit and j % 3 == 0,
                )
            )
    return out


def _silver(spark, events) -> pipeline.Silver:
    def frame(spec, rows):
        return spark.createDataFrame(list(rows), StructType.fromDDL(spec.schema))

    vids = frame(catalog.SILVER_VIDEOS, [_video(v) for v in range(100, 130)])
    ev = frame(catalog.SILVER_WATCH_HISTORY, events)
    ev = ev.join(vids.select("video_id", F.col("creator_id").alias("_c")), "video_id", "left")
    return pipeline.Silver(
        watch=ev.withColumn("creator_id", F.col("_c")).select(
            *catalog.SILVER_WATCH_HISTORY.columns
        ),
        users=frame(catalog.SILVER_USERS, [_user(u) for u in range(1, 17)]),
        videos=vids,
        follows=frame(catalog.SILVER_FOLLOWS, []),
    )


def _rows(data: learned.TrainingData) -> dict[tuple[int, int], tuple]:
    out = {}
    for r in data.rows.select("user_id", "video_id", "label", "features").collect():
        out[(r["user_id"], r["video_id"])] = (r["label"], tuple(r["features"]))
    return out


@pytest.fixture(scope="module")
def world(spark):
    silver = _silver(spark, _world_events())
    prep, gold = learned.gold_as_of(silver, T_PRIME, P)
    data = learned.training_data(silver.watch, prep, P, gold, DS)
    # materialised once: every test that fits would otherwise re-run the engine's whole
    # lineage as of T' (and its broadcasts) again
    rows = data.rows.localCheckpoint(eager=True)
    return silver, dataclasses.replace(data, rows=rows)


def test_labels_come_only_from_the_window_and_grade_the_engagement(spark):
    """Label window [end of T', end of ds): an impression just before it or after it does not
    count; like/share/comment 3, a watch to the completion threshold 2, a shorter one 1, a
    skip 0; a video shown twice keeps its best grade."""
    start, end = as_of_epoch(T_PRIME), as_of_epoch(DS)
    t = lambda s: dt.datetime.fromtimestamp(s, dt.UTC).replace(tzinfo=None)  # noqa: E731
    events = [
        _watch("before", 1, 100, t(start - 1), 1.0, liked=True),  # T' itself: a feature, no label
        _watch("first", 1, 101, t(start), 0.9),
        _watch("short", 1, 102, t(start + 60), 0.3),
        _watch("skip", 1, 103, t(start + 120), 0.05, skipped=True),
        _watch("like", 2, 101, t(end - 1), 0.1, liked=True),
        _watch("again1", 2, 104, t(start + 10), 0.2),
        _watch("again2", 2, 104, t(start + 20), 0.8),
        _watch("after", 2, 105, t(end), 1.0, liked=True),  # after ds: not known yet
    ]
    watch = spark.createDataFrame(events, StructType.fromDDL(catalog.SILVER_WATCH_HISTORY.schema))
    got = learned.labels(watch, start, end, completion=0.5)
    expected = spark.createDataFrame(
        [(1, 101, 2), (1, 102, 1), (1, 103, 0), (2, 101, 3), (2, 104, 2)],
        "user_id bigint, video_id bigint, label int",
    )
    assertDataFrameEqual(got, expected)


def test_random_labels_hold_out_a_seeded_slice_that_the_history_never_sees(spark, world):
    """``train_random``'s split (``fyp evaluate --holdout random``): history and held-out
    impressions partition the watch history, the same seed draws the same slice, and the
    slice is about the asked share."""
    watch = world[0].watch
    hist, held = learned.random_label_split(watch, 0.2, seed=5)
    again, _ = learned.random_label_split(watch, 0.2, seed=5)
    key = ["user_id", "video_id", "event_time"]
    n, n_hist, n_held = watch.count(), hist.count(), held.count()
    assert n_hist + n_held == n and n_held > 0
    assert hist.join(held, key, "left_semi").count() == 0
    assertDataFrameEqual(hist, again)
    assert abs(n_held / n - 0.2) < 0.05, n_held / n


def test_training_rows_use_nothing_from_after_the_as_of_date(spark, world):
    """The same world plus engagement after T' that would move every feature if it leaked
    (everyone likes video 100 many times: its popularity, quality, co-engagement; every user's
    history grows): the training rows' features are identical, only labels may change; and no
    candidate is a video the user watched before T' (no label from before the window)."""
    silver, data = world
    extra = []
    for uid in range(1, 17):
        for k in range(6):
            when = dt.datetime(2026, 11, 10, 12 + k, uid)
            vid = 100 if k == 0 else 100 + (uid * 7 + k) % 30
            extra.append(_watch(f"x{uid}-{k}", uid, vid, when, 1.0, liked=True))
    silver2 = _silver(spark, _world_events() + extra)
    prep2, gold2 = learned.gold_as_of(silver2, T_PRIME, P)
    data2 = learned.training_data(silver2.watch, prep2, P, gold2, DS)
    a, b = _rows(data), _rows(data2)
    common = set(a) & set(b)
    assert len(common) > 100
    assert all(a[k][1] == b[k][1] for k in common), "a feature changed with post-T' events"
    assert any(a[k][0] != b[k][0] for k in common), "the extra events should change labels"
    before = {(e[1], e[2]) for e in _world_events() if e[11] < dt.datetime(2026, 11, 10)}
    assert not set(a) & before
    assert {k[0] for k in a if a[k][0] > 0}, "some users have positive labels"


def test_model_round_trips_through_the_lake(spark, world, tmp_path):
    """Train, save in the lake with a gold.models row, load the newest accepted model back:
    the same booster, identical predictions."""
    _silver_, data = world
    res = learned.fit(data, P.replace(ranker_validation_share=0.3), DS)
    assert res.model is not None, res.reason
    assert res.counts["users"] >= 10 and res.counts["positives"] > 0
    assert {"ndcg_model", "ndcg_design", "ndcg_hybrid", "ndcg_diff"} <= set(res.metrics)
    settings = lake_settings(tmp_path)
    path = learned.model_path(settings, res.model.model_id)
    learned.save(res, path)
    res.status = "accepted"  # whatever validation said: the round trip is what is tested
    delta_io.upsert_rows(
        spark,
        [learned.models_row(res, DS, P, {"silver.users": 0}, path)],
        catalog.GOLD_MODELS,
        settings=settings,
    )
    models = delta_io.read_table(spark, catalog.GOLD_MODELS, settings=settings)
    loaded, note = learned.latest_model(models, DS + dt.timedelta(days=3))
    assert loaded is not None, note
    assert loaded.model_id == res.model.model_id and loaded.vocab == res.model.vocab
    x = np.stack([np.asarray(r["features"], np.float32) for r in data.rows.collect()])
    np.testing.assert_array_equal(loaded.predict(x), res.model.predict(x))
    before, why = learned.latest_model(models, DS - dt.timedelta(days=1))
    assert before is None and "no ranker" in why


def test_learned_scoring_gives_feeds_with_the_formula_paths_invariants(spark, world):
    """The model ranks the same candidates as the formula (one fused pass, two variants):
    every user's feed is ranked 1..n with no duplicate and nothing already watched, and the
    learned feed is not the formula's feed under another name."""
    silver, data = world
    res = learned.fit(data, P, DS)
    assert res.model is not None, res.reason
    out = pipeline.build_all(
        silver, DS, P, variants={"learned": "learned", "design": "design"}, model=res.model
    )
    rows = out["feeds"].select("model", "user_id", "rank", "video_id").collect()
    watched = {(e[1], e[2]) for e in _world_events()}
    feeds: dict[tuple[str, int], list] = {}
    for r in sorted(rows, key=lambda r: (r["model"], r["user_id"], r["rank"])):
        feeds.setdefault((r["model"], r["user_id"]), []).append(r)
    assert {m for m, _ in feeds} == {"learned", "design"}
    for (_model, uid), feed in feeds.items():
        ids = [r["video_id"] for r in feed]
        assert [r["rank"] for r in feed] == list(range(1, len(feed) + 1))
        assert len(ids) == len(set(ids))
        assert not {(uid, v) for v in ids} & watched
    users = {u for _, u in feeds}
    assert {u for m, u in feeds if m == "learned"} == users
    differs = [
        u
        for u in users
        if [r["video_id"] for r in feeds[("learned", u)]]
        != [r["video_id"] for r in feeds[("design", u)]]
    ]
    assert differs


def test_fallback_on_a_tiny_world_then_the_rank_job_scores_with_a_model(spark, world, tmp_path):
    """rec_ranker=learned on a world far below the training thresholds: train_ranker records
    a skipped gold.models row with its reason, the rank job says the fallback formula ranked
    (result, gold.runs params) and writes every user's feed. Then an accepted model in
    gold.models: the rank job (materialised candidates, Arrow batches) scores with it."""
    settings = lake_settings(tmp_path, rec_ranker="learned")
    # the model for the second part, fitted first: each task run releases what was cached (as
    # the end of a DAG task's Spark application does), the module world's checkpointed rows too
    res = learned.fit(world[1], P, DS)
    assert res.model is not None, res.reason
    tiny = _silver(spark, _world_events())
    for spec, df in (
        (catalog.SILVER_WATCH_HISTORY, tiny.watch),
        (catalog.SILVER_USERS, tiny.users),
        (catalog.SILVER_VIDEOS, tiny.videos),
        (catalog.SILVER_FOLLOWS, tiny.follows),
    ):
        df.write.format("delta").mode("overwrite").save(spec.path(settings))
    engine = through(NIGHTLY_TASKS, "ranking")
    results = run_tasks(engine, DS, spark=spark, settings=settings, gates=False)
    trained = results["train_ranker"]
    assert trained["status"] == "skipped" and "rec_ranker_min_users 200" in trained["reason"]
    assert results["ranking"]["ranker_used"] == "design" and results["ranking"]["model_id"] is None
    models = delta_io.read_table(spark, catalog.GOLD_MODELS, settings=settings).collect()
    assert [(r["ds"], r["status"], r["path"]) for r in models] == [(DS, "skipped", None)]
    runs = delta_io.read_table(spark, catalog.GOLD_RUNS, settings=settings)
    rank_run = runs.where(F.col("job") == "rank").first()
    assert '"ranker_used": "design"' in rank_run["params"]
    shown = report.last_ranker(settings)  # what `fyp demo` prints
    assert (shown["ranker_used"], shown["model_id"], shown["ds"]) == ("design", None, str(DS))
    assert shown["ranker_note"]  # why the fallback ranked
    feeds = delta_io.read_table(spark, catalog.GOLD_FEEDS, settings=settings).where(
        F.col("ds") == DS
    )
    assert {r["user_id"] for r in feeds.select("user_id").distinct().collect()} == set(range(1, 17))
    # an accepted model of ds: the same job ranks with it
    path = learned.model_path(settings, res.model.model_id)
    learned.save(res, path)
    res.status = "accepted"
    delta_io.upsert_rows(
        spark, [learned.models_row(res, DS, P, {}, path)], catalog.GOLD_MODELS, settings=settings
    )
    from jobs.nightly import rank

    ranked = rank.run(spark, settings, DS)
    assert ranked["ranker_used"] == "learned" and ranked["model_id"] == res.model.model_id
    rows = (
        delta_io.read_table(spark, catalog.GOLD_FEEDS, settings=settings)
        .where(F.col("ds") == DS)
        .select("user_id", "rank", "video_id")
        .collect()
    )
    watched = {(e[1], e[2]) for e in _world_events()}
    feeds: dict[int, list] = {}
    for r in sorted(rows, key=lambda r: (r["user_id"], r["rank"])):
        feeds.setdefault(r["user_id"], []).append(r["video_id"])
    assert set(feeds) == set(range(1, 17))
    for uid, ids in feeds.items():
        assert len(ids) == len(set(ids)) and not {(uid, v) for v in ids} & watched
