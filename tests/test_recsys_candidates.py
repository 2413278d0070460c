"""Candidate generation on tiny inline frames: quotas, dedupe, watched and not-ready filters."""

from __future__ import annotations

from pyspark.testing import assertDataFrameEqual

from jobs.recsys import candidates

CAND = "user_id bigint, video_id bigint, source string, score double"


def test_followed_candidates_take_the_followed_creators_lists(spark):
    follows = spark.createDataFrame(
        [(1, 100), (1, 101), (2, 101)], "follower_id bigint, creator_id bigint"
    )
    creator_top = spark.createDataFrame(
        [(100, 1, 10, 0.9), (100, 2, 11, 0.5), (100, 3, 12, 0.1), (101, 1, 20, 0.7), (102, 1, 30, 1.0)],
        "creator_id bigint, rank int, video_id bigint, score double",
    )
    got = candidates.followed_candidates(follows, creator_top, quota=2, overfetch=1.0)
    expected = spark.createDataFrame(
        [(1, 10, "followed", 0.9), (1, 20, "followed", 0.7), (2, 20, "followed", 0.7)], CAND
    )
    assertDataFrameEqual(got, expected)


def test_affinity_candidates_share_the_quota_by_affinity(spark):
    # user 1: hashtag a has 3/4 of the affinity, b 1/4; quota 4 -> 3 slots of a, 1 of b
    aff = spark.createDataFrame(
        [(1, "hashtag", "a", 3.0, 1), (1, "hashtag", "b", 1.0, 2), (1, "sound", "5", 1.0, 1)],
        "user_id bigint, kind string, key string, score double, rank int",
    )
    lists = spark.createDataFrame(
        [("a", r, 10 + r, 1.0 / r) for r in range(1, 6)] + [("b", 1, 11, 1.0), ("b", 2, 20, 0.5)],
        "hashtag string, rank int, video_id bigint, score double",
    )
    got = candidates.affinity_candidates(
        aff, lists, kind="hashtag", list_key="hashtag", source="hashtag", quota=4, overfetch=1.0
    )
    # video 11 is in both lists: its best (share x list score) is kept once
    expected = spark.createDataFrame(
        [(1, 11, "hashtag", 0.75), (1, 12, "hashtag", 0.375), (1, 13, "hashtag", 0.25)], CAND
    )
    assertDataFrameEqual(got, expected)


def test_embedding_candidates_are_the_nearest_videos(spark):
    users = spark.createDataFrame(
        [(1, [1.0, 0.0]), (2, [0.0, 1.0])], "user_id bigint, embedding array<float>"
    )
    videos = spark.createDataFrame(
        [(10, [1.0, 0.0]), (11, [0.6, 0.8]), (12, [0.0, 1.0]), (13, [-1.0, 0.0])],
        "video_id bigint, embedding array<float>",
    )
    got = candidates.embedding_candidates(users, videos, k=2, dim=2)
    expected = spark.createDataFrame(
        [(1, 10, "embedding", 1.0), (1, 11, "embedding", 0.6),
         (2, 12, "embedding", 1.0), (2, 11, "embedding", 0.8)],
        CAND,
    )
    assertDataFrameEqual(got, expected, rtol=1e-6)


def test_combine_filters_cuts_quotas_and_dedupes_by_priority(spark):
    followed = spark.createDataFrame(
        [(1, 10, "followed", 0.9), (1, 11, "followed", 0.8), (1, 12, "followed", 0.7),
         (1, 13, "followed", 0.6)],
        CAND,
    )
    trending = spark.createDataFrame(
        [(1, 11, "trending", 50.0), (1, 14, "trending", 40.0), (1, 15, "trending", 30.0),
         (1, 16, "trending", 20.0), (2, 14, "trending", 40.0)],
        CAND,
    )
    explore = spark.createDataFrame([(1, 17, "exploration", 0.3), (1, 14, "exploration", 0.2)], CAND)
    ready = spark.createDataFrame([(v,) for v in (10, 11, 12, 14, 15, 16, 17)], "video_id bigint")
    watched = spark.createDataFrame([(1, 10), (2, 99)], "user_id bigint, video_id bigint")
    got = candidates.combine(
        [followed, trending, explore],
        ready,
        watched,
        quotas={"followed": 2, "trending": 2},
        priority=["exploration", "followed", "trending"],
    )
    # 10 watched, 13 not ready; followed keeps its best 2 eligible (11, 12); trending its best
    # 2 (11, 14); 11 is kept once as followed (priority), 14 as exploration; 15, 16 over quota
    expected = spark.createDataFrame(
        [
            (1, 11, "followed", 0.8, ["followed", "trending"]),
            (1, 12, "followed", 0.7, ["followed"]),
            (1, 14, "exploration", 0.2, ["exploration", "trending"]),
            (1, 17, "exploration", 0.3, ["exploration"]),
            (2, 14, "trending", 40.0, ["trending"]),
        ],
        "user_id bigint, video_id bigint, source string, score double, sources array<string>",
    )
    assertDataFrameEqual(got, expected)


def test_trending_candidates_go_to_every_user(spark):
    users = spark.createDataFrame([(1,), (2,)], "user_id bigint")
    trending = spark.createDataFrame(
        [(1, 10, 9.0), (2, 11, 8.0), (3, 12, 7.0)], "rank int, video_id bigint, score double"
    )
    got = candidates.trending_candidates(users, trending, quota=2, overfetch=1.0)
    expected = spark.createDataFrame(
        [(u, v, "trending", s) for u in (1, 2) for v, s in ((10, 9.0), (11, 8.0))], CAND
    )
    assertDataFrameEqual(got, expected)
