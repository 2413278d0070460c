"""The landing zone: raw records as every producer writes them (generator, importers, API).

Layout (documented in the README)::

    <lake>/landing/<entity>/date=YYYY-MM-DD/hour=HH/<producer>-<token>.jsonl

``entity`` is one of ``ENTITIES``; the date/hour is the *arrival* hour (the data interval that
ingests the file), not the event time, so late events arrive in a later interval's folder. Each
file is JSON Lines, written to a temporary name and renamed into place, so a reader never sees a
half-written file and a file, once visible, never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fyplake import storage

if TYPE_CHECKING:
    from fyplake.config import Settings

#: Landing entities and the fields each record carries. Optional fields may be absent or null.
ENTITIES: dict[str, dict[str, str]] = {
    "events": {
        "event_id": "str, unique per event; producers that re-send reuse it (dedupe key)",
        "event_type": "watch | skip | like | comment | share | follow",
        "user_id": "int",
        "video_id": "int, null for follow",
        "creator_id": "int, only for follow",
        "watch_ms": "int, for watch and skip",
        "event_time": "ISO-8601 UTC timestamp, e.g. 2026-11-01T13:45:12.345Z",
        "source": "str: generator | api | movielens | kuairec | csv",
        "comment_text": "str, optional, for comment",
    },
    "users": {
        "user_id": "int",
        "age_band": "13-17 | 18-24 | 25-34 | 35-44 | 45+",
        "country": "ISO-3166 alpha-2",
        "language": "ISO-639-1",
        "signup_time": "ISO-8601 UTC",
        "is_creator": "bool",
        "source": "str",
    },
    "videos": {
        "video_id": "int",
        "creator_id": "int",
        "duration_ms": "int",
        "title": "str",
        "description": "str",
        "hashtags": "list[str], lower case, no '#'",
        "sound_id": "int or null",
        "language": "ISO-639-1",
        "status": "processing | ready | failed | duplicate",
        "created_at": "ISO-8601 UTC",
        "source": "str",
    },
    "sounds": {
        "sound_id": "int",
        "title": "str",
        "creator_id": "int or null (original uploader)",
        "created_at": "ISO-8601 UTC",
        "source": "str",
    },
}

EVENT_TYPES = ("watch", "skip", "like", "comment", "share", "follow")


def iso_utc(ts: datetime) -> str:
    """The one timestamp spelling in landing files: UTC, millisecond precision, trailing Z."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def landing_root(settings: Settings) -> str | Path:
    """``<lake>/landing``: a ``Path`` for a local lake, a URL for an object-store one."""
    return storage.join(settings.lake, "landing")


def partition_dir(landing_root: str | Path, entity: str, arrival: datetime) -> str | Path:
    """The arrival hour's folder of ``entity`` (a ``Path``, or a URL for an object-store lake)."""
    if entity not in ENTITIES:
        raise ValueError(f"unknown landing entity {entity!r}; expected one of {sorted(ENTITIES)}")
    arrival = arrival.astimezone(UTC) if arrival.tzinfo else arrival
    return storage.join(landing_root, entity, f"date={arrival:%Y-%m-%d}", f"hour={arrival:%H}")


def write_jsonl_atomic(
    path_dir: str | Path,
    producer: str,
    lines: str | bytes,
    token: str | None = None,
    settings: Settings | None = None,
) -> str | Path:
    """Write one finished landing file (fsync'd, or one object PUT); returns its final path.

    ``token`` makes the name deterministic (a re-run of the same producer chunk overwrites the
    same file with the same bytes instead of adding a second copy).
    """
    final = storage.join(path_dir, f"{producer}-{token or uuid.uuid4().hex}.jsonl")
    data = lines.encode() if isinstance(lines, str) else lines
    storage.write_atomic(final, data, settings, fresh=token is None)
    return final


def records_to_jsonl(records: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    for rec in records:
        buf.write(json.dumps(rec, separators=(",", ":"), ensure_ascii=False))
        buf.write("\n")
    return buf.getvalue()


def write_records(
    landing_root: str | Path,
    entity: str,
    records: Iterable[Mapping[str, Any]],
    producer: str,
    arrival: datetime | None = None,
    token: str | None = None,
    settings: Settings | None = None,
) -> str | Path | None:
    """Append a batch of records to the landing zone as one new file (None for an empty batch)."""
    text = records_to_jsonl(records)
    if not text:
        return None
    arrival = arrival or datetime.now(UTC)
    return write_jsonl_atomic(
        partition_dir(landing_root, entity, arrival), producer, text, token, settings
    )


class GroupCommitter:
    """Group commit of one process's appends to one landing entity, on one asyncio loop.

    Appends that arrive within ``window_s`` of the oldest pending one share one landing file and
    one fsync (written in a worker thread, one write at a time); a group rolls to a new file at
    ``max_bytes`` (an append is never split: one larger than the cap gets a file of its own).
    ``append`` returns the file's path only once that file is fsync'd, renamed into place and
    its folder fsync'd; if the write fails, every append of the group gets the error and none
    of their bytes is in a visible file. An append cancelled before its group is written is
    left out. File names are random (``<producer>-<uuid4>.jsonl``), so processes each with a
    committer of their own never collide.
    """

    def __init__(
        self,
        landing_root: str | Path,
        entity: str,
        producer: str,
        window_s: float,
        max_bytes: int,
        settings: Settings | None = None,
    ) -> None:
        self.landing_root, self.entity, self.producer = landing_root, entity, producer
        self.window_s, self.max_bytes = window_s, max_bytes
        self.settings = settings
        self._pending: deque[tuple[bytes, asyncio.Future[Path], float]] = deque()
        self._pending_bytes = 0
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def append(self, data: bytes) -> Path:
        """Durably append ``data`` (whole JSON lines); returns the landing file holding it."""
        if not data:
            raise ValueError("nothing to append")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Path] = loop.create_future()
        self._pending.append((data, future, loop.time()))
        self._pending_bytes += len(data)
        if self._pending_bytes >= self.max_bytes:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_all())
        return await future

    async def _flush_all(self) -> None:
        """The leader: wait out the oldest append's window (or a full batch), write, repeat.
        Stopped (the loop shutting down), it cancels what it leaves, so no append waits forever."""
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                delay = self._pending[0][2] + self.window_s - loop.time()
                if delay > 0 and not self._full.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._full.wait()
                group = self._take_group()
                if group:
                    await self._write_group(group)
        except BaseException:
            while self._pending:
                self._pending.popleft()[1].cancel()
            self._pending_bytes = 0
            raise

    def _take_group(self) -> list[tuple[bytes, asyncio.Future[Path]]]:
        """Whole appends from the front, up to ``max_bytes`` (at least one); cancelled ones are
        dropped."""
        group, size = [], 0
        while self._pending:
            data, future, _ = self._pending[0]
            if group and size + len(data) > self.max_bytes:
                break
            self._pending.popleft()
            self._pending_bytes -= len(data)
            if not future.done():
                group.append((data, future))
                size += len(data)
        if self._pending_bytes < self.max_bytes:
            self._full.clear()
        return group

    async def _write_group(self, group: list[tuple[bytes, asyncio.Future[Path]]]) -> None:
        futures = [future for _, future in group]
        try:
            path = await asyncio.to_thread(self._write, b"".join(data for data, _ in group))
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - every waiter of the group gets it
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
        else:
            for future in futures:
                if not future.done():
                    future.set_result(path)

    def _write(self, data: bytes) -> Path:
        arrival = datetime.now(UTC)
        return write_jsonl_atomic(
            partition_dir(self.landing_root, self.entity, arrival),
            self.producer,
            data,
            settings=self.settings,
        )
