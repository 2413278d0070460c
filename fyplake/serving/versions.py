"""Versioned datasets in Valkey: write a whole new version, then flip one pointer.

The life of a version (key formats in ``fyplake.keys``)::

    begin()   INCR seq -> N; meta {status: writing}; every shard created with a placeholder
              field; all with a TTL, so a run that dies leaves nothing that lives forever
    write()   HSET field -> value into the shards, pipelined in batches (many fields per HSET)
    commit()  one Lua script: meta {status: complete} + ZADD versions + SET current = N;
              refuses if a newer version is already current. Then the TTLs are refreshed and
              versions beyond the newest ``keep`` (and abandoned ones) are UNLINKed.

Readers resolve ``current`` once and read only shards of that version, so they never see a mix;
until ``commit`` the previous version keeps serving. ``rollback()`` points ``current`` at the
previous committed version whose keys still exist.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fyplake import keys
from fyplake.config import Settings, get_settings
from fyplake.serving import scripts

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """A publish or rollback that cannot go ahead (nothing was flipped)."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    status: str
    run_id: str = ""
    items: int = 0
    shards: int = 0
    built_at_ms: int = 0
    started_at_ms: int = 0
    published_at_ms: int = 0
    sources: tuple[str, ...] = ()
    ttl_s: int = -2
    extra: dict[str, str] = field(default_factory=dict)
    #: The ranker of each code (aligned with ``sources``; empty for lists and old versions).
    ranked_by: tuple[str, ...] = ()

    @classmethod
    def from_meta(cls, version: int, meta: dict[bytes | str, bytes | str], ttl: int) -> VersionInfo:
        m = {_s(k): _s(v) for k, v in meta.items()}
        known = {
            "status",
            "run_id",
            "items",
            "shards",
            "built_at_ms",
            "started_at_ms",
            "published_at",
            "sources",
            "ranked_by",
        }
        return cls(
            version=version,
            status=m.get("status", "unknown"),
            run_id=m.get("run_id", ""),
            items=int(m.get("items") or 0),
            shards=int(m.get("shards") or 0),
            built_at_ms=int(m.get("built_at_ms") or 0),
            started_at_ms=int(m.get("started_at_ms") or 0),
            published_at_ms=int(m.get("published_at") or 0),
            sources=tuple(json.loads(m["sources"])) if m.get("sources") else (),
            ranked_by=tuple(json.loads(m["ranked_by"])) if m.get("ranked_by") else (),
            ttl_s=ttl,
            extra={k: v for k, v in m.items() if k not in known},
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status,
            "run_id": self.run_id,
            "items": self.items,
            "shards": self.shards,
            "built_at_ms": self.built_at_ms,
            "published_at_ms": self.published_at_ms,
            "sources": list(self.sources),
            "ranked_by": list(self.ranked_by),
            "ttl_s": self.ttl_s,
            **self.extra,
        }


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class VersionedStore:
    """One dataset (``feed`` or ``lists``) in one Valkey, through a synchronous client."""

    def __init__(self, client: redis.Redis, dataset: str, settings: Settings | None = None) -> None:
        self.client = client
        self.dataset = dataset
        self.settings = settings or get_settings()
        keys.current(dataset)  # validates the name
        self._commit = client.register_script(scripts.COMMIT)

    # --- configuration --------------------------------------------------------------------
    @property
    def ttl_s(self) -> int:
        return self.settings.feed_ttl_s

    @property
    def keep(self) -> int:
        return max(1, self.settings.feed_versions_kept)

    def default_shards(self) -> int:
        if self.dataset == keys.FEED:
            return self.settings.feed_shards
        return self.settings.lists_shards

    # --- writing --------------------------------------------------------------------------
    def begin(
        self,
        run_id: str = "",
        built_at_ms: int | None = None,
        shards: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> int:
        """Allocate a version and create its (empty) shards with a TTL; returns the version."""
        shards = shards or self.default_shards()
        version = int(self.client.incr(keys.version_seq(self.dataset)))
        started = now_ms()
        meta_key = keys.meta(self.dataset, version)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(
            meta_key,
            mapping={
                "status": "writing",
                "run_id": run_id,
                "shards": shards,
                "built_at_ms": built_at_ms if built_at_ms is not None else started,
                "started_at_ms": started,
                **(extra or {}),
            },
        )
        pipe.expire(meta_key, self.ttl_s)
        for i in range(shards):
            shard_key = keys.shard(self.dataset, version, i)
            pipe.hset(shard_key, keys.SHARD_PLACEHOLDER, b"")
            pipe.expire(shard_key, self.ttl_s + 60)  # outlives its meta hash
        pipe.execute()
        logger.info(
            "%s: began version %d (%d shards, run %s)", self.dataset, version, shards, run_id
        )
        return version

    def shards_of(self, version: int) -> int:
        raw = self.client.hget(keys.meta(self.dataset, version), "shards")
        if raw is None:
            raise PublishError(f"{self.dataset} version {version} has no meta (expired or unknown)")
        return int(raw)

    def write(
        self,
        version: int,
        items: Iterable[tuple[str, bytes]],
        shards: int | None = None,
        batch_size: int | None = None,
    ) -> tuple[int, int]:
        """Write ``(field, value)`` pairs into the version; returns (items, bytes) written.

        Each batch is one pipeline round trip with one multi-field HSET per touched shard.
        """
        shards = shards or self.shards_of(version)
        batch_size = batch_size or self.settings.publish_batch_size
        shard_keys = [keys.shard(self.dataset, version, i) for i in range(shards)]
        written = nbytes = 0
        for chunk in _chunks(items, batch_size):
            groups: dict[int, dict[str, bytes]] = defaultdict(dict)
            for fld, value in chunk:
                groups[keys.shard_of(fld, shards)][fld] = value
                nbytes += len(value)
            pipe = self.client.pipeline(transaction=False)
            for idx, mapping in groups.items():
                pipe.hset(shard_keys[idx], mapping=mapping)
                # A writer still running after its version was aborted (a Spark task not yet
                # cancelled) re-creates a dropped shard: give it a TTL too (NX keeps an
                # existing one), so nothing a dead run wrote lives forever.
                pipe.expire(shard_keys[idx], self.ttl_s + 60, nx=True)
            pipe.execute()
            written += len(chunk)
        return written, nbytes

    def commit(
        self,
        version: int,
        items: int,
        sources: Iterable[str] = (),
        prune: bool = True,
        ranked_by: Iterable[str] = (),
    ) -> int | None:
        """Make ``version`` current (atomic); returns the version it replaced (None if none).
        ``sources``/``ranked_by``: the source and ranker each item code stands for."""
        import redis

        ranked_by = list(ranked_by)
        if ranked_by:  # readers ignore the meta until the commit below marks it complete
            self.client.hset(keys.meta(self.dataset, version), "ranked_by", json.dumps(ranked_by))
        try:
            previous = self._commit(
                keys=[
                    keys.meta(self.dataset, version),
                    keys.current(self.dataset),
                    keys.versions(self.dataset),
                ],
                args=[version, now_ms(), items, json.dumps(list(sources)), "0"],
            )
        except redis.ResponseError as exc:
            raise PublishError(f"{self.dataset} version {version} not committed: {exc}") from None
        self._refresh_ttl(version)
        logger.info("%s: version %d is current (was %s)", self.dataset, version, previous or None)
        if prune:
            self.prune()
        return int(previous) or None

    def abort(self, version: int) -> None:
        """Drop a version that will not be committed (never the current one)."""
        if self.current() == version:
            raise PublishError(f"{self.dataset} version {version} is current; roll back first")
        self._drop(version)

    # --- reading and maintenance -----------------------------------------------------------
    def current(self) -> int | None:
        raw = self.client.get(keys.current(self.dataset))
        return int(raw) if raw else None

    def info(self, version: int) -> VersionInfo | None:
        meta_key = keys.meta(self.dataset, version)
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(meta_key)
        pipe.ttl(meta_key)
        meta, ttl = pipe.execute()
        if not meta:
            return None
        return VersionInfo.from_meta(version, meta, int(ttl))

    def committed(self) -> list[int]:
        """Committed versions still listed, oldest first."""
        return [int(v) for v in self.client.zrange(keys.versions(self.dataset), 0, -1)]

    def status(self) -> dict[str, Any]:
        cur = self.current()
        listed = []
        for v in self.committed():
            info = self.info(v)
            entry = info.as_dict() if info else {"version": v, "status": "expired"}
            entry["current"] = v == cur
            listed.append(entry)
        return {"dataset": self.dataset, "current": cur, "versions": listed}

    def rollback(self, to: int | None = None) -> tuple[int | None, int]:
        """Point ``current`` at ``to`` or at the newest committed version older than current.

        Only versions whose meta still exists (so whose shards still exist) qualify. Returns
        (old, new). Optimistic: retried if a publish flips the pointer meanwhile.
        """
        import redis

        cur_key = keys.current(self.dataset)
        for _ in range(10):
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(cur_key)
                    raw = pipe.get(cur_key)
                    cur = int(raw) if raw else None
                    target = self._rollback_target(pipe, cur, to)
                    pipe.multi()
                    pipe.set(cur_key, target)
                    pipe.execute()
                except redis.WatchError:
                    continue
            logger.warning("%s: rolled back from version %s to %d", self.dataset, cur, target)
            return cur, target
        raise PublishError(f"{self.dataset}: pointer kept changing; rollback not applied")

    def _rollback_target(self, client: Any, cur: int | None, to: int | None) -> int:
        listed = [int(v) for v in client.zrange(keys.versions(self.dataset), 0, -1)]
        if to is not None:
            candidates = [to] if to in listed else []
            if not candidates:
                raise PublishError(
                    f"{self.dataset} version {to} is not a committed version "
                    f"(committed: {listed or 'none'})"
                )
        else:
            candidates = sorted((v for v in listed if cur is None or v < cur), reverse=True)
            if not candidates:
                raise PublishError(
                    f"{self.dataset}: no committed version older than current ({cur}) to roll "
                    "back to"
                )
        for v in candidates:
            if client.hget(keys.meta(self.dataset, v), "status") == b"complete":
                return v
        raise PublishError(
            f"{self.dataset}: versions {candidates} have expired; nothing to roll back to"
        )

    def prune(self) -> list[int]:
        """Drop committed versions beyond the newest ``keep`` (never current) and abandoned
        (never committed) versions older than current. Returns the versions dropped."""
        cur = self.current()
        listed = self.committed()
        keep = set(sorted(listed)[-self.keep :])
        if cur is not None:
            keep.add(cur)
        dropped = [v for v in listed if v not in keep]
        # Versions allocated but never committed, between the oldest listed and current.
        if cur is not None and listed:
            low = min(listed)
            listed_set = set(listed)
            for v in range(low + 1, cur):
                if v in listed_set:
                    continue
                status = self.client.hget(keys.meta(self.dataset, v), "status")
                if status == b"writing":
                    dropped.append(v)
        for v in dropped:
            self._drop(v)
        if dropped:
            logger.info("%s: dropped versions %s", self.dataset, sorted(dropped))
        return sorted(dropped)

    def _drop(self, version: int) -> None:
        meta_key = keys.meta(self.dataset, version)
        shards = self.client.hget(meta_key, "shards")
        count = int(shards) if shards else self.default_shards()
        pipe = self.client.pipeline(transaction=False)
        pipe.zrem(keys.versions(self.dataset), version)
        pipe.unlink(meta_key)
        for start in range(0, count, 500):
            stop = min(count, start + 500)
            pipe.unlink(*[keys.shard(self.dataset, version, i) for i in range(start, stop)])
        pipe.execute()

    def _refresh_ttl(self, version: int) -> None:
        shards = self.shards_of(version)
        pipe = self.client.pipeline(transaction=False)
        pipe.expire(keys.meta(self.dataset, version), self.ttl_s)
        for i in range(shards):
            pipe.expire(keys.shard(self.dataset, version, i), self.ttl_s + 60)
        pipe.execute()


def _chunks(items: Iterable[tuple[str, bytes]], size: int) -> Iterator[list[tuple[str, bytes]]]:
    chunk: list[tuple[str, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
