"""Quarantine reason codes: stable short codes, each stored as ``reason_code`` and as the prefix
of ``reason`` (``"<code>: <detail>"``). A record gets the first reason that applies, in this order.
"""

from __future__ import annotations

UNPARSEABLE_JSON = "unparseable_json"
MISSING_FIELD = "missing_field"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
MISTYPED_FIELD = "mistyped_field"
INVALID_VALUE = "invalid_value"
RESERVED_ID = "reserved_id"
NEGATIVE_WATCH_MS = "negative_watch_ms"
FUTURE_EVENT_TIME = "future_event_time"
UNKNOWN_USER = "unknown_user"
UNKNOWN_VIDEO = "unknown_video"
UNKNOWN_CREATOR = "unknown_creator"
ABSURD_WATCH_MS = "absurd_watch_ms"
DUPLICATE_EVENT = "duplicate_event"

#: code -> what it means (the README's quarantine table is this dict).
REASONS: dict[str, str] = {
    UNPARSEABLE_JSON: "the line is not a JSON object (malformed, an array, a scalar, blank)",
    MISSING_FIELD: "a required field is absent, null or blank (the detail lists them)",
    UNKNOWN_EVENT_TYPE: "event_type is not one of watch, skip, like, comment, share, follow",
    MISTYPED_FIELD: "a field does not have its declared type (e.g. user_id='abc', 1.5, a list)",
    INVALID_VALUE: "a dimension value out of its domain (a video's duration_ms <= 0)",
    RESERVED_ID: "a video or sound id at or above 10^12 (fyplake.ids.PLATFORM_ID_BASE) from a "
    "producer other than the platform's upload pipeline: those ids belong to uploads",
    NEGATIVE_WATCH_MS: "watch_ms < 0",
    FUTURE_EVENT_TIME: "event_time after the end of the file's arrival hour + future_tolerance_s",
    UNKNOWN_USER: "user_id is neither in silver.users nor in the same run's user records",
    UNKNOWN_VIDEO: "video_id is neither in silver.videos nor in the same run's video records",
    UNKNOWN_CREATOR: "a follow's creator_id is not a known user",
    ABSURD_WATCH_MS: "watch_ms above max_watch_multiple x the video's duration_ms",
    DUPLICATE_EVENT: "event_id already in bronze from another file, or earlier in the same batch",
}

ORDER: tuple[str, ...] = tuple(REASONS)
