"""Publishing feeds and lists to Valkey: the functions the Spark jobs, the CLI and tests share.

Input shapes (what the recommendation engine's gold tables turn into):

* a feed row ``(user_id, video_ids, scores, sources[, ranked_by])``: one user's ranked list,
  best first; ``sources`` are candidate-source names ("followed", "hashtag", "sound",
  "trending", ...), ``ranked_by`` what ranked each item ("hybrid", "coldstart_popular", ...);
* or a :class:`FeedBatch` of many users in CSR arrays (an Arrow ``list`` column's layout);
* a list row ``(name, video_ids, scores)`` with ``name`` from ``fyplake.keys``
  (``coldstart_list(...)``, ``TRENDING``, ``hashtag_list(tag)``, ``sound_list(id)``).

Every publish is one new version of its dataset, committed only after every row was written
(see ``fyplake.serving.versions``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fyplake import keys
from fyplake.config import Settings, get_settings
from fyplake.serving import codec
from fyplake.serving.versions import PublishError, VersionedStore

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

#: (user_id, video_ids, scores, sources) or the same with ranked_by (one per item) at the end.
FeedRow = tuple[Any, ...]
ListRow = tuple[str, Sequence[int], Sequence[float]]


@dataclass(frozen=True)
class FeedBatch:
    """Many users' feeds as flat arrays: user i owns items ``offsets[i]:offsets[i+1]``."""

    user_ids: np.ndarray  # int64, shape (users,)
    offsets: np.ndarray  # int64, shape (users + 1,)
    video_ids: np.ndarray  # int64, shape (items,)
    scores: np.ndarray  # float32, shape (items,)
    source_codes: np.ndarray  # uint8, shape (items,), indexes the publish's source vocabulary

    def __len__(self) -> int:
        return int(self.user_ids.size)


@dataclass(frozen=True)
class PublishResult:
    dataset: str
    version: int
    previous: int | None
    items: int
    bytes: int
    seconds: float
    run_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "version": self.version,
            "previous": self.previous,
            "items": self.items,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "run_id": self.run_id,
        }


class SourceVocabulary:
    """(candidate source, ranker) <-> one-byte code, recorded in the version's meta as two
    aligned lists, ``sources`` and ``ranked_by`` (a source may repeat, once per ranker)."""

    def __init__(self, names: Iterable[str] = (), ranked_by: Iterable[str | None] = ()) -> None:
        self.names: list[str] = []
        self.ranked_by: list[str] = []
        self._codes: dict[tuple[str, str | None], int] = {}
        rankers = list(ranked_by)
        for i, name in enumerate(names):
            self.code(name, rankers[i] if i < len(rankers) else None)

    def code(self, name: str | None, ranked_by: str | None = None) -> int:
        key = (name or "unknown", ranked_by)
        code = self._codes.get(key)
        if code is None:
            if len(self.names) >= 256:
                raise PublishError("more than 256 distinct (source, ranker) pairs in one publish")
            code = self._codes[key] = len(self.names)
            self.names.append(key[0])
            self.ranked_by.append(ranked_by or "")
        return code

    def rankers(self) -> list[str]:
        """``ranked_by`` for the meta: empty when no code names a ranker."""
        return self.ranked_by if any(self.ranked_by) else []


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


# --- encoding rows into (field, value) pairs ------------------------------------------------


def encode_feed_rows(
    rows: Iterable[FeedRow], vocab: SourceVocabulary
) -> Iterator[tuple[str, bytes]]:
    for user_id, video_ids, scores, sources, *rest in rows:
        rankers = rest[0] if rest else [None] * len(sources)
        if not (len(video_ids) == len(scores) == len(sources) == len(rankers)):
            raise ValueError(f"user {user_id}: video_ids, scores and sources differ in length")
        codes = bytes(vocab.code(s, r) for s, r in zip(sources, rankers, strict=True))
        yield str(int(user_id)), codec.encode(video_ids, scores, codes)


def encode_feed_batches(batches: Iterable[FeedBatch]) -> Iterator[tuple[str, bytes]]:
    for batch in batches:
        blobs = codec.encode_csr(batch.offsets, batch.video_ids, batch.scores, batch.source_codes)
        yield from zip(map(str, batch.user_ids.tolist()), blobs, strict=True)


def encode_list_rows(rows: Iterable[ListRow]) -> Iterator[tuple[str, bytes]]:
    for name, video_ids, scores in rows:
        if name == keys.SHARD_PLACEHOLDER or not name:
            raise ValueError(f"invalid list name {name!r}")
        yield name, codec.encode(video_ids, scores)


# --- one-process publishing -----------------------------------------------------------------


def publish_dataset(
    client: redis.Redis,
    dataset: str,
    items: Iterable[tuple[str, bytes]],
    *,
    settings: Settings | None = None,
    run_id: str | None = None,
    built_at_ms: int | None = None,
    sources: SourceVocabulary | None = None,
    min_items: int = 0,
    shards: int | None = None,
) -> PublishResult:
    """Write every item as a new version of ``dataset`` and flip ``current`` to it.

    ``min_items``: refuse to flip when fewer items were written (a truncated input must not
    replace a good version). On any error the new version is dropped and the previous version
    keeps serving.
    """
    settings = settings or get_settings()
    run_id = run_id or new_run_id()
    store = VersionedStore(client, dataset, settings)
    t0 = time.perf_counter()
    version = store.begin(run_id=run_id, built_at_ms=built_at_ms, shards=shards)
    try:
        written, nbytes = store.write(version, items)
        if written < min_items:
            raise PublishError(
                f"{dataset}: only {written} items written, fewer than the {min_items} expected"
            )
        previous = store.commit(
            version,
            written,
            sources.names if sources else (),
            ranked_by=sources.rankers() if sources else (),
        )
    except BaseException:
        logger.exception(
            "%s: publish of version %d failed; previous version keeps serving", dataset, version
        )
        try:
            store.abort(version)
        except Exception:  # noqa: BLE001 - the TTL removes it anyway
            logger.warning("%s: could not drop failed version %d; its TTL will", dataset, version)
        raise
    return PublishResult(
        dataset, version, previous, written, nbytes, time.perf_counter() - t0, run_id
    )


def publish_feeds(
    client: redis.Redis,
    rows: Iterable[FeedRow] | Iterable[FeedBatch],
    *,
    settings: Settings | None = None,
    run_id: str | None = None,
    built_at_ms: int | None = None,
    sources: Sequence[str] = (),
    min_users: int = 0,
    ranked_by: Sequence[str] = (),
) -> PublishResult:
    """Publish every user's feed as one new ``feed`` version.

    ``rows`` yields feed rows, or :class:`FeedBatch` objects whose ``source_codes`` index
    ``sources`` (and ``ranked_by``, aligned with it). ``built_at_ms`` is the feed's data
    cut-off: watches that arrive after it are filtered out of the feed at read time (default:
    now).
    """
    vocab = SourceVocabulary(sources, ranked_by)
    it = iter(rows)
    first = next(it, None)
    if first is None:
        items: Iterable[tuple[str, bytes]] = iter(())
    elif isinstance(first, FeedBatch):
        items = encode_feed_batches(_chain(first, it))
    else:
        items = encode_feed_rows(_chain(first, it), vocab)
    return publish_dataset(
        client,
        keys.FEED,
        items,
        settings=settings,
        run_id=run_id,
        built_at_ms=built_at_ms,
        sources=vocab,
        min_items=min_users,
    )


def publish_lists(
    client: redis.Redis,
    rows: Iterable[ListRow],
    *,
    settings: Settings | None = None,
    run_id: str | None = None,
    built_at_ms: int | None = None,
    min_lists: int = 0,
) -> PublishResult:
    """Publish cold-start pools, trending, hashtag and sound lists as one ``lists`` version."""
    return publish_dataset(
        client,
        keys.LISTS,
        encode_list_rows(rows),
        settings=settings,
        run_id=run_id,
        built_at_ms=built_at_ms,
        min_items=min_lists,
    )


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
