"""The lake's pure transforms on inline data (Spark, no Delta): line splitting, parsing and every
static quarantine reason, the engagement attribution rule, and the gold aggregates."""

from __future__ import annotations

import datetime as dt
import json

from lakehelpers import BAD_EVENTS, GOOD_A
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.lake import parsing, transforms

T = dt.datetime(2026, 11, 1, 11, 0, 0)
FILE = "file:/x/lake/landing/events/date=2026-11-01/hour=12/test-a.jsonl"


def _lines(spark, raws: list[str]):
    text = "".join(r + "\n" for r in raws)
    return parsing.split_lines(
        spark.createDataFrame([(FILE, text)], "file_path string, value string")
    )


def test_split_lines_keeps_blank_lines_and_strips_cr(spark):
    files = spark.createDataFrame(
        [(FILE, "a\r\n\nb"), (FILE.replace("test-a", "test-b"), "")],
        "file_path string, value string",
    )
    got = parsing.split_lines(files).select("landing_file", "arrival_hour", "line_no", "raw")
    rel = "landing/events/date=2026-11-01/hour=12/test-a.jsonl"
    hour = dt.datetime(2026, 11, 1, 12)
    assertDataFrameEqual(got, [(rel, hour, 1, "a"), (rel, hour, 2, ""), (rel, hour, 3, "b")])


def test_every_static_reason_on_hand_made_lines(spark):
    raws = [r if isinstance(r, str) else json.dumps(r) for r, _ in BAD_EVENTS]
    raws += [json.dumps(r) for r in GOOD_A]
    parsed = (
        _lines(spark, raws)
        .transform(parsing.parse_records, "events")
        .transform(parsing.check_event_values, 300)
    )
    got = parsed.select("line_no", parsing.reason_code(F.col("_reason")).alias("code"))
    static = {
        "unparseable_json",
        "missing_field",
        "unknown_event_type",
        "mistyped_field",
        "negative_watch_ms",
        "future_event_time",
    }
    expected = [(i + 1, code if code in static else None) for i, (_, code) in enumerate(BAD_EVENTS)]
    expected += [(len(BAD_EVENTS) + i + 1, None) for i in range(len(GOOD_A))]
    assertDataFrameEqual(got, expected)


def test_reason_details_name_the_problem(spark):
    raws = [
        json.dumps(
            {
                "event_id": "x",
                "event_type": "watch",
                "user_id": "7a",
                "video_id": 1.5,
                "watch_ms": 3,
                "event_time": "2026-11-01T11:00:00Z",
            }
        ),
        json.dumps(
            {
                "event_id": "y",
                "event_type": "watch",
                "user_id": 1,
                "event_time": "2026-11-01T11:00:00Z",
            }
        ),
        json.dumps(
            {
                "event_id": "z",
                "event_type": "Poke",
                "user_id": 1,
                "event_time": "2026-11-01T11:00:00Z",
            }
        ),
    ]
    got = (
        _lines(spark, raws).transform(parsing.parse_records, "events").select("line_no", "_reason")
    )
    assertDataFrameEqual(
        got,
        [
            (1, "mistyped_field: user_id=7a, video_id=1.5"),
            (2, "missing_field: video_id, watch_ms (required for watch)"),
            (3, "unknown_event_type: 'Poke'"),
        ],
    )


def test_references_absurd_watch_and_duplicates(spark):
    events = spark.createDataFrame(
        [
            ("f1", 1, "e1", "watch", 1, 10, None, 5000),
            ("f1", 2, "e2", "watch", 9, 10, None, 5000),  # unknown user
            ("f1", 3, "e3", "watch", 1, 99, None, 5000),  # unknown video
            ("f1", 4, "e4", "follow", 1, None, 42, None),  # unknown creator
            ("f1", 5, "e5", "watch", 1, 10, None, 50001),  # > 5 x 10000
            ("f1", 6, "e1", "watch", 1, 10, None, 5000),  # same id later in the batch
            ("f2", 1, "e6", "like", 1, 10, None, None),  # already in bronze from f0
            ("f3", 1, "e7", "like", 1, 10, None, None),  # replay of bronze's own file: fine
        ],
        "landing_file string, line_no bigint, event_id string, event_type string, "
        "user_id bigint, video_id bigint, creator_id bigint, watch_ms bigint",
    ).withColumn("_reason", F.lit(None).cast("string"))
    users = spark.createDataFrame([(1,)], "user_id bigint")
    videos = spark.createDataFrame([(10, 10000)], "video_id bigint, duration_ms bigint")
    bronze = spark.createDataFrame(
        [("e6", "f0"), ("e7", "f3")], "event_id string, landing_file string"
    )
    got = (
        events.transform(parsing.check_event_references, users, videos, 5.0)
        .transform(parsing.mark_duplicates, bronze)
        .select("landing_file", "line_no", "_reason")
    )
    assertDataFrameEqual(
        got,
        [
            ("f1", 1, None),
            ("f1", 2, "unknown_user: user_id=9"),
            ("f1", 3, "unknown_video: video_id=99"),
            ("f1", 4, "unknown_creator: creator_id=42"),
            ("f1", 5, "absurd_watch_ms: watch_ms=50001 > 5 x duration_ms=10000"),
            ("f1", 6, "duplicate_event: event_id=e1 already from f1"),
            ("f2", 1, "duplicate_event: event_id=e6 already from f0"),
            ("f3", 1, None),
        ],
    )


def test_watch_history_attribution_rule(spark):
    def t(minutes: int) -> dt.datetime:
        return T + dt.timedelta(minutes=minutes)

    day = T.date()
    events = spark.createDataFrame(
        [
            ("w1", "watch", 1, 10, 5000, t(0)),
            ("l1", "like", 1, 10, None, t(1)),  # -> w1
            ("w2", "watch", 1, 10, 40000, t(10)),  # second watch of the same video
            ("s1", "share", 1, 10, None, t(11)),  # -> w2 (latest impression), not w1
            ("k1", "skip", 2, 10, 300, t(0)),
            ("c1", "comment", 2, 10, None, t(61)),  # 61 min later: outside the window
            ("w3", "watch", 3, 11, 1000, t(0)),
            ("l3", "like", 3, 11, None, t(0)),  # same instant: counts for w3
            ("l4", "like", 4, 11, None, t(0)),  # no impression at all: attributed to none
        ],
        "event_id string, event_type string, user_id bigint, video_id bigint, watch_ms bigint, "
        "event_time timestamp",
    ).withColumn("event_date", F.to_date("event_time"))
    videos = spark.createDataFrame(
        [(10, 7, 10000), (11, 8, 0)], "video_id bigint, creator_id bigint, duration_ms bigint"
    )
    got = transforms.watch_history(events, videos, window_s=3600, completion_cap=3.0).select(
        "event_id",
        "creator_id",
        "completion_rate",
        "liked",
        "shared",
        "commented",
        "skipped",
        "event_date",
    )
    assertDataFrameEqual(
        got,
        [
            ("w1", 7, 0.5, True, False, False, False, day),
            ("w2", 7, 3.0, False, True, False, False, day),  # 4.0 capped at 3.0
            ("k1", 7, 0.03, False, False, False, True, day),
            ("w3", 8, None, True, False, False, False, day),  # no duration: no completion
        ],
    )


def test_gold_daily_stats(spark):
    d1, d2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    history = spark.createDataFrame(
        [
            ("a", 1, 10, 7, 1000, 0.5, True, False, False, False, d1),
            ("b", 1, 10, 7, 2000, 1.0, False, True, False, False, d1),
            ("c", 2, 10, 7, 100, 0.05, False, False, False, True, d1),
            ("d", 2, 11, 7, 4000, 1.0, False, False, True, False, d1),
            ("e", 3, 11, 7, 2000, 0.5, True, False, False, False, d2),
        ],
        "event_id string, user_id bigint, video_id bigint, creator_id bigint, watch_ms bigint, "
        "completion_rate double, liked boolean, shared boolean, commented boolean, "
        "skipped boolean, event_date date",
    )
    follows = spark.createDataFrame(
        [
            (1, 7, dt.datetime(2026, 10, 30, 9)),
            (2, 7, dt.datetime(2026, 11, 2, 9)),
            (3, 8, dt.datetime(2026, 11, 2, 9)),
        ],
        "follower_id bigint, creator_id bigint, followed_at timestamp",
    )
    videos = transforms.video_daily_stats(history).select(
        "date",
        "video_id",
        "views",
        "unique_viewers",
        "watch_ms_total",
        "mean_completion",
        "likes",
        "shares",
        "comments",
        "skips",
        "like_rate",
    )
    assertDataFrameEqual(
        videos,
        [
            (d1, 10, 3, 2, 3100, 0.5166666666666667, 1, 1, 0, 1, 1 / 3),
            (d1, 11, 1, 1, 4000, 1.0, 0, 0, 1, 0, 0.0),
            (d2, 11, 1, 1, 2000, 0.5, 1, 0, 0, 0, 1.0),
        ],
        rtol=1e-9,
    )
    creators = transforms.creator_daily_stats(history, follows).select(
        "date",
        "creator_id",
        "videos_watched",
        "views",
        "unique_viewers",
        "new_followers",
        "followers_total",
    )
    assertDataFrameEqual(
        creators,
        [
            (dt.date(2026, 10, 30), 7, 0, 0, 0, 1, 1),
            (d1, 7, 2, 4, 2, 0, 1),
            (d2, 7, 1, 1, 1, 1, 2),
            (d2, 8, 0, 0, 0, 1, 1),
        ],
    )


def test_a_video_with_an_explicit_null_creator_has_none(spark):
    """``"creator_id": null`` is a video without a creator (an imported item); a video that
    leaves the field out, or blank, is still quarantined as missing it."""
    base = {"duration_ms": 60000, "status": "ready"}
    raws = [
        json.dumps({"video_id": 1, "creator_id": None, **base}),
        json.dumps({"video_id": 2, **base}),
        json.dumps({"video_id": 3, "creator_id": " ", **base}),
        json.dumps({"video_id": 4, "creator_id": 9, **base}),
    ]
    got = (
        _lines(spark, raws)
        .transform(parsing.parse_records, "videos")
        .select("line_no", "creator_id", "_reason")
    )
    assertDataFrameEqual(
        got,
        [
            (1, None, None),
            (2, None, "missing_field: creator_id"),
            (3, None, "missing_field: creator_id"),
            (4, 9, None),
        ],
    )
