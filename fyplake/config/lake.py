"""The lake jobs: ingest, quarantine, silver/gold, quality gates, maintenance."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LakeSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    max_watch_multiple: float = Field(
        default=5.0,
        description="watch_ms above this multiple of the video's duration is quarantined (absurd).",
    )
    future_tolerance_s: int = Field(
        default=300,
        description="An event_time later than the end of its file's arrival hour by more than "
        "this (s) is quarantined as in the future.",
    )
    ingest_catchup_hours: int = Field(
        default=24,
        description="An ingest also takes unconsumed landing files this many hours before its "
        "interval (files that arrived in a folder after that folder's run).",
    )
    completion_cap: float = Field(
        default=3.0,
        description="silver completion_rate = min(watch_ms / duration, cap); >1 means loops.",
    )
    engagement_window_s: int = Field(
        default=3600,
        description="A like/share/comment counts for the latest watch of the same (user, video) "
        "at most this many seconds before it.",
    )
    quality_dir: str = Field(
        default="",
        description="Quality gate results and HTML data docs. Default: <home>/quality, or "
        "<lake>/_quality for a lake in an object store.",
    )
    quality_pandas_max_rows: int = Field(
        default=500_000,
        description="A gate validates a slice up to this many rows in pandas (fast), "
        "larger on Spark.",
    )
    vacuum_retain_hours: int = Field(
        default=168, ge=168, description="VACUUM retention (h); at least 7 days."
    )
    sql_fast_path_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        description="`fyp sql` uses delta-rs + DuckDB when the tables it reads are this small.",
    )
