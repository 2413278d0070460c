"""Offline evaluation pieces: hold-out splits, metrics at k with standard errors, the paired
difference, candidate recall, the most-popular and item-kNN baselines."""

from __future__ import annotations

import datetime as dt
import math

from pyspark.testing import assertDataFrameEqual

from jobs.recsys import baselines, cowatch, evaluation

WATCH = (
    "event_id string, user_id bigint, video_id bigint, completion_rate double, liked boolean, "
    "shared boolean, commented boolean, skipped boolean, event_time timestamp"
)


def _watch(spark, rows):
    return spark.createDataFrame(rows, WATCH)


def _ev(eid, user, video, minute, completion=0.9, skipped=False, liked=False):
    return (
        eid,
        user,
        video,
        completion,
        liked,
        False,
        False,
        skipped,
        dt.datetime(2026, 11, 1, 10, minute),
    )


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
    assertDataFrameEqual(
        got, spark.createDataFrame([(1, 10), (1, 12)], "user_id bigint, video_id bigint")
    )


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
    pop = baselines.most_popular(train_pos, users, train_pos, ready, k=2)
    assertDataFrameEqual(
        pop.select("user_id", "video_id", "rank"),
        spark.createDataFrame(
            [(1, 12, 1), (2, 12, 1), (3, 11, 1), (4, 10, 1), (4, 11, 2), (5, 10, 1), (5, 11, 2)],
            "user_id bigint, video_id bigint, rank int",
        ),
    )
    train = spark.createDataFrame(
        [
            (u, v, dt.datetime(2026, 11, 1, 10, i), 1.0, False, False, False, False)
            for i, (u, v) in enumerate(
                [(1, 10), (1, 11), (2, 10), (2, 11), (3, 10), (3, 12), (4, 12)]
            )
        ],
        "user_id bigint, video_id bigint, event_time timestamp, completion_rate double, "
        "liked boolean, shared boolean, commented boolean, skipped boolean",
    )
    recent = cowatch.recent_positives(train, 0.5, history=50)
    neighbours = cowatch.item_neighbours(recent, ready, k=50)
    co = baselines.item_cooccurrence(recent, neighbours, train_pos, k=2)
    # sim(10,11) = 2/sqrt(3*2), sim(10,12) = 1/sqrt(3*2): user 4 (history 12) -> 10 only
    assertDataFrameEqual(
        co.select("user_id", "video_id", "rank"),
        spark.createDataFrame(
            [(1, 12, 1), (2, 12, 1), (3, 11, 1), (4, 10, 1)],
            "user_id bigint, video_id bigint, rank int",
        ),
    )


# Three users, k = 2. Model a: user 1 gets its one relevant video at rank 2, user 2 both of its
# relevant videos on top, user 3 nothing relevant. Model b: user 1 perfect, user 2 one of two at
# rank 2, user 3 perfect. Expected values worked out by hand (g = 1 / log2(3) = 0.6309297536,
# the gain of a hit at rank 2; SE = sample standard deviation / sqrt(3)).
SE_RECS = [
    ("a", 1, 10, 1),
    ("a", 1, 11, 2),
    ("a", 1, 12, 3),
    ("a", 2, 20, 1),
    ("a", 2, 21, 2),
    ("a", 3, 30, 1),
    ("b", 1, 11, 1),
    ("b", 2, 22, 1),
    ("b", 2, 20, 2),
    ("b", 3, 31, 1),
]
SE_TRUTH = [(1, 11), (2, 20), (2, 21), (3, 31)]


def test_metric_means_and_standard_errors_by_hand(spark):
    recs = spark.createDataFrame(SE_RECS, "model string, user_id bigint, video_id bigint, rank int")
    truth = spark.createDataFrame(SE_TRUTH, "user_id bigint, video_id bigint")
    got = {r["model"]: r.asDict() for r in evaluation.ranking_metrics(recs, truth, k=2).collect()}
    expected = {
        # a: precision (0.5, 1, 0), recall (1, 1, 0), ndcg (g, 1, 0), map (0.5, 1, 0)
        "a": {
            "users": 3,
            "precision": 0.5,
            "precision_se": 0.2886751346,
            "recall": 0.6666666667,
            "recall_se": 0.3333333333,
            "ndcg": 0.5436432512,
            "ndcg_se": 0.2919555903,
            "map": 0.5,
            "map_se": 0.2886751346,
        },
        # b: precision (0.5, 0.5, 0.5), recall (1, 0.5, 1), ndcg (1, g / (1 + g), 1),
        # map (1, 0.25, 1)
        "b": {
            "users": 3,
            "precision": 0.5,
            "precision_se": 0.0,
            "recall": 0.8333333333,
            "recall_se": 0.1666666667,
            "ndcg": 0.7956176024,
            "ndcg_se": 0.2043823976,
            "map": 0.75,
            "map_se": 0.25,
        },
    }
    assert set(got) == set(expected)
    for model, exp in expected.items():
        for name, value in exp.items():
            assert math.isclose(got[model][name], value, abs_tol=1e-9), (model, name)


def test_paired_difference_is_the_mean_of_per_user_differences(spark):
    recs = spark.createDataFrame(SE_RECS, "model string, user_id bigint, video_id bigint, rank int")
    truth = spark.createDataFrame(SE_TRUTH, "user_id bigint, video_id bigint")
    per_user = evaluation.per_user_metrics(recs, truth, k=2)
    # per-user nDCG by hand: a = (g, 1, 0), b = (1, g / (1 + g), 1)
    g = 0.6309297536
    assertDataFrameEqual(
        per_user.where("model = 'b'").select("user_id", "ndcg"),
        spark.createDataFrame(
            [(1, 1.0), (2, g / (1 + g)), (3, 1.0)], "user_id bigint, ndcg double"
        ),
        rtol=1e-9,
    )
    got = evaluation.paired_differences(per_user, engine="a").collect()
    assert [r["model"] for r in got] == ["b"]
    # a - b per user: g - 1, 1 - g / (1 + g), -1; mean and sample SD / sqrt(3) by hand
    diffs = [g - 1, 1 - g / (1 + g), -1.0]
    assert got[0]["users"] == 3
    assert math.isclose(got[0]["ndcg"], sum(diffs) / 3, abs_tol=1e-9)
    assert math.isclose(got[0]["ndcg"], -0.2519743512, abs_tol=1e-9)
    assert math.isclose(got[0]["ndcg_se"], 0.4693415788, abs_tol=1e-9)


def test_candidate_recall_per_source_and_marginal(spark):
    truth = spark.createDataFrame(
        [(1, 10), (1, 11), (1, 12), (1, 13), (2, 20), (2, 21)], "user_id bigint, video_id bigint"
    )
    cands = spark.createDataFrame(
        [
            (1, 10, ["hashtag", "cowatch"]),
            (1, 11, ["hashtag"]),
            (1, 12, ["cowatch"]),
            (1, 14, ["trending"]),  # not relevant
            (2, 20, ["trending"]),
            (2, 22, ["hashtag"]),  # not relevant
        ],
        "user_id bigint, video_id bigint, sources array<string>",
    )
    got = evaluation.candidate_recall(cands, truth, ("hashtag", "cowatch", "trending", "sound"))
    # user 1 (4 relevant): any 3/4, hashtag 2/4 (only 11: 1/4), cowatch 2/4 (only 12: 1/4);
    # user 2 (2 relevant): any 1/2, trending 1/2 (only it: 1/2). Mean over the 2 users, and
    # SE = |x1 - x2| / 2 for two values.
    expected = spark.createDataFrame(
        [
            ("hashtag", 2, 0.25, 0.25, 0.125, 0.125),
            ("cowatch", 2, 0.25, 0.25, 0.125, 0.125),
            ("trending", 2, 0.25, 0.25, 0.25, 0.25),
            ("sound", 2, 0.0, 0.0, 0.0, 0.0),
            ("all", 2, 0.625, 0.125, 0.625, 0.125),
        ],
        "source string, users bigint, recall double, recall_se double, marginal double, "
        "marginal_se double",
    )
    assertDataFrameEqual(got, expected, checkRowOrder=False, rtol=1e-9)


def test_a_source_adds_nothing_measurable_when_its_marginal_recall_is_about_zero():
    assert evaluation.adds_nothing_measurable(0.0, 0.0)
    assert evaluation.adds_nothing_measurable(0.0005, 0.0001)  # below 0.1 %
    assert evaluation.adds_nothing_measurable(0.125, 0.125)  # within two standard errors of 0
    assert not evaluation.adds_nothing_measurable(0.05, 0.01)
    assert not evaluation.adds_nothing_measurable(None, None)
