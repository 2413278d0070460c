"""View/engagement counters: INCR in Valkey, flushed into Postgres exactly once.

The API increments fields ``<video_id>:<metric>`` of one live hash (``fyp:counters:live``). A
flush:

1. moves the live hash aside as a batch, atomically (``RENAME`` to ``fyp:counters:batch:<id>``
   and ``SADD fyp:counters:pending <id>`` in one Lua script; new increments start a fresh hash);
2. reads the batch and applies it to ``videos`` in ONE Postgres transaction that also inserts
   the batch id into ``counter_flush_batches``; a batch id already there means "applied", so
   the transaction adds nothing;
3. deletes the batch hash and its pending entry.

A crash after 1 leaves the batch pending: the next flush applies it first. A crash after 2 but
before 3 leaves it pending too: the next flush finds its id recorded and only deletes it. So
every increment reaches Postgres exactly once. Reads of live counts add the pending and live
increments to Postgres's (``live_counts``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fyplake import keys
from fyplake.serving import scripts

if TYPE_CHECKING:
    import psycopg
    import redis
    import redis.asyncio

logger = logging.getLogger(__name__)

METRICS = keys.COUNTER_METRICS
_COLUMNS = {
    "views": "view_count",
    "likes": "like_count",
    "comments": "comment_count",
    "shares": "share_count",
}
Hook = Callable[[str, str], None]


@dataclass
class FlushResult:
    applied: list[str] = field(default_factory=list)  # batches added to Postgres now
    already_applied: list[str] = field(default_factory=list)  # found recorded: only cleaned up
    videos: int = 0
    unknown_videos: int = 0
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METRICS, 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "already_applied": self.already_applied,
            "videos": self.videos,
            "unknown_videos": self.unknown_videos,
            "totals": self.totals,
        }


def new_batch_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:12]


def parse_fields(items: Iterable[tuple[bytes | str, bytes | str]]) -> dict[int, list[int]]:
    """Live-hash fields -> {video_id: [views, likes, comments, shares]}."""
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for raw_field, raw_value in items:
        fld = raw_field.decode() if isinstance(raw_field, bytes) else raw_field
        vid, _, metric = fld.partition(":")
        try:
            deltas[int(vid)][METRICS.index(metric)] += int(raw_value)
        except ValueError:
            logger.warning("ignoring malformed counter field %r", fld)
    return deltas


def flush_counters(
    client: redis.Redis,
    conn: psycopg.Connection,
    chunk: int = 5000,
    hook: Hook | None = None,
) -> FlushResult:
    """Flush pending and live counters into Postgres, exactly once (see the module doc).

    ``hook(stage, batch_id)`` is called at "rotated", "before_commit" and "committed"; tests
    raise from it to simulate a crash at that point.
    """
    hook = hook or (lambda stage, batch: None)
    result = FlushResult()
    pending = sorted(b.decode() for b in client.smembers(keys.COUNTERS_PENDING))
    batch_id = new_batch_id()
    rotate = client.register_script(scripts.ROTATE_COUNTERS)
    if rotate(
        keys=[keys.COUNTERS_LIVE, keys.counters_batch(batch_id), keys.COUNTERS_PENDING],
        args=[batch_id],
    ):
        pending.append(batch_id)
        hook("rotated", batch_id)
    for bid in pending:
        _apply_batch(client, conn, bid, chunk, hook, result)
    return result


def _apply_batch(
    client: redis.Redis,
    conn: psycopg.Connection,
    batch_id: str,
    chunk: int,
    hook: Hook,
    result: FlushResult,
) -> None:
    batch_key = keys.counters_batch(batch_id)
    deltas = parse_fields(client.hscan_iter(batch_key, count=chunk))
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO counter_flush_batches (batch_id, videos) VALUES (%s, %s) "
            "ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id",
            (batch_id, len(deltas)),
        ).fetchone()
        if row is not None and deltas:
            conn.execute(
                "CREATE TEMP TABLE fyp_counter_deltas (video_id BIGINT PRIMARY KEY, "
                "views BIGINT, likes BIGINT, comments BIGINT, shares BIGINT) ON COMMIT DROP"
            )
            with conn.cursor().copy(
                "COPY fyp_counter_deltas (video_id, views, likes, comments, shares) FROM STDIN"
            ) as copy:
                for vid, values in deltas.items():
                    copy.write_row((vid, *values))
            updated = conn.execute(
                "UPDATE videos v SET view_count = v.view_count + d.views, "
                "like_count = v.like_count + d.likes, "
                "comment_count = v.comment_count + d.comments, "
                "share_count = v.share_count + d.shares "
                "FROM fyp_counter_deltas d WHERE v.id = d.video_id"
            ).rowcount
            result.unknown_videos += len(deltas) - updated
        hook("before_commit", batch_id)
    hook("committed", batch_id)
    if row is not None:
        result.applied.append(batch_id)
        result.videos += len(deltas)
        for values in deltas.values():
            for metric, value in zip(METRICS, values, strict=True):
                result.totals[metric] += value
    else:
        result.already_applied.append(batch_id)
    pipe = client.pipeline(transaction=True)
    pipe.unlink(batch_key)
    pipe.srem(keys.COUNTERS_PENDING, batch_id)
    pipe.execute()
    logger.info(
        "counter batch %s: %s (%d videos)",
        batch_id,
        "applied" if row is not None else "already applied",
        len(deltas),
    )


AppliedLookup = Callable[[list[str]], Awaitable[set[str]]]


async def live_deltas(
    client: redis.asyncio.Redis, video_id: int, applied_lookup: AppliedLookup | None = None
) -> dict[str, int]:
    """Increments of one video not yet in Postgres: the live hash plus pending batches (those
    whose id ``applied_lookup`` reports as already applied are skipped)."""
    fields = [keys.counter_field(video_id, m) for m in METRICS]
    pipe = client.pipeline(transaction=False)
    pipe.hmget(keys.COUNTERS_LIVE, fields)
    pipe.smembers(keys.COUNTERS_PENDING)
    live, pending = await pipe.execute()
    totals = [int(v or 0) for v in live]
    batch_ids = sorted(b.decode() for b in pending)
    if batch_ids:
        done = await applied_lookup(batch_ids) if applied_lookup else set()
        todo = [b for b in batch_ids if b not in done]
        if todo:
            pipe = client.pipeline(transaction=False)
            for b in todo:
                pipe.hmget(keys.counters_batch(b), fields)
            for values in await pipe.execute():
                totals = [t + int(v or 0) for t, v in zip(totals, values, strict=True)]
    return dict(zip(METRICS, totals, strict=True))
