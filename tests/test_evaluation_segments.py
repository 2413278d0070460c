"""Offline metrics per user segment in one pass (the evaluation's cold/blend/warm buckets)."""

from __future__ import annotations

import math

from pyspark.testing import assertDataFrameEqual

from jobs.recsys import evaluation

RECS = "model string, user_id bigint, video_id bigint, rank int"
OUT = (
    "model string, segment string, users bigint, precision double, recall double, ndcg double, "
    "map double"
)


def test_ranking_metrics_per_segment(spark):
    recs = spark.createDataFrame(
        [
            ("a", 1, 10, 1),
            ("a", 1, 11, 2),  # user 1: the relevant video at rank 2
            ("a", 3, 30, 1),
            ("a", 3, 31, 2),  # user 3: both relevant videos on top
            ("a", 5, 50, 1),  # user 5 is in no segment: left out
            ("b", 1, 11, 1),  # model b recommends to user 1 only
        ],
        RECS,
    )
    truth = spark.createDataFrame(
        [(1, 11), (2, 20), (3, 30), (3, 31), (5, 50)], "user_id bigint, video_id bigint"
    )
    segments = spark.createDataFrame(
        [(1, "cold"), (2, "cold"), (3, "warm"), (4, "warm")], "user_id bigint, segment string"
    )
    got = evaluation.ranking_metrics(recs, truth, k=2, segments=segments)
    g = 1 / math.log2(3)  # the gain of a hit at rank 2
    expected = spark.createDataFrame(
        [
            # cold: user 1 (hit at rank 2 of 1 relevant) and user 2 (no recommendations)
            ("a", "cold", 2, (0.5 + 0) / 2, (1 + 0) / 2, (g + 0) / 2, (0.5 + 0) / 2),
            ("b", "cold", 2, (0.5 + 0) / 2, (1 + 0) / 2, (1 + 0) / 2, (1 + 0) / 2),
            # warm: user 3 only (user 4 has nothing relevant); model b has no warm user
            ("a", "warm", 1, 1.0, 1.0, 1.0, 1.0),
        ],
        OUT,
    )
    assertDataFrameEqual(got.select(*expected.columns), expected)


def test_segments_equal_metrics_on_each_segments_users(spark):
    """The one-pass form gives what the metrics give on inputs restricted to each segment."""
    rows = [("m", u, 100 + (u * 7 + r) % 13, r) for u in range(1, 13) for r in range(1, 6)]
    rows += [("p", u, 100 + r, r) for u in range(1, 13, 2) for r in range(1, 6)]
    recs = spark.createDataFrame(rows, RECS)
    truth = spark.createDataFrame(
        [(u, 100 + (u * 3 + j) % 13) for u in range(1, 14) for j in range(u % 3 + 1)],
        "user_id bigint, video_id bigint",
    ).distinct()
    segments = spark.createDataFrame(
        [(u, ("cold", "blend", "warm")[u % 3]) for u in range(1, 13)],
        "user_id bigint, segment string",
    )
    got = evaluation.ranking_metrics(recs, truth, k=3, segments=segments)
    for name in ("cold", "blend", "warm"):
        ids = segments.where(segments.segment == name).select("user_id")
        one = evaluation.ranking_metrics(
            recs.join(ids, "user_id", "left_semi"), truth.join(ids, "user_id", "left_semi"), k=3
        )
        assertDataFrameEqual(
            got.where(got.segment == name).drop("segment"), one, checkRowOrder=False
        )
