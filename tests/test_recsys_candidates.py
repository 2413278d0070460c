"""Candidate generation on tiny inline frames: every source (co-engagement included), quotas,
dedupe by priority, watched and not-ready filtering."""

from __future__ import annotations

import numpy as np
from pyspark.testing import assertDataFrameEqual

from jobs.recsys import candidates, catalogue

FEATS = (
    "video_id bigint, creator_id bigint, status string, quality double, creator_score double, "
    "freshness double, popularity double"
)


def _world(spark):
    feats = spark.createDataFrame(
        [(v, 100 if v <= 3 else 200, "ready", 1.0, 1.0, 1.0, 0.0) for v in range(1, 13)]
        + [(13, 100, "processing", 1.0, 1.0, 1.0, 0.0)],
        FEATS,
    )
    emb = spark.createDataFrame(
        [(v, [1.0, 0.0] if v == 5 else [0.0, 1.0]) for v in range(1, 14)],
        "video_id bigint, embedding array<float>",
    )
    # co-engagement: 1 -> 10 (0.6), 11 (0.3), 13 (0.9, not ready); 3 -> 11 (0.4)
    neighbours = spark.createDataFrame(
        [(1, 13, 1, 0.9), (1, 10, 2, 0.6), (1, 11, 3, 0.3), (3, 11, 1, 0.4)],
        "video_id bigint, neighbour_id bigint, rank int, sim double",
    )
    cat = catalogue.build_catalog(feats, emb, None, None, dim=2, neighbours=neighbours)
    lists = catalogue.build_lists(
        cat,
        spark.createDataFrame(
            [
                ("a", 1, 4, 1.0),
                ("a", 2, 5, 0.5),
                ("a", 3, 6, 1 / 3),
                ("a", 4, 7, 0.25),
                ("b", 1, 2, 1.0),
                ("b", 2, 8, 0.5),
            ],
            "hashtag string, rank int, video_id bigint, score double",
        ),
        spark.createDataFrame(
            [(7, 1, 3, 1.0)], "sound_id bigint, rank int, video_id bigint, score double"
        ),
        spark.createDataFrame(
            [(100, 1, 1, 0.9), (100, 2, 13, 0.85), (100, 3, 2, 0.8), (100, 4, 3, 0.7)],
            "creator_id bigint, rank int, video_id bigint, score double",
        ),
        spark.createDataFrame(
            [(1, 9, 9.0), (2, 2, 8.0), (3, 10, 7.0), (4, 11, 6.0)],
            "rank int, video_id bigint, score double",
        ),
    )
    return cat, lists


def test_sources_quotas_filters_and_dedupe(spark):
    cat, lists = _world(spark)
    users = spark.createDataFrame(
        [(1, "18-24", "US", "en"), (2, "25-34", "BR", "pt")],
        "user_id bigint, age_band string, country string, language string",
    )
    events = spark.createDataFrame(
        [(1, 1, 100, "2026-11-09 10:00:00")],
        "user_id bigint, video_id bigint, creator_id bigint, event_time string",
    ).selectExpr("user_id", "video_id", "creator_id", "cast(event_time as timestamp) event_time")
    user_emb = spark.createDataFrame([(1, [1.0, 0.0])], "user_id bigint, embedding array<float>")
    follows = spark.createDataFrame([(1, 100)], "follower_id bigint, creator_id bigint")
    aff = spark.createDataFrame(
        [(1, "hashtag", "a", 3.0, 1), (1, "hashtag", "b", 1.0, 2), (1, "creator", "100", 5.0, 1)],
        "user_id bigint, kind string, key string, score double, rank int",
    )
    assigned = spark.createDataFrame(
        [(1, 12, 0.3), (1, 13, 0.2)], "user_id bigint, video_id bigint, score double"
    )
    history = spark.createDataFrame([(1, [1, 3])], "user_id bigint, history array<bigint>")
    rows = candidates.candidate_inputs(
        users, events, user_emb, follows, aff, assigned, history, fatigue_since_epoch=0.0
    )
    cfg = candidates.CandidateConfig(
        quotas={
            "followed": 2,
            "hashtag": 4,
            "sound": 1,
            "trending": 2,
            "embedding": 1,
            "cowatch": 1,
        },
        overfetch=1.0,
        priority=(
            "exploration",
            "followed",
            "hashtag",
            "sound",
            "cowatch",
            "embedding",
            "trending",
        ),
    )
    got = candidates.generate_candidates(rows, cat, lists, cfg, dim=2)
    # followed: 1 watched, 13 not ready -> 2; hashtag a (3/4 of 4 slots) -> 4, 5, 6 and b
    # (1 slot) -> 2; trending -> 9, 2; embedding (nearest) -> 5; exploration -> 12 (13 not ready).
    # cowatch (history 1, 3): 11 -> 0.3 + 0.4, 10 -> 0.6 (13 not ready), quota 1 -> 11.
    # 2 keeps "followed" (priority) and 5 "hashtag"; user 2 (no history) gets trending only.
    expected = spark.createDataFrame(
        [
            (1, 12, "exploration", 0.3, ["exploration"]),
            (1, 2, "followed", 0.8, ["followed", "hashtag", "trending"]),
            (1, 4, "hashtag", 0.75, ["hashtag"]),
            (1, 5, "hashtag", 0.375, ["hashtag", "embedding"]),
            (1, 6, "hashtag", 0.25, ["hashtag"]),
            (1, 9, "trending", 9.0, ["trending"]),
            (1, 11, "cowatch", 0.7, ["cowatch"]),
            (2, 9, "trending", 9.0, ["trending"]),
            (2, 2, "trending", 8.0, ["trending"]),
        ],
        "user_id bigint, video_id bigint, source string, score double, sources array<string>",
    )
    assertDataFrameEqual(got, expected, rtol=1e-9)


def test_combine_cuts_each_source_to_its_quota_before_dedupe():
    # codes: 0 followed, 4 trending, 5 exploration (see params.SOURCES)
    parts = [
        (0, np.array([10, 11, 12, 13]), np.array([0.9, 0.8, 0.7, 0.6])),
        (4, np.array([11, 14, 15, 16]), np.array([50.0, 40.0, 30.0, 20.0])),
        (5, np.array([17, 14, -1]), np.array([0.3, 0.2, 0.1])),
    ]
    quota = np.array([2, -1, -1, -1, 2, -1])
    prio = np.array([1, 2, 3, 4, 5, 0])
    idx, src, score, mask = candidates.combine(parts, np.array([10]), quota, prio)
    # 10 watched; followed keeps 11, 12; trending keeps 11, 14; exploration keeps 17, 14 (-1 is
    # not ready); 14 is exploration's (priority), 11 followed's
    assert idx.tolist() == [17, 14, 11, 12]
    assert src.tolist() == [5, 5, 0, 0]
    assert score.tolist() == [0.3, 0.2, 0.8, 0.7]
    assert mask.tolist() == [1 << 5, (1 << 5) | (1 << 4), 1 | (1 << 4), 1]


def test_keyed_source_shares_slots_by_affinity():
    lists = {
        "a": (np.array([4, 5, 6, 7]), np.array([1.0, 0.5, 0.4, 0.3])),
        "b": (np.array([2, 8]), np.array([1.0, 0.5])),
    }
    idx, score = candidates.keyed_source(["a", "b", "zzz"], np.array([3.0, 1.0, 5.0]), lists, 4)
    # shares 3/9, 1/9, (5/9 for a key without a list): slots ceil(4/3)=2, ceil(4/9)=1
    assert idx.tolist() == [4, 5, 2]
    assert np.allclose(score, [1 / 3, 0.5 / 3, 1 / 9])
