"""Publishing throughput: feeds/s for N users x K ids, next to a pipelined raw SET of the same
bytes, measured in the same run against the same (private, persistence-off) Valkey.

    .venv/bin/python bench/publish.py [--users 1000000] [--items 100]

The publish path is the production one (``publish_feeds`` with ``FeedBatch`` input, i.e. what a
Spark executor does with an Arrow batch): pack, group by shard, multi-field HSET in pipelined
batches, commit. The baseline SETs the very same packed values (pre-encoded, so it measures
only the transfer) one key per user, pipelined in batches of the same size.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fyplake.config import Settings  # noqa: E402
from fyplake.serving import codec  # noqa: E402
from fyplake.serving.publish import FeedBatch, publish_feeds  # noqa: E402
from infra.scratch import ScratchValkey  # noqa: E402

SOURCES = ["followed", "hashtag", "sound", "embedding", "trending", "exploration", "cowatch"]


def make_templates(templates: int, batch_users: int, items: int, seed: int) -> list[FeedBatch]:
    """A few distinct batches of random feeds; the benchmark reuses them with new user ids."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(templates):
        n = batch_users * items
        out.append(
            FeedBatch(
                user_ids=np.zeros(batch_users, dtype=np.int64),
                offsets=np.arange(0, n + 1, items, dtype=np.int64),
                video_ids=rng.integers(1, 20_000_000, n, dtype=np.int64),
                scores=rng.random(n, dtype=np.float32),
                source_codes=rng.integers(0, len(SOURCES), n, dtype=np.uint8),
            )
        )
    return out


def batches(templates: list[FeedBatch], users: int, batch_users: int):
    for i, start in enumerate(range(0, users, batch_users)):
        t = templates[i % len(templates)]
        n = min(batch_users, users - start)
        ids = np.arange(start + 1, start + 1 + n, dtype=np.int64)
        if n == batch_users:
            yield FeedBatch(ids, t.offsets, t.video_ids, t.scores, t.source_codes)
        else:
            stop = int(t.offsets[n])
            yield FeedBatch(
                ids, t.offsets[: n + 1], t.video_ids[:stop], t.scores[:stop], t.source_codes[:stop]
            )


def raw_set(client, templates: list[FeedBatch], users: int, batch_users: int) -> float:
    blobs = [codec.encode_csr(t.offsets, t.video_ids, t.scores, t.source_codes) for t in templates]
    t0 = time.perf_counter()
    for i, start in enumerate(range(0, users, batch_users)):
        values = blobs[i % len(blobs)]
        pipe = client.pipeline(transaction=False)
        for j in range(min(batch_users, users - start)):
            pipe.set(f"bench:raw:{start + j + 1}", values[j])
        pipe.execute()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--batch", type=int, default=10_000, help="users per pipelined round trip")
    ap.add_argument("--shards", type=int, default=256)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import redis

    settings = Settings(feed_shards=args.shards, publish_batch_size=args.batch)
    templates = make_templates(4, args.batch, args.items, seed=7)
    with ScratchValkey() as server:
        client = redis.Redis.from_url(server.url, socket_timeout=120)
        gc.collect()
        t0 = time.perf_counter()
        res = publish_feeds(
            client, batches(templates, args.users, args.batch), settings=settings, sources=SOURCES
        )
        publish_s = time.perf_counter() - t0
        used_publish = int(client.info("memory")["used_memory"])
        client.flushall()
        time.sleep(1.0)
        gc.collect()
        raw_s = raw_set(client, templates, args.users, args.batch)
        used_raw = int(client.info("memory")["used_memory"])
        client.close()

    out = {
        "users": res.items,
        "items_per_user": args.items,
        "value_bytes": res.bytes // max(res.items, 1),
        "publish_s": round(publish_s, 2),
        "feeds_per_s": round(res.items / publish_s),
        "raw_set_s": round(raw_s, 2),
        "raw_sets_per_s": round(args.users / raw_s),
        "ratio_publish_to_raw_set": round((res.items / publish_s) / (args.users / raw_s), 3),
        "valkey_mib_publish": round(used_publish / 2**20),
        "valkey_mib_raw": round(used_raw / 2**20),
    }
    if args.json:
        print(json.dumps(out))
        return
    print(
        f"publish {out['users']:,} users x {args.items} ids "
        f"({out['value_bytes']} B/feed): {out['publish_s']} s = {out['feeds_per_s']:,} feeds/s"
    )
    print(
        f"raw pipelined SET of the same bytes: {out['raw_set_s']} s = "
        f"{out['raw_sets_per_s']:,} SET/s"
    )
    print(
        f"ratio publish/raw: {out['ratio_publish_to_raw_set']}  "
        f"(Valkey memory: {out['valkey_mib_publish']} MiB published, "
        f"{out['valkey_mib_raw']} MiB raw)"
    )


if __name__ == "__main__":
    main()
