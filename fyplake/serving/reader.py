"""Reading published feeds and lists: the one code path behind the API and `fyp feed`.

A feed page is, in order:

1. the user's published feed in the current ``feed`` version, from the cursor's offset, skipping
   videos that are not in the ready set and videos the user watched or skipped after the feed
   was built (the seen zset) -- done server-side by ``lua/feed_page.lua`` in one round trip;
2. once the feed runs out (or the user has none: a cold-start user), the top-up sequence: the
   user's cold-start pool (most specific demographic segment published) followed by trending,
   de-duplicated, minus the user's feed and anything the user has seen, ready videos only.

The cursor pins the dataset versions of the first page, so every page of one scroll comes from
the same versions even if a publish or rollback happens in between.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from fyplake import keys
from fyplake.catalog import feed_display_score
from fyplake.config import Settings, get_settings
from fyplake.serving import codec, scripts
from fyplake.serving.versions import VersionInfo

if TYPE_CHECKING:
    import redis.asyncio

logger = logging.getLogger(__name__)

Segment = tuple[str, str, str]  # (age_band, country, language)
DemographicsLookup = Callable[[int], Awaitable[Segment | None]]

UNKNOWN_SEGMENT: Segment = ("unknown", "unknown", "unknown")
#: Source names of top-up items (the same names the recommendation engine uses).
SOURCE_POPULAR = "coldstart_popular"
SOURCE_DIVERSE = "coldstart_diverse"
SOURCE_TRENDING = "trending"
PHASE_FEED = 0
PHASE_TOPUP = 1


class CursorError(ValueError):
    """A cursor that this service did not produce."""


#: Bounds of a cursor's fields (exclusive): versions come from INCR, offsets index a published
#: list or a result set. Anything beyond is crafted, and would overflow Postgres' bigint.
CURSOR_VERSION_MAX = 2**53
CURSOR_OFFSET_MAX = 2**31
CURSOR_MAX_CHARS = 200


@dataclass(frozen=True)
class Cursor:
    feed_version: int
    lists_version: int
    phase: int
    offset: int

    def encode(self) -> str:
        raw = f"{self.feed_version}.{self.lists_version}.{self.phase}.{self.offset}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor ``text`` names; ``CursorError`` unless ``encode`` could have produced it
        with every field in bounds. The one check of cursors for the API and the CLI."""
        try:
            if len(text) > CURSOR_MAX_CHARS:
                raise ValueError("too long")
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            fv, lv, phase, offset = (int(p) for p in raw.split("."))
            cursor = cls(fv, lv, phase, offset)
            # int() also takes "+5", "05", "5_0" and " 5": only the canonical spelling is ours
            if not cursor._in_bounds() or cursor.encode() != text.rstrip("="):
                raise ValueError("not a cursor of ours")
        except (ValueError, UnicodeDecodeError):
            raise CursorError(f"invalid cursor {text[:40]!r}") from None
        return cursor

    def _in_bounds(self) -> bool:
        return (
            0 <= self.feed_version < CURSOR_VERSION_MAX
            and 0 <= self.lists_version < CURSOR_VERSION_MAX
            and 0 <= self.offset < CURSOR_OFFSET_MAX
            and self.phase in (PHASE_FEED, PHASE_TOPUP)
        )


class Item(NamedTuple):  # a tuple: ten of these per page are built on the hot path
    video_id: int
    score: float
    source: str
    rank: int
    #: What ranked it: the published feed's ranker of its code, or for a top-up item the list
    #: it came from; None for a list page or a feed published without rankers.
    ranked_by: str | None = None


def topup_score(rank: int) -> float:
    """A top-up item's score: the display score of its rank in the user's sequence, like the
    published feed's (``catalog.feed_display_score``), so scores keep falling past the feed."""
    return feed_display_score(rank)


@dataclass(frozen=True)
class FeedPage:
    user_id: int
    items: list[Item]
    next_cursor: str | None
    feed_version: int | None
    lists_version: int | None
    personalized: bool
    segment: Segment | None = None


@dataclass(frozen=True)
class ListPage:
    name: str
    items: list[Item]
    next_cursor: str | None
    lists_version: int


@dataclass
class _Pointer:
    """The cached ``current`` version of one dataset (refreshed at most every ``refresh_s``)."""

    dataset: str
    refresh_s: float
    info: VersionInfo | None = None
    loaded: bool = False
    expires: float = 0.0
    metas: OrderedDict[int, VersionInfo | None] = field(default_factory=OrderedDict)


class ServingReader:
    """Async reads of the published datasets. One per process; safe for concurrent use."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        settings: Settings | None = None,
        demographics: DemographicsLookup | None = None,
    ) -> None:
        self.client = client
        self.settings = settings or get_settings()
        self.demographics = demographics
        refresh = self.settings.pointer_refresh_s
        self._pointers = {ds: _Pointer(ds, refresh) for ds in keys.DATASETS}
        self._feed_page = client.register_script(scripts.FEED_PAGE)
        self._lists: OrderedDict[tuple[int, str], codec.Decoded | None] = OrderedDict()
        self._lists_max = 4096

    # --- dataset versions ----------------------------------------------------------------
    async def current(self, dataset: str) -> VersionInfo | None:
        ptr = self._pointers[dataset]
        now = time.monotonic()
        if ptr.loaded and now < ptr.expires:
            return ptr.info
        ptr.expires = now + ptr.refresh_s  # concurrent callers keep the old value meanwhile
        try:
            raw = await self.client.get(keys.current(dataset))
            version = int(raw) if raw else None
            ptr.info = await self.version(dataset, version) if version else None
            ptr.loaded = True
        except BaseException:
            ptr.expires = 0.0
            raise
        return ptr.info

    async def version(self, dataset: str, version: int) -> VersionInfo | None:
        """A committed version's meta (cached; None if it expired or was never committed)."""
        ptr = self._pointers[dataset]
        if version in ptr.metas:
            return ptr.metas[version]
        meta = await self.client.hgetall(keys.meta(dataset, version))
        info = VersionInfo.from_meta(version, meta, -1) if meta else None
        if info is not None and info.status != "complete":
            info = None
        if info is not None:  # complete metas never change; misses are not cached
            ptr.metas[version] = info
            while len(ptr.metas) > 32:
                ptr.metas.popitem(last=False)
        return info

    def invalidate(self) -> None:
        for ptr in self._pointers.values():
            ptr.loaded = False
            ptr.expires = 0.0

    async def _pinned(self, dataset: str, version: int) -> VersionInfo | None:
        """The version a cursor names, or the current one if it is gone (0 = current)."""
        if version:
            info = await self.version(dataset, version)
            if info is not None:
                return info
        return await self.current(dataset)

    # --- lists -----------------------------------------------------------------------------
    async def get_list(self, info: VersionInfo, name: str) -> codec.Decoded | None:
        key = (info.version, name)
        if key in self._lists:
            self._lists.move_to_end(key)
            return self._lists[key]
        shard = keys.shard(keys.LISTS, info.version, keys.shard_of(name, info.shards))
        blob = await self.client.hget(shard, name)
        decoded = codec.decode(blob) if blob else None
        self._lists[key] = decoded
        while len(self._lists) > self._lists_max:
            self._lists.popitem(last=False)
        return decoded

    async def list_page(self, name: str, limit: int, cursor: str | None = None) -> ListPage | None:
        """A page of a published list (ready videos only); None if the list is not published."""
        lv, offset = 0, 0
        if cursor:
            c = Cursor.decode(cursor)
            lv, offset = c.lists_version, c.offset
        info = await self._pinned(keys.LISTS, lv)
        if info is None:
            return None
        if info.version != lv:
            offset = 0
        decoded = await self.get_list(info, name)
        if decoded is None:
            return None
        picked, next_offset = await self._walk(decoded.ids, offset, limit, None, 0, set())
        items = [Item(decoded.ids[i], decoded.scores[i], name, i + 1) for i in picked]
        next_cursor = (
            Cursor(0, info.version, PHASE_TOPUP, next_offset).encode()
            if next_offset < len(decoded)
            else None
        )
        return ListPage(name, items, next_cursor, info.version)

    async def topup_sequence(
        self, info: VersionInfo | None, segment: Segment
    ) -> tuple[list[int], list[float], list[str]]:
        """What follows an exhausted feed (and is the whole feed of a cold-start user): the
        design's cold-start mix -- the segment's popular pool and the diverse exploration list
        interleaved 70/30 (``rec_cold_popular_share``) -- then trending, de-duplicated."""
        if info is None:
            return [], [], []
        pool = None
        for name in keys.coldstart_fallbacks(*segment):
            pool = await self.get_list(info, name)
            if pool is not None:
                break
        diverse = await self.get_list(info, keys.DIVERSE)
        trending = await self.get_list(info, keys.TRENDING)
        share = float(getattr(self.settings, "rec_cold_popular_share", 0.7))
        mixed = interleave(
            [(pool, SOURCE_POPULAR), (diverse, SOURCE_DIVERSE)], [share, 1.0 - share]
        )
        ids: list[int] = []
        scores: list[float] = []
        sources: list[str] = []
        seen: set[int] = set()
        tail = (
            zip(trending.ids, trending.scores, [SOURCE_TRENDING] * len(trending), strict=True)
            if trending
            else ()
        )
        for vid, score, source in (*mixed, *tail):
            if vid not in seen:
                seen.add(vid)
                ids.append(vid)
                scores.append(score)
                sources.append(source)
        return ids, scores, sources

    # --- feeds -----------------------------------------------------------------------------
    async def feed_page(
        self,
        user_id: int,
        limit: int | None = None,
        cursor: str | None = None,
        segment: Segment | None = None,
    ) -> FeedPage:
        limit = min(limit or self.settings.feed_page_size, self.settings.feed_page_max)
        c = Cursor.decode(cursor) if cursor else Cursor(0, 0, PHASE_FEED, 0)
        finfo = await self._pinned(keys.FEED, c.feed_version)
        linfo = await self._pinned(keys.LISTS, c.lists_version)
        phase, offset = c.phase, c.offset
        if (c.feed_version and (finfo is None or finfo.version != c.feed_version)) or (
            c.lists_version and (linfo is None or linfo.version != c.lists_version)
        ):
            phase, offset = PHASE_FEED, 0  # the pinned versions expired: start over
        fv = finfo.version if finfo else 0
        lv = linfo.version if linfo else 0
        items: list[Item] = []
        feed_ids: list[int] | None = None
        personalized = False
        seen_key = keys.seen(user_id)

        if phase == PHASE_FEED and finfo is not None:
            # Ids the script tests per SMISMEMBER/ZMSCORE round inside Valkey: a little over the
            # page, since a published feed rarely holds unready or seen videos (every id tested
            # is decoded, formatted and looked up in Lua: the script's main cost); more rounds
            # follow inside the same call when too many are filtered out.
            window = limit + max(2, limit // 4)
            shard = keys.shard(keys.FEED, fv, keys.shard_of(str(user_id), finfo.shards))
            res = await self._run_feed_page(
                (shard, seen_key, keys.READY_VIDEOS),
                (user_id, offset, limit, finfo.built_at_ms, window),
            )
            if res:
                personalized = True
                head, next_offset, payload, blob = res[0], int(res[1]), res[2], res[3]
                names, rankers = finfo.sources, finfo.ranked_by
                for idx, vid, score, code in codec.page_items(head, payload):
                    source = names[code] if code < len(names) else "unknown"
                    ranked = rankers[code] or None if code < len(rankers) else None
                    items.append(Item(vid, score, source, idx + 1, ranked))
                if not blob:  # the feed goes on after this page
                    nxt = Cursor(fv, lv, PHASE_FEED, next_offset).encode()
                    return FeedPage(user_id, items, nxt, fv or None, lv or None, True)
                if len(items) >= limit:  # the feed ended exactly at the page's end
                    nxt = Cursor(fv, lv, PHASE_TOPUP, 0).encode()
                    return FeedPage(user_id, items, nxt, fv or None, lv or None, True)
                feed_ids = codec.decode(blob).ids
            phase, offset = PHASE_TOPUP, 0
        elif phase == PHASE_TOPUP and finfo is not None:
            shard = keys.shard(keys.FEED, fv, keys.shard_of(str(user_id), finfo.shards))
            blob = await self.client.hget(shard, str(user_id))
            if blob:
                personalized = True
                feed_ids = codec.decode(blob).ids

        # Top-up: the feed ran out, or the user has no personal feed (cold start).
        if segment is None:
            segment = await self._segment(user_id)
        seq_ids, seq_scores, seq_sources = await self.topup_sequence(linfo, segment)
        base_rank = len(feed_ids) if feed_ids else 0
        next_cursor = None
        if seq_ids and len(items) < limit:
            exclude = set(feed_ids or ()) | {it.video_id for it in items}
            picked, next_offset = await self._walk(
                seq_ids, offset, limit - len(items), seen_key, 0, exclude
            )
            items.extend(
                Item(
                    seq_ids[i],
                    topup_score(base_rank + i + 1),
                    seq_sources[i],
                    base_rank + i + 1,
                    seq_sources[i],
                )
                for i in picked
            )
            if next_offset < len(seq_ids):
                next_cursor = Cursor(fv, lv, PHASE_TOPUP, next_offset).encode()
        return FeedPage(user_id, items, next_cursor, fv or None, lv or None, personalized, segment)

    async def _run_feed_page(self, script_keys: tuple, args: tuple):  # noqa: ANN202 - reply
        """The feed-page script's reply: ``EVALSHA`` written pre-packed on a pooled connection
        and its reply read straight back, without redis-py's per-command machinery (argument
        encoding, retry wrapper, observability hooks: about a third of the route's client-side
        CPU). Anything unusual (the script not loaded yet, a dropped connection, a timeout)
        takes the ordinary path, ``Script.__call__`` with the client's retry, whose errors the
        API maps to 503 as before."""
        pool = self.client.connection_pool
        if self.client.connection is not None or not hasattr(pool, "get_connection"):
            return await self._feed_page(keys=list(script_keys), args=list(args))
        parts = [
            self._feed_page.sha.encode(),
            b"%d" % len(script_keys),
            *(k.encode() for k in script_keys),
            *(b"%d" % int(a) for a in args),
        ]
        packed = b"*%d\r\n$7\r\nEVALSHA\r\n" % (len(parts) + 1) + b"".join(
            b"$%d\r\n%s\r\n" % (len(p), p) for p in parts
        )
        conn = None
        try:
            conn = await pool.get_connection()
            await conn.send_packed_command(packed)
            reply = await conn.read_response()
        except Exception:  # noqa: BLE001 - NOSCRIPT, a stale connection: the ordinary path
            if conn is not None:
                await conn.disconnect()
            reply = _RETRY
        finally:
            if conn is not None:
                await pool.release(conn)
        if reply is _RETRY:
            return await self._feed_page(keys=list(script_keys), args=list(args))
        return reply

    async def _segment(self, user_id: int) -> Segment:
        if self.demographics is None:
            return UNKNOWN_SEGMENT
        try:
            found = await self.demographics(user_id)
        except Exception as exc:  # noqa: BLE001 - a Postgres outage degrades to the global pool
            logger.warning("demographics of user %d unavailable (%s)", user_id, exc)
            return UNKNOWN_SEGMENT
        return found or UNKNOWN_SEGMENT

    async def _walk(
        self,
        ids: Sequence[int],
        offset: int,
        limit: int,
        seen_key: str | None,
        threshold_ms: int,
        exclude: set[int],
    ) -> tuple[list[int], int]:
        """Indexes of the next ``limit`` servable ids from ``offset``, and the offset after."""
        picked: list[int] = []
        pos = offset
        window = max(2 * limit, limit + 10)
        while len(picked) < limit and pos < len(ids):
            stop = min(len(ids), pos + window)
            cand = [i for i in range(pos, stop) if ids[i] not in exclude]
            if cand:
                ok = await self.servable([ids[i] for i in cand], seen_key, threshold_ms)
                for i, good in zip(cand, ok, strict=True):
                    if good:
                        picked.append(i)
                        if len(picked) == limit:
                            return picked, i + 1
            pos = stop
        return picked, pos

    async def servable(
        self, video_ids: Sequence[int], seen_key: str | None = None, threshold_ms: int = 0
    ) -> list[bool]:
        """Per id: in the ready set and (with a seen key) not seen at or after the threshold."""
        if not video_ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        pipe.smismember(keys.READY_VIDEOS, list(video_ids))
        if seen_key:
            pipe.zmscore(seen_key, list(video_ids))
        res = await pipe.execute()
        ready = res[0]
        seen = res[1] if seen_key else [None] * len(video_ids)
        return [
            bool(r) and not (s is not None and s >= threshold_ms)
            for r, s in zip(ready, seen, strict=True)
        ]

    async def ready(self, video_ids: Sequence[int]) -> list[bool]:
        return await self.servable(video_ids)


#: The direct feed-page read failed: take the ordinary path.
_RETRY = object()


def interleave(
    lists: Sequence[tuple[codec.Decoded | None, str]], shares: Sequence[float]
) -> list[tuple[int, float, str]]:
    """Mix ranked lists by target shares: each position takes the next item of the list
    furthest below its share (ties: the earlier list); an exhausted list drops out."""
    present = [(d, src, sh) for (d, src), sh in zip(lists, shares, strict=True) if d]
    ptr = [0] * len(present)
    out: list[tuple[int, float, str]] = []
    total = sum(len(d) for d, _, _ in present)
    while len(out) < total:
        best, best_deficit = -1, float("-inf")
        for i, (d, _, sh) in enumerate(present):
            if ptr[i] < len(d):
                deficit = sh * (len(out) + 1) - ptr[i]
                if deficit > best_deficit + 1e-12:
                    best, best_deficit = i, deficit
        d, src, _ = present[best]
        out.append((d.ids[ptr[best]], d.scores[ptr[best]], src))
        ptr[best] += 1
    return out


def pg_demographics(pool) -> DemographicsLookup:  # noqa: ANN001 - psycopg_pool.AsyncConnectionPool
    """A demographics lookup over an async Postgres pool (users table)."""

    async def lookup(user_id: int) -> Segment | None:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT age_band, country, language FROM users WHERE id = %s", (user_id,)
            )
            row = await cur.fetchone()
        return (row[0], row[1], row[2]) if row else None

    return lookup
