"""Publishing to Valkey: packed values, atomic version flips, failed runs, rollback, pruning."""

from __future__ import annotations

import numpy as np
import pytest

from fyplake import keys
from fyplake.config import Settings
from fyplake.serving import codec
from fyplake.serving.publish import FeedBatch, publish_feeds, publish_lists
from fyplake.serving.ready import mark_not_ready, mark_ready, sync_ready_set
from fyplake.serving.testing import clear_serving_keys
from fyplake.serving.versions import PublishError, VersionedStore

# --- pure: the packed format ------------------------------------------------------------------


def test_codec_round_trip_narrow_and_wide_ids():
    narrow = codec.encode([5, 4_000_000_000, 7], [0.5, 0.25, 1.0], [0, 2, 1])
    assert len(narrow) == 4 + 3 * (4 + 4 + 1)
    d = codec.decode(narrow)
    assert d.ids == [5, 4_000_000_000, 7]
    assert d.scores == [0.5, 0.25, 1.0]
    assert list(d.codes) == [0, 2, 1]

    wide = codec.encode([2**40 + 3, 1], [1.5, 2.5])
    assert len(wide) == 4 + 2 * (8 + 4 + 1)
    assert codec.decode(wide).ids == [2**40 + 3, 1]
    assert codec.decode_items(wide, [1, 0]) == [(1, 2.5, 0), (2**40 + 3, 1.5, 0)]


def test_codec_csr_matches_single_encoding_for_equal_and_ragged_rows():
    ids = np.arange(1, 13, dtype=np.int64)
    scores = np.linspace(1, 0, 12).astype(np.float32)
    codes = np.arange(12, dtype=np.uint8) % 3
    for offsets in ([0, 4, 8, 12], [0, 1, 7, 12]):
        blobs = codec.encode_csr(np.array(offsets), ids, scores, codes)
        expected = [
            codec.encode(ids[a:b], scores[a:b], codes[a:b])
            for a, b in zip(offsets[:-1], offsets[1:], strict=True)
        ]
        assert blobs == expected


def test_codec_rejects_foreign_bytes():
    with pytest.raises(ValueError):
        codec.decode(b"\x09\x00\x01\x00" + bytes(9))
    with pytest.raises(ValueError):
        codec.decode(codec.encode([1, 2])[:-1])


def test_key_formats_are_stable():
    assert keys.current("feed") == "fyp:feed:current"
    assert keys.shard("feed", 7, 3) == "fyp:feed:v7:s3"
    assert keys.meta("lists", 2) == "fyp:lists:v2:meta"
    assert keys.seen(42) == "fyp:seen:42"
    assert keys.coldstart_list("18-24", None, "en") == "coldstart:18-24:*:en"
    assert keys.hashtag_list("#Dance") == "hashtag:dance"
    assert keys.coldstart_fallbacks("18-24", "US", "en")[-1] == "coldstart:*:*:*"
    assert keys.shard_of("12345", 256) == keys.shard_of(b"12345", 256) < 256
    with pytest.raises(ValueError):
        keys.current("nope")


# --- against the embedded Valkey ---------------------------------------------------------------


@pytest.fixture
def vk(valkey):
    clear_serving_keys(valkey)
    yield valkey
    clear_serving_keys(valkey)


@pytest.fixture
def cfg():
    return Settings(feed_shards=4, lists_shards=2, feed_versions_kept=2, publish_batch_size=7)


def _rows(users, base, n=5):
    return [
        (
            u,
            [base + u * 100 + i for i in range(n)],
            [1.0 - i / 10 for i in range(n)],
            ["followed"] * n,
        )
        for u in users
    ]


def _feed(client, version, user_id):
    store = VersionedStore(client, keys.FEED)
    shards = store.shards_of(version)
    blob = client.hget(
        keys.shard(keys.FEED, version, keys.shard_of(str(user_id), shards)), str(user_id)
    )
    return codec.decode(blob).ids if blob else None


def test_publish_writes_a_version_then_flips_the_pointer(vk, cfg):
    first = publish_feeds(vk, _rows(range(1, 21), 0), settings=cfg, run_id="run-a")
    assert (first.version, first.previous, first.items) == (1, None, 20)
    assert vk.get(keys.current("feed")) == b"1"
    assert _feed(vk, 1, 3) == [300, 301, 302, 303, 304]

    second = publish_feeds(vk, _rows(range(1, 21), 10_000), settings=cfg, run_id="run-b")
    assert (second.version, second.previous) == (2, 1)
    assert _feed(vk, 2, 3) == [10_300, 10_301, 10_302, 10_303, 10_304]
    info = VersionedStore(vk, "feed", cfg).info(2)
    assert info.status == "complete" and info.run_id == "run-b" and info.items == 20
    assert info.sources == ("followed",)
    assert 0 < vk.ttl(keys.shard("feed", 2, 0)) <= cfg.feed_ttl_s + 60


def test_a_publish_that_dies_midway_leaves_the_previous_version_serving(vk, cfg):
    publish_feeds(vk, _rows(range(1, 11), 0), settings=cfg)

    def dying_rows():
        yield from _rows(range(1, 30), 50_000)  # several pipelined batches get written ...
        raise RuntimeError("executor lost")  # ... then the run dies

    with pytest.raises(RuntimeError, match="executor lost"):
        publish_feeds(vk, dying_rows(), settings=cfg)
    assert vk.get(keys.current("feed")) == b"1"
    assert _feed(vk, 1, 3) == [300, 301, 302, 303, 304]
    assert not vk.exists(keys.meta("feed", 2), keys.shard("feed", 2, 0))  # dropped
    assert VersionedStore(vk, "feed", cfg).committed() == [1]


def test_a_version_killed_before_commit_is_never_served_and_expires(vk, cfg):
    """A process killed between writes and commit (no cleanup at all): the partial version has
    a TTL on every key, is never current, and the next successful publish drops it."""
    publish_feeds(vk, _rows(range(1, 5), 0), settings=cfg)
    store = VersionedStore(vk, "feed", cfg)
    v = store.begin(run_id="killed")
    store.write(v, [("1", codec.encode([999]))])  # ... and the process dies here
    assert vk.get(keys.current("feed")) == b"1"
    assert all(0 < vk.ttl(keys.shard("feed", v, i)) for i in range(cfg.feed_shards))
    assert 0 < vk.ttl(keys.meta("feed", v))
    publish_feeds(vk, _rows(range(1, 5), 0), settings=cfg)
    assert not vk.exists(keys.meta("feed", v))


def test_a_writer_that_outlives_its_aborted_version_leaves_only_expiring_keys(vk, cfg):
    """A Spark task still writing after the driver dropped its version re-creates a shard:
    that key gets a TTL too, so a failed publish never leaves a key that lives forever."""
    store = VersionedStore(vk, "feed", cfg)
    v = store.begin(run_id="failed")
    store.abort(v)
    assert not vk.exists(*(keys.shard("feed", v, i) for i in range(cfg.feed_shards)))
    store.write(v, [(str(u), codec.encode([u])) for u in range(1, 9)], shards=cfg.feed_shards)
    recreated = [
        k for k in (keys.shard("feed", v, i) for i in range(cfg.feed_shards)) if vk.exists(k)
    ]
    assert recreated and all(0 < vk.ttl(k) <= cfg.feed_ttl_s + 60 for k in recreated)


def test_truncated_input_is_refused_by_min_users(vk, cfg):
    publish_feeds(vk, _rows(range(1, 11), 0), settings=cfg)
    with pytest.raises(PublishError, match="fewer than"):
        publish_feeds(vk, _rows(range(1, 4), 0), settings=cfg, min_users=10)
    assert vk.get(keys.current("feed")) == b"1"


def test_rollback_flips_back_and_old_versions_are_pruned(vk, cfg):
    for base in (0, 10_000, 20_000):
        publish_feeds(vk, _rows(range(1, 6), base), settings=cfg)
    store = VersionedStore(vk, "feed", cfg)
    # keep = 2: version 1 was dropped when version 3 was committed
    assert store.committed() == [2, 3]
    assert not vk.exists(keys.meta("feed", 1), keys.shard("feed", 1, 0))
    assert store.rollback() == (3, 2)
    assert vk.get(keys.current("feed")) == b"2"
    with pytest.raises(PublishError, match="no committed version older"):
        store.rollback()
    assert store.rollback(to=3) == (2, 3)
    with pytest.raises(PublishError, match="not a committed version"):
        store.rollback(to=1)


def test_rollback_skips_expired_versions(vk, cfg):
    publish_feeds(vk, _rows(range(1, 3), 0), settings=cfg)
    publish_feeds(vk, _rows(range(1, 3), 0), settings=cfg)
    vk.delete(keys.meta("feed", 1))  # as if its TTL ran out
    with pytest.raises(PublishError, match="expired"):
        VersionedStore(vk, "feed", cfg).rollback()
    assert vk.get(keys.current("feed")) == b"2"


def test_an_older_run_cannot_overwrite_a_newer_current_version(vk, cfg):
    store = VersionedStore(vk, "feed", cfg)
    slow = store.begin(run_id="slow")
    publish_feeds(vk, _rows(range(1, 3), 0), settings=cfg)  # a later run finishes first
    store.write(slow, [("1", codec.encode([1]))])
    with pytest.raises(PublishError, match="STALE"):
        store.commit(slow, 1)
    assert vk.get(keys.current("feed")) == b"2"


def test_feed_batches_publish_like_rows(vk, cfg):
    users = np.array([7, 8, 9], dtype=np.int64)
    offsets = np.array([0, 2, 2, 5], dtype=np.int64)  # user 8 has an empty feed
    batch = FeedBatch(
        users,
        offsets,
        np.array([70, 71, 90, 91, 92]),
        np.ones(5, np.float32),
        np.array([1, 0, 0, 1, 1], np.uint8),
    )
    res = publish_feeds(vk, [batch], settings=cfg, sources=["hashtag", "sound"])
    assert res.items == 3
    assert _feed(vk, res.version, 7) == [70, 71]
    assert _feed(vk, res.version, 8) == []
    assert VersionedStore(vk, "feed", cfg).info(res.version).sources == ("hashtag", "sound")


def test_lists_publish_as_their_own_dataset(vk, cfg):
    res = publish_lists(
        vk,
        [
            (keys.TRENDING, [1, 2, 3], [3.0, 2.0, 1.0]),
            (keys.coldstart_list("18-24", "US", "en"), [4, 5], [1.0, 0.5]),
            (keys.hashtag_list("dance"), [6], [1.0]),
        ],
        settings=cfg,
    )
    assert res.items == 3 and vk.get(keys.current("lists")) == b"1"
    assert vk.get(keys.current("feed")) is None
    shard = keys.shard("lists", 1, keys.shard_of(keys.TRENDING, cfg.lists_shards))
    assert codec.decode(vk.hget(shard, keys.TRENDING)).ids == [1, 2, 3]


def test_ready_set_sync_replaces_atomically(vk):
    mark_ready(vk, 1, 2, 3)
    assert sync_ready_set(vk, iter(range(10, 25)), batch=4) == 15
    assert vk.smembers(keys.READY_VIDEOS) == {str(i).encode() for i in range(10, 25)}
    mark_not_ready(vk, 10)
    assert not vk.sismember(keys.READY_VIDEOS, 10)
    assert sync_ready_set(vk, []) == 0
    assert not vk.exists(keys.READY_VIDEOS)


def test_page_items_reads_what_the_page_script_returns():
    # index (u16) + id + score + code, as fyplake/serving/scripts.py FEED_PAGE emits them
    import struct

    narrow = codec.encode([5, 6], [0.5, 0.25], [1, 2])
    payload = struct.pack("<HIfB", 1, 6, 0.25, 2)
    assert codec.page_items(narrow[:4], payload) == [(1, 6, 0.25, 2)]
    wide = codec.encode([2**40, 7], [1.0, 2.0])
    payload = struct.pack("<HqfB", 0, 2**40, 1.0, 0) + struct.pack("<HqfB", 1, 7, 2.0, 0)
    assert codec.page_items(wide[:4], payload) == [(0, 2**40, 1.0, 0), (1, 7, 2.0, 0)]
