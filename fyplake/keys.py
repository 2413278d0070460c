"""Every Valkey key the platform uses, in one place (documented in the README, "Valkey keys").

Two *versioned datasets* are published in batch and read by the API:

``feed``
    each user's ranked top-N (field = the user id, value = a packed feed, see
    ``fyplake.serving.codec``).
``lists``
    the non-personal lists: cold-start pools per demographic segment, trending, per-hashtag and
    per-sound top videos (field = a list name from the helpers below, same packed value).

A dataset version is a set of hash *shards* ``fyp:<dataset>:v<N>:s<shard>`` plus a meta hash
``fyp:<dataset>:v<N>:meta``; a field lives in shard ``crc32(field) % shards`` (the shard count is
recorded in the meta hash, so it can change between versions). One pointer
``fyp:<dataset>:current`` names the version the API reads; publishing writes a whole new version
and then flips the pointer, so a reader never sees a mix and a run that dies before the flip
changes nothing. Keeping a version in a handful of shard hashes (instead of one key per user)
makes a version one unit: it gets one TTL per shard, and dropping it is ``UNLINK`` of a few
hundred keys rather than a scan over a million.

Everything else is unversioned state that the API updates as events arrive (seen sets,
counters, event de-duplication) or that the video pipeline maintains (the ready set).

The helpers below are the only place key strings are spelled; code elsewhere calls them.
"""

from __future__ import annotations

import zlib

PREFIX = "fyp"

#: Versioned datasets.
FEED = "feed"
LISTS = "lists"
DATASETS = (FEED, LISTS)

#: A placeholder field written into every shard when a version starts, so the shard exists
#: (and carries its TTL) from the first moment; never a valid user id or list name.
SHARD_PLACEHOLDER = "_"


def _check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    return dataset


# --- versioned datasets ----------------------------------------------------------------------


def current(dataset: str) -> str:
    """STRING: the version number the API serves."""
    return f"{PREFIX}:{_check_dataset(dataset)}:current"


def versions(dataset: str) -> str:
    """ZSET: committed versions (member = version, score = version), newest last."""
    return f"{PREFIX}:{_check_dataset(dataset)}:versions"


def version_seq(dataset: str) -> str:
    """STRING counter: INCR allocates the next version number."""
    return f"{PREFIX}:{_check_dataset(dataset)}:seq"


def meta(dataset: str, version: int) -> str:
    """HASH: status (writing|complete), run_id, built_at_ms, started_at, published_at, shards,
    items, sources (JSON list: the source name of each code in packed values)."""
    return f"{PREFIX}:{_check_dataset(dataset)}:v{int(version)}:meta"


def shard(dataset: str, version: int, index: int) -> str:
    """HASH: field -> packed value, for the fields with ``shard_of(field) == index``."""
    return f"{PREFIX}:{_check_dataset(dataset)}:v{int(version)}:s{int(index)}"


def shard_of(field: str | bytes, shards: int) -> int:
    """The shard a field lives in (stable across processes and languages: CRC-32)."""
    data = field.encode() if isinstance(field, str) else field
    return zlib.crc32(data) % shards


# --- list names inside the ``lists`` dataset ---------------------------------------------------

#: Segment value meaning "any" in cold-start pool names (a NULL segment column when published).
ANY = "*"
TRENDING = "trending"
#: The diverse exploration list new users get 30% of their cold-start feed from.
DIVERSE = "diverse"


def coldstart_list(age_band: str | None, country: str | None, language: str | None) -> str:
    """Cold-start pool of one demographic segment; None/'' become ``*`` (any)."""
    return f"coldstart:{age_band or ANY}:{country or ANY}:{language or ANY}"


def coldstart_fallbacks(age_band: str, country: str, language: str) -> list[str]:
    """Pools to try for a user, most specific first; the last one is the global pool."""
    names = [
        coldstart_list(age_band, country, language),
        coldstart_list(age_band, country, ANY),
        coldstart_list(ANY, country, language),
        coldstart_list(ANY, country, ANY),
        coldstart_list(ANY, ANY, language),
        coldstart_list(ANY, ANY, ANY),
    ]
    return list(dict.fromkeys(names))  # de-duplicated, order kept


def hashtag_list(tag: str) -> str:
    """Top videos of one hashtag (lower case, no '#')."""
    return f"hashtag:{normalize_hashtag(tag)}"


def sound_list(sound_id: int) -> str:
    """Top videos using one sound."""
    return f"sound:{int(sound_id)}"


def normalize_hashtag(tag: str) -> str:
    return tag.strip().lstrip("#").lower()


# --- unversioned serving state -----------------------------------------------------------------

#: SET of video ids whose Postgres status is ``ready``; every served list is filtered by it.
READY_VIDEOS = f"{PREFIX}:videos:ready"


def seen(user_id: int) -> str:
    """ZSET: videos the user watched or skipped (member = video id, score = arrival time in ms)."""
    return f"{PREFIX}:seen:{int(user_id)}"


#: HASH of live counter increments not yet flushed to Postgres: field ``<video_id>:<metric>``.
COUNTERS_LIVE = f"{PREFIX}:counters:live"
#: SET of flush batch ids moved out of the live hash and not yet deleted after applying.
COUNTERS_PENDING = f"{PREFIX}:counters:pending"
COUNTER_METRICS = ("views", "likes", "comments", "shares")


def counters_batch(batch_id: str) -> str:
    """HASH: one flush batch (the live hash, renamed atomically), same fields as the live hash."""
    return f"{PREFIX}:counters:batch:{batch_id}"


def counter_field(video_id: int, metric: str) -> str:
    return f"{int(video_id)}:{metric}"


def event_dedupe(event_id: str) -> str:
    """STRING with a TTL: this event id already updated counters and the seen set."""
    return f"{PREFIX}:event:{event_id}"
