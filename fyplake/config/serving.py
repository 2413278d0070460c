"""Feed publishing and the feed API (README "Serving settings")."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ServingSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    api_key: str = Field(
        default="fyp-dev-key",
        description="API key for write endpoints (X-API-Key header). Change it outside dev.",
    )
    api_host: str = Field(default="127.0.0.1", description="`fyp serve` bind address.")
    api_port: int = Field(default=8000, description="`fyp serve` port.")
    feed_page_size: int = Field(default=10, description="Default feed/list page size.")
    feed_page_max: int = Field(default=100, description="Largest page a client may ask for.")
    feed_versions_kept: int = Field(
        default=3, description="Committed feed/list versions kept for rollback."
    )
    feed_ttl_s: int = Field(
        default=4 * 86400, description="TTL of a published feed/list version (s)."
    )
    feed_shards: int = Field(default=256, description="Hash shards per feed version.")
    lists_shards: int = Field(default=16, description="Hash shards per lists version.")
    publish_batch_size: int = Field(
        default=10_000, description="Feeds/lists per pipelined write round trip."
    )
    pointer_refresh_s: float = Field(
        default=1.0, description="How often the API re-reads the current-version pointers (s)."
    )
    valkey_timeout_s: float = Field(
        default=0.5, description="API socket timeout for Valkey (s): an outage answers 503 fast."
    )
    seen_ttl_s: int = Field(default=7 * 86400, description="TTL of a user's seen set (s).")
    seen_max_entries: int = Field(default=2000, description="Newest entries kept per seen set.")
    event_batch_max: int = Field(default=1000, description="Most events in one POST /v1/events.")
    event_dedupe_ttl_s: int = Field(
        default=86400, description="How long an event id is remembered for counter de-dup (s)."
    )
    event_group_commit: bool = Field(
        default=True,
        description="POST /v1/events requests of an API process share landing files (group "
        "commit); false: one landing file per request.",
    )
    event_commit_window_ms: float = Field(
        default=5.0,
        ge=0,
        description="Group commit: how long the oldest waiting request waits for others to "
        "share its landing file and fsync (ms).",
    )
    event_commit_max_bytes: int = Field(
        default=8 * 2**20,
        gt=0,
        description="Group commit: a landing file rolls to the next past this size (bytes).",
    )
    counter_flush_chunk: int = Field(
        default=5000, description="HSCAN count when reading a counter flush batch."
    )
    upload_max_bytes: int = Field(
        default=512 * 1024 * 1024, description="Largest accepted upload (bytes)."
    )
    api_pg_pool_max: int = Field(default=8, description="API Postgres pool size.")
