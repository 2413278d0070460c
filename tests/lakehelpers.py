"""Hand-made landing files for the lake tests (tiny, readable, every case on purpose)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from fyplake.config import Settings
from fyplake.landing import partition_dir, write_jsonl_atomic

DAY = dt.date(2026, 11, 1)


def lake_settings(tmp_path: Path, **overrides) -> Settings:
    """Settings with a lake of its own (the Spark session is shared; lakes are not)."""
    return Settings(lake=str(tmp_path / "lake"), quality_dir=str(tmp_path / "quality"), **overrides)


def land(settings: Settings, entity: str, arrival: dt.datetime, lines: list, name: str) -> Path:
    """Write one landing file; ``lines`` are dicts (JSON-encoded) or raw strings (verbatim)."""
    text = "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines)
    root = Path(settings.lake) / "landing"
    return write_jsonl_atomic(partition_dir(root, entity, arrival), "test", text, token=name)


def at(hour: int, minute: int = 0, second: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second)


def ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ev(event_id, event_type, user_id, when, video_id=None, watch_ms=None, creator_id=None):
    rec = {
        "event_id": event_id,
        "event_type": event_type,
        "user_id": user_id,
        "event_time": ts(when),
        "source": "test",
    }
    if video_id is not None:
        rec["video_id"] = video_id
    if watch_ms is not None:
        rec["watch_ms"] = watch_ms
    if creator_id is not None:
        rec["creator_id"] = creator_id
    return rec


def land_dimensions(settings: Settings) -> None:
    land(
        settings,
        "users",
        at(10),
        [
            {
                "user_id": 1,
                "age_band": "18-24",
                "country": "US",
                "language": "en",
                "signup_time": ts(at(9)),
                "is_creator": False,
                "source": "test",
            },
            {
                "user_id": 2,
                "age_band": "25-34",
                "country": "DE",
                "language": "de",
                "signup_time": ts(at(9)),
                "is_creator": False,
                "source": "test",
            },
            {
                "user_id": 3,
                "age_band": "25-34",
                "country": "US",
                "language": "en",
                "signup_time": ts(at(9)),
                "is_creator": True,
                "source": "test",
            },
            {"user_id": "x", "age_band": "18-24"},  # mistyped_field
        ],
        "users-a",
    )
    land(
        settings,
        "videos",
        at(10),
        [
            {
                "video_id": 100,
                "creator_id": 3,
                "duration_ms": 10000,
                "title": "a",
                "hashtags": ["#Dance", "fun"],
                "sound_id": 7,
                "status": "ready",
                "created_at": ts(at(9)),
            },
            {
                "video_id": 101,
                "creator_id": 3,
                "duration_ms": 20000,
                "title": "b",
                "hashtags": ["fun"],
                "status": "ready",
                "created_at": ts(at(9)),
            },
            {"video_id": 102, "creator_id": 3, "duration_ms": 0, "title": "zero"},  # invalid_value
            {
                "video_id": 1_000_000_000_005,
                "creator_id": 3,
                "duration_ms": 9000,
                "source": "csv",
            },  # reserved_id: the platform allocates uploads from 10^12
        ],
        "videos-a",
    )
    land(
        settings,
        "sounds",
        at(10),
        [
            {"sound_id": 7, "title": "beat", "creator_id": 3, "created_at": ts(at(8))},
        ],
        "sounds-a",
    )


#: Good events of file A (arrival 12h) and B (arrival 13h, with a duplicate and late events).
GOOD_A = [
    ev("e1", "watch", 1, at(11), video_id=100, watch_ms=8000),
    ev("e2", "like", 1, at(11, 0, 5), video_id=100),
    ev("e3", "skip", 2, at(11, 10), video_id=100, watch_ms=500),
    ev("e4", "watch", 2, at(11, 20), video_id=101, watch_ms=30000),
    ev("e6", "share", 2, at(11, 25), video_id=101),
    ev("e5", "follow", 1, at(11, 30), creator_id=3),
]
PREV = DAY - dt.timedelta(days=1)
GOOD_B = [
    ev("e1", "watch", 1, at(11), video_id=100, watch_ms=8000),  # duplicate of A's e1
    ev("e7", "watch", 1, at(23, 50, day=PREV), video_id=101, watch_ms=5000),  # late
    ev("e8", "comment", 1, at(0, 10), video_id=101),  # after midnight: belongs to e7
]

#: One hand-made bad record per quarantine reason (raw line, expected reason_code).
BAD_EVENTS: list[tuple[object, str]] = [
    ("this is not json", "unparseable_json"),
    ("", "unparseable_json"),
    (
        {
            "event_id": "b1",
            "event_type": "watch",
            "event_time": ts(at(11)),
            "video_id": 100,
            "watch_ms": 1,
        },
        "missing_field",
    ),
    (ev("b2", "poke", 1, at(11), video_id=100), "unknown_event_type"),
    ({**ev("b3", "like", 1, at(11), video_id=100), "user_id": "abc"}, "mistyped_field"),
    ({**ev("b4", "like", 1, at(11), video_id=100), "event_time": "yesterday"}, "mistyped_field"),
    (ev("b5", "watch", 1, at(11), video_id=100, watch_ms=-5), "negative_watch_ms"),
    (ev("b6", "watch", 1, at(11), video_id=100, watch_ms=60000), "absurd_watch_ms"),
    (
        ev("b7", "like", 1, at(12, 0, 0, day=DAY + dt.timedelta(days=30)), video_id=100),
        "future_event_time",
    ),
    (ev("b8", "watch", 999, at(11), video_id=100, watch_ms=10), "unknown_user"),
    (ev("b9", "watch", 1, at(11), video_id=999, watch_ms=10), "unknown_video"),
    (ev("b10", "follow", 1, at(11), creator_id=999), "unknown_creator"),
    (
        ev("b11", "watch", 1, at(11), video_id=102, watch_ms=10),
        "unknown_video",
    ),  # its video was bad
]


def land_events(settings: Settings) -> None:
    land(settings, "events", at(12), GOOD_A, "events-a")
    land(settings, "events", at(13), GOOD_B, "events-b")
    land(settings, "events", at(12), [raw for raw, _ in BAD_EVENTS], "events-bad")


def land_world(settings: Settings) -> None:
    land_dimensions(settings)
    land_events(settings)


_BUILT: dict = {}


def built_lake(spark, root: Path):
    """The hand-made world through the whole gated pipeline (ingest -> gate -> silver -> gate
    -> gold -> gate: ``LAKE_TASKS``), built once per test session and shared by the modules that
    only read it (or rebuild it identically). Returns (settings, each task id's result)."""
    if "lake" not in _BUILT:
        from orchestration.inprocess import run_tasks
        from orchestration.tasks import LAKE_TASKS

        settings = lake_settings(root)
        land_world(settings)
        _BUILT["lake"] = (settings, run_tasks(LAKE_TASKS, DAY, spark=spark, settings=settings))
    return _BUILT["lake"]


def table_rows(spark, settings, name: str) -> list[tuple]:
    """A small table's rows, sorted (for whole-table comparisons)."""
    from fyplake import catalog, delta_io

    df = delta_io.read_table(spark, catalog.table(name), settings=settings)
    return sorted((tuple(r) for r in df.collect()), key=repr)
