"""Offline evaluation pieces: hold-out splits, metrics at k, baselines."""

from __future__ import annotations

import datetime as dt
import math

from pyspark.testing import assertDataFrameEqual

from jobs.recsys import cowatch, evaluation

WATCH = (
    "event_id string, user_id bigint, video_id bigint, completion_rate double, liked boolean, "
    "shared boolean, commented boolean, skipped boolean, event_time timestamp"
)


def _watch(spark, rows):
    return spark.createDataFrame(rows, WATCH)


def _ev(eid, user, video, minute, completion=0.9, skipped=False, liked=False):
    return (eid, user, video, completion, liked, False, False, skipped,
            dt.datetime(2026, 11, 1, 10, minute))


def test_time_holdout_keeps_each_users_last_events(spark):
    rows = [_ev(f"a{i}", 1, 10 + i, i) for i in range(5)]  # 5 events: the last one held out
    rows += [_ev("b0", 2, 10, 0)]  # a single event stays in training
    rows += [_ev(f"c{i}", 3, 20 + i, 9 - i) for i in range(10)]  # 10 events: 2 held out
    train, test = evaluation.split_holdout(_watch(spark, rows), method="time", fraction=0.2, seed=1)
    assert sorted(r["event_id"] for r in test.collect()) == ["a4", "c0", "c1"]
    assert train.count() == 13


def test_random_holdout_is_seeded_and_complete(spark):
    rows = [_ev(f"e{i}", i % 7, i, i % 60) for i in range(200)]
    w = _watch(spark, rows)
    tr1, te1 = evaluation.split_holdout(w, method="random", fraction=0.25, seed=5)
    tr2, te2 = evaluation.split_holdout(w, method="random", fraction=0.25, seed=5)
    ids1 = {r["event_id"] for r in te1.collect()}
    assert ids1 == {r["event_id"] for r in te2.collect()}
    assert 20 < len(ids1) < 80
    assert ids1.isdisjoint({r["event_id"] for r in tr1.collect()})
    assert tr1.count() + len(ids1) == 200


def test_positives_are_engaged_watches(spark):
    rows = [
        _ev("1", 1, 10, 0, completion=0.9),
        _ev("2", 1, 11, 1, completion=0.2),
        _ev("3", 1, 12, 2, completion=0.2, liked=True),
        _ev("4", 1, 13, 3, completion=0.05, skipped=True),
    ]
    got = evaluation.positives(_watch(spark, rows), min_completion=0.5)
    assertDataFrameEqual(got, spark.createDataFrame([(1, 10), (1, 12)], "user_id bigint, video_id bigint"))


def test_ranking_metrics_at_k(spark):
    recs = spark.createDataFrame(
        [(1, 10, 1), (1, 11, 2), (1, 12, 3), (1, 13, 4), (2, 20, 1)],
        "user_id bigint, video_id bigint, rank int",
    )
    truth = spark.createDataFrame(
        [(1, 11), (1, 13), (2, 20), (3, 30)], "user_id bigint, video_id bigint"
    )
    got = evaluation.ranking_metrics(recs, truth, k=3).first().asDict()
    # user 1: one hit at rank 2 of 2 relevant (13 is below k); user 2: perfect; user 3: no recs
    ndcg1 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert got["users"] == 3
    assert math.isclose(got["precision"], (1 / 3 + 1 / 3 + 0) / 3)
    assert math.isclose(got["recall"], (0.5 + 1 + 0) / 3)
    assert math.isclose(got["ndcg"], (ndcg1 + 1 + 0) / 3)
    assert math.isclose(got["map"], (0.5 / 2 + 1 + 0) / 3)


def test_most_popular_and_cooccurrence_baselines(spark):
    train_pos = spark.createDataFrame(
        [(1, 10), (1, 11), (2, 10), (2, 11), (3, 10), (3, 12), (4, 12)],
        "user_id bigint, video_id bigint",
    )
    users = spark.createDataFrame([(1,), (2,), (3,), (4,), (5,)], "user_id bigint")
    ready = spark.createDataFrame([(10,), (11,), (12,)], "video_id bigint")
    pop = evaluation.most_popular(train_pos, users, train_pos, ready, k=2)
    assertDataFrameEqual(
        pop.select("user_id", "video_id", "rank"),
        spark.createDataFrame(
            [(1, 12, 1), (2, 12, 1), (3, 11, 1), (4, 10, 1), (4, 11, 2), (5, 10, 1), (5, 11, 2)],
            "user_id bigint, video_id bigint, rank int",
        ),
    )
    train = spark.createDataFrame(
        [(u, v, dt.datetime(2026, 11, 1, 10, i), 1.0, False, False, False, False)
         for i, (u, v) in enumerate([(1, 10), (1, 11), (2, 10), (2, 11), (3, 10), (3, 12), (4, 12)])],
        "user_id bigint, video_id bigint, event_time timestamp, completion_rate double, "
        "liked boolean, shared boolean, commented boolean, skipped boolean",
    )
    recent = cowatch.recent_positives(train, 0.5, history=50)
    neighbours = cowatch.item_neighbours(recent, ready, k=50)
    co = evaluation.item_cooccurrence(recent, neighbours, train_pos, k=2)
    # sim(10,11) = 2/sqrt(3*2), sim(10,12) = 1/sqrt(3*2): user 4 (history 12) -> 10 only
    assertDataFrameEqual(
        co.select("user_id", "video_id", "rank"),
        spark.createDataFrame(
            [(1, 12, 1), (2, 12, 1), (3, 11, 1), (4, 10, 1)], "user_id bigint, video_id bigint, rank int"
        ),
    )
