"""Every lake table, declared once: name, schema (Spark DDL), partitioning, key, properties.

Jobs create tables from these specs (``DeltaTable.createIfNotExists``) and never with
``mergeSchema``, so a write that does not match its declared schema fails loudly. The README's
table reference is generated from this module (``fyp tables --schema``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fyplake.config import Settings, get_settings

DEFAULT_PROPERTIES = {
    "delta.appendOnly": "false",
    "delta.logRetentionDuration": "interval 30 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
}


@dataclass(frozen=True)
class TableSpec:
    layer: str
    name: str
    schema: str  # Spark DDL, "col type, col type ..."
    description: str
    partition_by: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, settings: Settings | None = None) -> str:
        """The table's location: `<lake>/<layer>/<name>` (a path, or a URI for object stores)."""
        settings = settings or get_settings()
        return settings.lake_path(self.layer, self.name)

    @property
    def columns(self) -> list[str]:
        return [part.strip().split()[0] for part in _split_top_level(self.schema)]


def _split_top_level(ddl: str) -> list[str]:
    """Split "a int, b array<struct<x int, y int>>" on commas outside <>."""
    parts, depth, cur = [], 0, []
    for ch in ddl:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


TABLES: dict[str, TableSpec] = {}


def register(spec: TableSpec) -> TableSpec:
    if spec.full_name in TABLES:
        raise ValueError(f"table {spec.full_name} declared twice")
    TABLES[spec.full_name] = spec
    return spec


def table(full_name: str) -> TableSpec:
    try:
        return TABLES[full_name]
    except KeyError:
        raise KeyError(
            f"unknown lake table {full_name!r}; known tables: {', '.join(sorted(TABLES))}"
        ) from None


# --- bronze: typed records, one row per landed record ---------------------------------------

BRONZE_EVENTS = register(
    TableSpec(
        "bronze",
        "events",
        "event_id string, event_type string, user_id bigint, video_id bigint, "
        "creator_id bigint, watch_ms bigint, event_time timestamp, event_date date, "
        "source string, comment_text string, landing_file string, ingested_at timestamp",
        "Typed engagement events, one row per event_id (MERGE on event_id).",
        partition_by=("event_date",),
        key=("event_id",),
    )
)

# --- silver: cleaned, conformed ------------------------------------------------------------

SILVER_WATCH_HISTORY = register(
    TableSpec(
        "silver",
        "watch_history",
        "event_id string, user_id bigint, video_id bigint, creator_id bigint, "
        "watch_ms bigint, video_duration_ms bigint, completion_rate double, liked boolean, "
        "shared boolean, commented boolean, skipped boolean, event_time timestamp, "
        "event_date date",
        "One row per watch or skip impression, with the like/share/comment that followed it.",
        partition_by=("event_date",),
        key=("event_id",),
    )
)

SILVER_USERS = register(
    TableSpec(
        "silver",
        "users",
        "user_id bigint, age_band string, country string, language string, "
        "is_creator boolean, signup_time timestamp, updated_at timestamp",
        "Users and their demographics; latest record per user_id.",
        key=("user_id",),
    )
)

SILVER_VIDEOS = register(
    TableSpec(
        "silver",
        "videos",
        "video_id bigint, creator_id bigint, duration_ms bigint, title string, "
        "description string, hashtags array<string>, sound_id bigint, language string, "
        "status string, created_at timestamp, updated_at timestamp",
        "Video metadata and status; latest record per video_id.",
        key=("video_id",),
    )
)

SILVER_SOUNDS = register(
    TableSpec(
        "silver",
        "sounds",
        "sound_id bigint, title string, creator_id bigint, created_at timestamp",
        "Sounds (audio tracks videos reuse).",
        key=("sound_id",),
    )
)

SILVER_FOLLOWS = register(
    TableSpec(
        "silver",
        "follows",
        "follower_id bigint, creator_id bigint, followed_at timestamp",
        "The follow graph: one row per (follower, creator), first follow time.",
        key=("follower_id", "creator_id"),
    )
)

SILVER_HASHTAGS = register(
    TableSpec(
        "silver",
        "hashtags",
        "hashtag string, video_id bigint, created_at timestamp",
        "Video-to-hashtag bridge (one row per hashtag on a video).",
        key=("hashtag", "video_id"),
    )
)

# --- gold: analytics ------------------------------------------------------------------------

GOLD_VIDEO_DAILY_STATS = register(
    TableSpec(
        "gold",
        "video_daily_stats",
        "date date, video_id bigint, creator_id bigint, views bigint, unique_viewers bigint, "
        "watch_ms_total bigint, mean_completion double, likes bigint, shares bigint, "
        "comments bigint, skips bigint, like_rate double, share_rate double, "
        "comment_rate double",
        "Per-video daily engagement.",
        partition_by=("date",),
        key=("date", "video_id"),
    )
)

GOLD_CREATOR_DAILY_STATS = register(
    TableSpec(
        "gold",
        "creator_daily_stats",
        "date date, creator_id bigint, videos_watched bigint, views bigint, "
        "unique_viewers bigint, watch_ms_total bigint, mean_completion double, "
        "like_rate double, share_rate double, comment_rate double, new_followers bigint, "
        "followers_total bigint",
        "Per-creator daily engagement and follower growth.",
        partition_by=("date",),
        key=("date", "creator_id"),
    )
)

# --- quarantine -----------------------------------------------------------------------------

QUARANTINE_EVENTS = register(
    TableSpec(
        "quarantine",
        "events",
        "entity string, raw string, landing_file string, line_no bigint, reason_code string, "
        "reason string, quarantined_at timestamp, ingest_date date",
        "Every landed record (any entity) that failed parsing or validation: raw line, source "
        "file and line, a stable reason_code and a reason with detail. MERGE on "
        "(landing_file, line_no), so a replay never adds a second row.",
        partition_by=("ingest_date",),
        key=("landing_file", "line_no"),
    )
)

# --- _meta: bookkeeping of the jobs -----------------------------------------------------------

META_INGESTED_FILES = register(
    TableSpec(
        "_meta",
        "ingested_files",
        "path string, entity string, size bigint, mtime timestamp, arrival_hour timestamp, "
        "lines bigint, accepted bigint, quarantined bigint, event_dates array<date>, "
        "interval_start timestamp, interval_end timestamp, ingested_at timestamp",
        "Landing files the ingest consumed (size and mtime tell a changed file), with per-file "
        "counts: lines = accepted + quarantined, and the event dates the file touched.",
        key=("path",),
    )
)
