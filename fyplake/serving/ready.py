"""The ready set ``fyp:videos:ready``: every list the API serves is filtered by it.

Postgres ``videos.status`` is the truth; the set mirrors it. Publishing rebuilds it from Postgres
(``sync_ready_set``, swapped in with one RENAME); the video pipeline keeps it current between
publishes with ``mark_ready`` / ``mark_not_ready`` when it changes a video's status. A video
missing from the set is never served, so the set errs on the side of hiding.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from fyplake import keys

if TYPE_CHECKING:
    import psycopg
    import redis

logger = logging.getLogger(__name__)


def ready_ids_from_postgres(conn: psycopg.Connection, batch: int = 50_000) -> Iterator[int]:
    """Ids of ready videos, streamed with a server-side cursor."""
    with conn.transaction(), conn.cursor(name=f"ready_{uuid.uuid4().hex[:8]}") as cur:
        cur.itersize = batch
        cur.execute("SELECT id FROM videos WHERE status = 'ready'")
        for (vid,) in cur:
            yield int(vid)


def sync_ready_set(client: redis.Redis, video_ids: Iterable[int], batch: int = 10_000) -> int:
    """Replace the ready set with ``video_ids`` atomically (built aside, then RENAMEd)."""
    tmp = f"{keys.READY_VIDEOS}:build:{uuid.uuid4().hex}"
    count = 0
    pipe = client.pipeline(transaction=False)
    chunk: list[int] = []
    try:
        for vid in video_ids:
            chunk.append(vid)
            if len(chunk) >= batch:
                pipe.sadd(tmp, *chunk)
                count += len(chunk)
                chunk = []
                pipe.expire(tmp, 3600)
                pipe.execute()
        if chunk:
            pipe.sadd(tmp, *chunk)
            count += len(chunk)
            pipe.execute()
        if count:
            client.rename(tmp, keys.READY_VIDEOS)
            client.persist(keys.READY_VIDEOS)
        else:
            client.delete(keys.READY_VIDEOS)
    finally:
        client.unlink(tmp)
    logger.info("ready set rebuilt: %d videos", count)
    return count


def sync_ready_from_postgres(client: redis.Redis, conn: psycopg.Connection) -> int:
    return sync_ready_set(client, ready_ids_from_postgres(conn))


def mark_ready(client: redis.Redis, *video_ids: int) -> None:
    """Call when a video becomes ``ready`` (after Postgres committed the status)."""
    if video_ids:
        client.sadd(keys.READY_VIDEOS, *video_ids)


def mark_not_ready(client: redis.Redis, *video_ids: int) -> None:
    """Call when a video stops being servable (failed, duplicate, taken down)."""
    if video_ids:
        client.srem(keys.READY_VIDEOS, *video_ids)
