"""Helpers for serving tests and benchmarks: seed rows, clear keys, a free port.

A throw-away Valkey server (which starts a process) is ``infra.scratch.ScratchValkey``: the
library starts no server."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    import redis


def clear_serving_keys(client: redis.Redis, pattern: str = "fyp:*") -> int:
    """UNLINK every key matching ``pattern`` (the whole fyp: namespace by default)."""
    removed = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            removed += client.unlink(*batch)
            batch = []
    if batch:
        removed += client.unlink(*batch)
    return removed


def seed_users(conn: psycopg.Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Rows: (id, age_band, country, language[, is_creator])."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO users (id, age_band, country, language, is_creator) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "age_band = EXCLUDED.age_band, country = EXCLUDED.country, "
            "language = EXCLUDED.language",
            [(*r[:4], r[4] if len(r) > 4 else False) for r in rows],
        )


def seed_videos(conn: psycopg.Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Rows: (id, creator_id, status[, title, description, hashtags, sound_id])."""
    padded = []
    for r in rows:
        r = list(r) + [None] * (7 - len(r))
        padded.append((r[0], r[1], r[2], r[3] or "", r[4] or "", list(r[5] or []), r[6]))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO videos (id, creator_id, status, title, description, hashtags, "
            "sound_id) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "status = EXCLUDED.status, title = EXCLUDED.title, "
            "description = EXCLUDED.description, hashtags = EXCLUDED.hashtags, "
            "sound_id = EXCLUDED.sound_id",
            padded,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
