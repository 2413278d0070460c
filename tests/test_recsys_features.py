"""Recommendation features on tiny inline frames: engagement weights, decay, smoothing,
freshness, affinities, per-key lists."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.recsys import features
from jobs.recsys.common import as_of_epoch

DS = dt.date(2026, 11, 10)
NOW = as_of_epoch(DS)
WATCH_SCHEMA = (
    "event_id string, user_id bigint, video_id bigint, creator_id bigint, watch_ms bigint, "
    "video_duration_ms bigint, completion_rate double, liked boolean, shared boolean, "
    "commented boolean, skipped boolean, event_time timestamp, event_date date"
)


def _watch(spark, rows):
    full = [
        (eid, u, v, c, 0, 1000, comp, lk, sh, cm, sk, t, t.date())
        for eid, u, v, c, comp, lk, sh, cm, sk, t in rows
    ]
    return spark.createDataFrame(full, WATCH_SCHEMA)


def test_events_as_of_and_engagement_decay(spark):
    rows = [
        ("e1", 1, 10, 100, 0.8, True, False, False, False, dt.datetime(2026, 11, 10, 0, 0)),
        ("e2", 1, 11, 100, 0.1, False, False, False, True, dt.datetime(2026, 10, 28, 0, 0)),
        ("e3", 1, 12, 100, 1.5, False, True, False, False, dt.datetime(2026, 11, 10, 23, 59)),
        ("late", 1, 13, 100, 1.0, False, False, False, False, dt.datetime(2026, 11, 11, 0, 0)),
    ]
    events = features.events_as_of(_watch(spark, rows), DS)
    got = features.with_engagement(
        events,
        now_epoch=NOW,
        half_life_days=1.0,
        e_completion=1.0,
        e_like=1.0,
        e_comment=1.0,
        e_share=2.0,
        e_skip=0.5,
    ).select("event_id", "completion", "engagement", "decay", "weight")
    one_minute = 2 ** (-1 / 1440)
    expected = spark.createDataFrame(
        [
            ("e1", 0.8, 1.8, 0.5, 0.9),  # a day old, liked: 0.8 + 1
            ("e2", 0.1, -0.4, 2.0**-14, -0.4 * 2.0**-14),  # a skip two weeks old
            ("e3", 1.0, 3.0, one_minute, 3.0 * one_minute),  # loop clipped to 1, shared: 1 + 2
        ],
        "event_id string, completion double, engagement double, decay double, weight double",
    )
    assertDataFrameEqual(got, expected)


def _video_counts(spark, rows):
    return spark.createDataFrame(
        rows,
        "video_id bigint, impressions bigint, completion_sum double, completion_sq double, "
        "likes bigint, comments bigint, shares bigint",
    )


def test_smooth_rates_with_a_fixed_prior(spark):
    # completion mean = 50/100 = 0.5, like mean = 20/100 = 0.2; prior worth 10 impressions
    df = _video_counts(spark, [(1, 10, 10.0, 10.0, 3, 0, 0), (2, 90, 40.0, 30.0, 17, 0, 0)])
    got = features.smooth_rates(
        df,
        specs=(
            ("completion_rate", "completion_sum", "completion_sq", "impressions"),
            ("like_rate", "likes", "likes", "impressions"),
        ),
        prior_strength=10.0,
    ).select("video_id", "completion_rate", "completion_rate_lift", "like_rate", "like_rate_lift")
    expected = spark.createDataFrame(
        [
            (1, (10 + 5) / 20, 0.75 / 0.5, (3 + 2) / 20, 0.25 / 0.2),
            (2, (40 + 5) / 100, 0.45 / 0.5, (17 + 2) / 100, 0.19 / 0.2),
        ],
        "video_id bigint, completion_rate double, completion_rate_lift double, "
        "like_rate double, like_rate_lift double",
    )
    assertDataFrameEqual(got, expected)


def test_empirical_bayes_keeps_three_perfect_views_below_thirty_thousand_good_ones(spark):
    rows = [(1, 3, 3.0, 3.0, 3, 1, 1), (2, 30000, 24000.0, 22500.0, 6000, 600, 600)]
    # the rest of the catalogue: 60 videos x 2000 impressions, completion 0.3-0.7, likes ~10%
    for v in range(3, 63):
        n = 2000
        c = 0.3 + 0.4 * (v - 3) / 60
        rows.append((v, n, c * n, 0.8 * c * n, 200 + 3 * (v % 7), 20, 10))
    df = _video_counts(spark, rows)
    smoothed = features.smooth_rates(df, prior_strength=None)
    scored = features.quality_from_lifts(
        smoothed, {"completion_rate": 1.0, "like_rate": 0.6, "comment_rate": 0.6, "share_rate": 1.0}
    )
    q = {r["video_id"]: r for r in scored.collect()}
    assert q[1]["completion_rate"] < q[2]["completion_rate"]
    assert q[1]["quality"] < q[2]["quality"]
    assert abs(q[2]["completion_rate"] - 0.8) < 0.002  # lots of evidence: its own rate
    assert q[1]["completion_rate"] < 0.75  # three views: pulled towards the mean


def test_video_features_freshness_and_unseen_video(spark):
    videos = spark.createDataFrame(
        [
            (10, 100, "ready", dt.datetime(2026, 11, 8, 0, 0)),  # 3 days before "now"
            (11, 101, "ready", dt.datetime(2026, 11, 10, 12, 0)),  # never watched
            (12, 100, "processing", dt.datetime(2026, 11, 1, 0, 0)),
            (13, 100, "ready", dt.datetime(2026, 11, 11, 1, 0)),  # after ds: unknown yet
        ],
        "video_id bigint, creator_id bigint, status string, created_at timestamp",
    )
    ev = _watch(
        spark,
        [
            (
                f"e{i}",
                i,
                10,
                100,
                0.5 + 0.1 * (i % 3),
                i % 2 == 0,
                False,
                False,
                False,
                dt.datetime(2026, 11, 9, i % 24, 0),
            )
            for i in range(12)
        ],
    )
    ev = features.with_engagement(
        ev,
        now_epoch=NOW,
        half_life_days=14.0,
        e_completion=1.0,
        e_like=1.0,
        e_comment=1.0,
        e_share=2.0,
        e_skip=0.5,
    )
    vf = features.video_features(
        videos,
        ev,
        ds=DS,
        weights={"completion_rate": 1.0, "like_rate": 0.6, "comment_rate": 0.6, "share_rate": 1.0},
        prior_strength=5.0,
        freshness_half_life_days=3.0,
        freshness_floor=0.1,
        trending_half_life_days=1.0,
        popularity_half_life_days=3.0,
        w_quality=1.0,
        w_creator=0.6,
        w_freshness=0.6,
    )
    got = vf.select(
        "video_id", "status", "impressions", "freshness", F.round("age_days", 6).alias("age")
    )
    expected = spark.createDataFrame(
        [
            (10, "ready", 12, 0.1 + 0.9 * 0.5, 3.0),
            (11, "ready", 0, 0.1 + 0.9 * 2 ** (-0.5 / 3), 0.5),
            (12, "processing", 0, 0.1 + 0.9 * 2 ** (-10 / 3), 10.0),
        ],
        "video_id bigint, status string, impressions bigint, freshness double, age double",
    )
    assertDataFrameEqual(got, expected)
    unseen = vf.where("video_id = 11").first()
    assert unseen["quality"] == 1.0 and unseen["creator_score"] == 1.0  # the catalogue average


def test_user_affinities_rank_positive_engagement_per_kind(spark):
    events = spark.createDataFrame(
        [(1, 10, 2.0), (1, 11, 1.0), (1, 12, -1.0), (2, 12, 0.5)],
        "user_id bigint, video_id bigint, weight double",
    )
    videos = spark.createDataFrame(
        [(10, 100, 5, ["a", "b"]), (11, 101, None, ["b"]), (12, 100, 6, ["c"])],
        "video_id bigint, creator_id bigint, sound_id bigint, hashtags array<string>",
    )
    got = features.user_affinities(events, videos, top_k=2)
    expected = spark.createDataFrame(
        [
            (1, "hashtag", "b", 3.0, 1),
            (1, "hashtag", "a", 2.0, 2),
            (1, "sound", "5", 2.0, 1),
            (1, "creator", "100", 1.0, 1),  # 2.0 - 1.0 (the skipped video 12 is also creator 100)
            (1, "creator", "101", 1.0, 2),
            (2, "hashtag", "c", 0.5, 1),
            (2, "sound", "6", 0.5, 1),
            (2, "creator", "100", 0.5, 1),
        ],
        "user_id bigint, kind string, key string, score double, rank int",
    )
    assertDataFrameEqual(got, expected)


def test_lists_keep_ready_videos_only_best_first(spark):
    feats = spark.createDataFrame(
        [
            (10, "ready", 3.0, 5.0),
            (11, "ready", 2.0, 0.0),
            (12, "failed", 9.0, 9.0),
            (13, "ready", 1.0, 1.0),
        ],
        "video_id bigint, status string, base_score double, trending_score double",
    )
    videos = spark.createDataFrame(
        [
            (10, 100, 5, ["a"]),
            (11, 100, 5, ["a", "b"]),
            (12, 100, 5, ["a"]),
            (13, 101, None, ["b"]),
        ],
        "video_id bigint, creator_id bigint, sound_id bigint, hashtags array<string>",
    )
    tags, sounds, creators = features.key_top_lists(feats, videos, n=2)
    assertDataFrameEqual(
        tags,
        spark.createDataFrame(
            [("a", 1, 10, 3.0), ("a", 2, 11, 2.0), ("b", 1, 11, 2.0), ("b", 2, 13, 1.0)],
            "hashtag string, rank int, video_id bigint, score double",
        ),
    )
    assertDataFrameEqual(
        sounds,
        spark.createDataFrame(
            [(5, 1, 10, 3.0), (5, 2, 11, 2.0)],
            "sound_id bigint, rank int, video_id bigint, score double",
        ),
    )
    assertDataFrameEqual(
        creators,
        spark.createDataFrame(
            [(100, 1, 10, 3.0), (100, 2, 11, 2.0), (101, 1, 13, 1.0)],
            "creator_id bigint, rank int, video_id bigint, score double",
        ),
    )
    assertDataFrameEqual(
        features.trending(feats, n=5),
        spark.createDataFrame(
            [(1, 10, 5.0), (2, 13, 1.0)], "rank int, video_id bigint, score double"
        ),
    )


def _pop_events(spark, held_video: int):
    """Videos 1-3 were popular a year ago (100 views each, one-off viewers), video 9 in the last
    day (40 views); 30 test users each watched video 5 ten days ago and then ``held_video``
    (their latest impression: the held-out positive)."""
    rows, uid = [], 1000
    t = lambda age: dt.datetime(2026, 11, 10) - dt.timedelta(days=age)  # noqa: E731
    for v in (1, 2, 3):
        for j in range(100):
            rows.append((uid, v, t(360 + j % 20), 360.0 + j % 20))
            uid += 1
    for _ in range(40):
        rows.append((uid, 9, t(0.5), 0.5))
        uid += 1
    for u in range(1, 31):
        rows.append((u, 5, t(10), 10.0))
        rows.append((u, held_video if held_video != 0 else 1 + u % 3, t(0.1), 0.1))
    data = [(u, v, ts, age, False, 1.0, False, False, False) for u, v, ts, age in rows]
    return spark.createDataFrame(
        data,
        "user_id bigint, video_id bigint, event_time timestamp, evidence_age_days double, "
        "skipped boolean, completion double, liked boolean, shared boolean, commented boolean",
    )


def test_popularity_half_life_is_chosen_by_what_users_engage_with_next(spark):
    """A log whose next engagements go to the all-time favourites gets a long half-life; one
    whose next engagements follow yesterday's views gets a short one (never a constant)."""
    all_time, scores = features.choose_popularity_half_life(
        _pop_events(spark, held_video=0), min_completion=0.5, fallback=3.0
    )
    assert all_time >= 365.0, scores
    assert scores[all_time] > scores[1.0]
    recent, scores = features.choose_popularity_half_life(
        _pop_events(spark, held_video=9), min_completion=0.5, fallback=3.0
    )
    assert recent <= 30.0, scores
    assert scores[recent] > scores[365.0]
