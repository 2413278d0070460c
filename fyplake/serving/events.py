"""Accepted engagement events: durable append to the landing zone, then counters and seen sets.

The order is the guarantee: an event is accepted only once its landing file is fsync'd and
renamed into place; the Valkey updates come after and are best-effort. The API's requests share
landing files: ``EventRecorder.land`` hands them to a per-process group commit
(``fyplake.landing.GroupCommitter``), so requests arriving within a few ms are one file and one
fsync, and each request still returns only once its own bytes are durable. If Valkey is down
the event is still accepted and in the lake; its counter increments and seen-set entry are
simply missing (counts are eventually rebuilt from the lake's ``gold.video_daily_stats``; the
seen set only affects feed filtering until the next publish).
Valkey updates are applied once per ``event_id`` (a de-dup key with a TTL), so a client retry
with the same ids does not count twice; the lake de-duplicates on ``event_id`` as well.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fyplake import keys
from fyplake.config import Settings, get_settings
from fyplake.landing import GroupCommitter, landing_root, records_to_jsonl, write_records
from fyplake.serving import scripts

if TYPE_CHECKING:
    import redis.asyncio

logger = logging.getLogger(__name__)

#: Which counter an event type increments (the others increment none).
COUNTER_OF = {"watch": "views", "like": "likes", "comment": "comments", "share": "shares"}
#: Event types that put the video into the user's seen set (impressions).
SEEN_TYPES = frozenset({"watch", "skip"})
_SCRIPT_CHUNK = 200


def append_events(
    records: Sequence[Mapping[str, Any]], settings: Settings | None = None
) -> str | Path:
    """Durably append accepted events as one landing file (blocking: run it in a thread)."""
    settings = settings or get_settings()
    path = write_records(
        landing_root(settings), "events", records, producer="api", settings=settings
    )
    if path is None:
        raise ValueError("no events to append")
    return path


class EventRecorder:
    """Accepted events of one API process: their durable landing (group commit), then counters
    and seen sets through the API's async client."""

    def __init__(self, client: redis.asyncio.Redis, settings: Settings | None = None) -> None:
        self.client = client
        self.settings = settings or get_settings()
        self._script = client.register_script(scripts.RECORD_EVENTS)
        self._committer: GroupCommitter | None = None  # made on first use, on the API's loop

    async def land(self, records: Sequence[Mapping[str, Any]]) -> str | Path:
        """Durably append accepted events; returns once they are in a landing file (``OSError``
        if that file could not be written: then none of them is)."""
        s = self.settings
        if not records:
            raise ValueError("no events to append")
        if not s.event_group_commit:
            return await asyncio.to_thread(append_events, records, s)
        if self._committer is None:
            self._committer = GroupCommitter(
                landing_root(s),
                "events",
                "api",
                window_s=s.event_commit_window_ms / 1000,
                max_bytes=s.event_commit_max_bytes,
                settings=s,
            )
        return await self._committer.append(records_to_jsonl(records).encode())

    async def apply(self, records: Sequence[Mapping[str, Any]], now_ms: int | None = None) -> int:
        """Apply events to Valkey; returns how many were new (not applied before)."""
        now_ms = now_ms or int(time.time() * 1000)
        s = self.settings
        applied = 0
        for start in range(0, len(records), _SCRIPT_CHUNK):
            chunk = records[start : start + _SCRIPT_CHUNK]
            script_keys = [keys.COUNTERS_LIVE]
            args: list[Any] = [s.event_dedupe_ttl_s, s.seen_ttl_s, s.seen_max_entries, now_ms]
            for rec in chunk:
                etype = rec["event_type"]
                video_id = rec.get("video_id")
                script_keys += [keys.event_dedupe(rec["event_id"]), keys.seen(rec["user_id"])]
                metric = COUNTER_OF.get(etype)
                args.append(keys.counter_field(video_id, metric) if metric and video_id else "")
                args.append(str(video_id) if etype in SEEN_TYPES and video_id else "")
            applied += int(await self._script(keys=script_keys, args=args))
        return applied
