"""Co-engagement: positives, recent histories, item-item neighbours, the catalogue lookup."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from pyspark.testing import assertDataFrameEqual

from jobs.recsys import catalogue, cowatch

EVENTS = (
    "user_id bigint, video_id bigint, event_time timestamp, completion_rate double, "
    "liked boolean, shared boolean, commented boolean, skipped boolean"
)


def _ev(user, video, minute, completion=0.9, liked=False, skipped=False):
    return (
        user,
        video,
        dt.datetime(2026, 11, 1, 10, minute),
        completion,
        liked,
        False,
        False,
        skipped,
    )


def test_recent_positives_keep_each_users_latest_engaged_videos(spark):
    events = spark.createDataFrame(
        [
            _ev(1, 10, 0),
            _ev(1, 11, 1, completion=0.2),  # not watched through, not liked: not a positive
            _ev(1, 12, 2, completion=0.1, liked=True),  # a like counts
            _ev(1, 13, 3, completion=1.0, skipped=True),  # a skip never counts
            _ev(1, 14, 4),
            _ev(1, 10, 5),  # watched again: its latest positive time counts
            _ev(2, 10, 0),
        ],
        EVENTS,
    )
    recent = cowatch.recent_positives(events, 0.5, history=2)
    assertDataFrameEqual(
        recent.select("user_id", "video_id", "pos"),
        spark.createDataFrame(
            [(1, 10, 1), (1, 14, 2), (2, 10, 1)], "user_id bigint, video_id bigint, pos int"
        ),
    )
    hist = {r["user_id"]: r["history"] for r in cowatch.user_history(recent).collect()}
    assert hist == {1: [10, 14], 2: [10]}


def test_item_neighbours_are_the_cosine_of_shared_users_best_first(spark):
    pairs = [(1, 10), (1, 11), (2, 10), (2, 11), (3, 10), (3, 12), (4, 12), (5, 11), (5, 13)]
    events = spark.createDataFrame([_ev(u, v, i) for i, (u, v) in enumerate(pairs)], EVENTS)
    ready = spark.createDataFrame([(10,), (11,), (12,)], "video_id bigint")  # 13 is not ready
    recent = cowatch.recent_positives(events, 0.5, history=50)
    got = cowatch.item_neighbours(recent, ready, k=1)
    # users: 10 -> {1,2,3}, 11 -> {1,2,5}, 12 -> {3,4}, 13 -> {5}
    # sim(10,11) = 2/3, sim(10,12) = 1/sqrt(6), sim(11,13) not ready, sim(13,11) = 1/sqrt(3)
    assertDataFrameEqual(
        got,
        spark.createDataFrame(
            [
                (10, 11, 1, 2 / 3),
                (11, 10, 1, 2 / 3),
                (12, 10, 1, 1 / math.sqrt(6)),
                (13, 11, 1, 1 / math.sqrt(3)),
            ],
            "video_id bigint, neighbour_id bigint, rank int, sim double",
        ),
        rtol=1e-9,
    )
    scores = cowatch.user_scores(recent.where("user_id = 4"), got)
    assertDataFrameEqual(
        scores,
        spark.createDataFrame(
            [(4, 10, 1 / math.sqrt(6))], "user_id bigint, video_id bigint, score double"
        ),
        rtol=1e-9,
    )


def test_catalogue_sums_neighbour_similarities_over_the_history():
    cat = catalogue.Catalog(
        ids=np.array([10, 11, 12, 13]),
        emb=np.zeros((4, 2), np.float32),
        log_quality=np.zeros(4),
        log_creator=np.zeros(4),
        log_freshness=np.zeros(4),
        log1p_pop=np.zeros(4),
        creator=np.zeros(4, np.int64),
    )
    cat.nb_keys = np.array([1, 3, 9])  # history videos need not be in the catalogue
    cat.nb_ptr = np.array([0, 2, 3, 5])
    cat.nb_idx = np.array([1, 2, 0, 1, 3])
    cat.nb_sim = np.array([0.5, 0.25, 0.1, 0.2, 0.3])
    idx, score = cat.cowatch(np.array([9, 1, 7]))  # 7 has no neighbours
    assert idx.tolist() == [1, 2, 3]
    assert np.allclose(score, [0.7, 0.25, 0.3])
    idx, score = cat.cowatch(np.array([], np.int64))
    assert len(idx) == 0 and len(score) == 0
