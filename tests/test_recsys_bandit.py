"""New-video exploration: the bandit's posterior update, its decisions, the audience, replay."""

from __future__ import annotations

import datetime as dt

import numpy as np
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.recsys import bandit

DS = dt.date(2026, 11, 10)


def test_pool_posterior_update_counts_completion_as_fractional_successes(spark):
    feats = spark.createDataFrame(
        [
            (1, "ready", dt.datetime(2026, 11, 9), 1.0),
            (2, "ready", dt.datetime(2026, 11, 10), 0.5),
            (3, "ready", dt.datetime(2026, 10, 1), 40.0),  # too old for the pool
            (4, "processing", dt.datetime(2026, 11, 10), 0.2),  # not ready
        ],
        "video_id bigint, status string, created_at timestamp, age_days double",
    )
    events = spark.createDataFrame(
        [(1, 1.0), (1, 0.5), (1, 0.1), (3, 1.0)], "video_id bigint, completion double"
    )
    got = bandit.pool_stats(events, feats, window_days=3, prior_alpha=1.0, prior_beta=2.0)
    expected = spark.createDataFrame(
        [
            (1, dt.datetime(2026, 11, 9), 3, 1.6, 1.0 + 1.6, 2.0 + 3 - 1.6),
            (2, dt.datetime(2026, 11, 10), 0, 0.0, 1.0, 2.0),
        ],
        "video_id bigint, created_at timestamp, impressions bigint, completion_sum double, "
        "alpha double, beta double",
    )
    assertDataFrameEqual(got.select(*expected.columns), expected)


def test_thompson_decisions(spark):
    pool = spark.createDataFrame(
        [
            (1, 20, 10.0, 11.0, 11.0),  # few impressions: warm-up to 100
            (2, 1500, 900.0, 901.0, 601.0),  # past the cap: graduated
            (3, 400, 40.0, 41.0, 361.0),  # 10% completion vs 50%: faded
            (4, 200, 180.0, 181.0, 21.0),  # 90% completion: every draw beats 50% -> boost
        ],
        "video_id bigint, impressions bigint, completion_sum double, alpha double, beta double",
    )
    ref = spark.createDataFrame([(0.5,)], "reference double")
    got = bandit.thompson_decide(
        pool, ref, seed=1, ds=DS, min_impressions=100, max_impressions=1000, fade_probability=0.05
    ).select("video_id", "state", "target_impressions")
    expected = spark.createDataFrame(
        [(1, "warmup", 100), (2, "graduated", 1500), (3, "faded", 400), (4, "boost", 400)],
        "video_id bigint, state string, target_impressions bigint",
    )
    assertDataFrameEqual(got, expected)
    # an uncertain video is boosted or held by its seeded draw, reproducibly
    unsure = spark.createDataFrame(
        [(v, 120, 60.0, 61.0, 61.0) for v in range(10, 40)],
        "video_id bigint, impressions bigint, completion_sum double, alpha double, beta double",
    )
    decide = lambda: bandit.thompson_decide(  # noqa: E731
        unsure,
        ref,
        seed=1,
        ds=DS,
        min_impressions=100,
        max_impressions=1000,
        fade_probability=0.05,
    ).select("video_id", "state", "sampled")
    first = decide().collect()
    assert {r["state"] for r in first} == {"boost", "hold"}
    assert all((r["sampled"] >= 0.5) == (r["state"] == "boost") for r in first)
    assertDataFrameEqual(decide(), first)


def test_audience_is_the_nearest_users_who_have_not_seen_the_video(spark):
    decided = spark.createDataFrame(
        [(1, 1, 3), (2, 0, 1), (3, 5, 5)],
        "video_id bigint, impressions bigint, target_impressions bigint",
    )
    video_emb = spark.createDataFrame(
        [(1, [1.0, 0.0]), (2, [0.0, 1.0]), (3, [1.0, 0.0])],
        "video_id bigint, embedding array<float>",
    )
    user_emb = spark.createDataFrame(
        [(10, [1.0, 0.0]), (11, [0.8, 0.6]), (12, [0.6, 0.8]), (13, [0.0, 1.0])],
        "user_id bigint, embedding array<float>",
    )
    watched = spark.createDataFrame([(10, 1)], "user_id bigint, video_id bigint")
    got = bandit.assign_audience(decided, video_emb, user_emb, watched, per_user_cap=5, dim=2)
    # video 1 needs 2 more: 10 saw it, so 11 and 12; video 2 needs 1: 13; video 3 needs none
    expected = spark.createDataFrame(
        [(11, 1, 0.8), (12, 1, 0.6), (13, 2, 1.0)], "user_id bigint, video_id bigint, score double"
    )
    assertDataFrameEqual(got, expected, rtol=1e-6)


def test_replay_finds_good_videos_and_fades_bad_ones():
    rates = np.array([0.9] * 10 + [0.5] * 10 + [0.1] * 10)
    res = bandit.simulate_discovery(
        rates,
        0.5,
        rounds=6,
        min_impressions=100,
        max_impressions=1000,
        prior_alpha=1.0,
        prior_beta=1.0,
        fade_probability=0.05,
        seed=3,
    )
    # 100 -> 200 -> 400 -> 800 -> 1000: good videos graduate in round 5
    assert res["good_graduated_share"] == 1.0
    assert res["good_median_rounds_to_graduate"] == 5.0
    assert res["bad_faded_share"] == 1.0 and res["bad_graduated_share"] == 0.0


def test_seeded_uniform_is_stable(spark):
    df = spark.range(5).withColumnRenamed("id", "video_id")
    u = bandit.seeded_uniform(1, DS, "video_id")
    a = [r[0] for r in df.select(u).collect()]
    assert all(0 < x < 1 for x in a)
    assert a == [r[0] for r in df.select(u).collect()]
    assert a != [r[0] for r in df.select(bandit.seeded_uniform(2, DS, "video_id")).collect()]
    assert df.select(F.lit(1)).count() == 5
