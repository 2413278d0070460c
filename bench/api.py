"""Feed API load: GET /v1/feed over loopback at C concurrent keep-alive connections, next to raw
Valkey GET throughput measured in the same run with the same load generator and concurrency.

    .venv/bin/python bench/api.py [--connections 50] [--seconds 10] [--workers 1]

A throw-away world (its own FYP_HOME: embedded Postgres + Valkey) gets N users' published feeds
(100 ids each), lists, a ready set and some seen sets; the API runs under uvicorn (uvloop,
httptools) in a subprocess. The load generator is our own: asyncio + uvloop, one coroutine per
connection, each sending a request and waiting for the whole response (closed loop, like wrk),
HTTP/1.1 keep-alive on raw sockets. The raw Valkey load is the same loop speaking RESP ``GET``
of ~1 KB values (the size of a packed feed). Reported: requests/s, p50/p99/max latency, and the
API rate as a share of the raw Valkey GET rate; also the raw rate through ``redis.asyncio``
(the client the API uses) for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


# --- the load generator ---------------------------------------------------------------------


async def _http_conn(port: int, paths: list[str], stop: float, lat: list[int],
                     errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    perf = time.perf_counter_ns
    rnd = random.Random(os.getpid() ^ id(lat))
    reqs = [f"GET {p} HTTP/1.1\r\nHost: bench\r\n\r\n".encode() for p in paths]
    try:
        while time.monotonic() < stop:
            t0 = perf()
            writer.write(reqs[rnd.randrange(len(reqs))])
            head = await reader.readuntil(b"\r\n\r\n")
            i = head.find(b"content-length:")
            if i < 0:
                i = head.lower().find(b"content-length:")
            j = head.find(b"\r\n", i)
            await reader.readexactly(int(head[i + 15 : j]))
            lat.append(perf() - t0)
            if head[9:12] != b"200":
                errors.append(int(head[9:12]))
    finally:
        writer.close()


async def _resp_conn(port: int, keys: list[bytes], stop: float, lat: list[int],
                     errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    perf = time.perf_counter_ns
    rnd = random.Random(os.getpid() ^ id(lat))
    cmds = [b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k) for k in keys]
    try:
        while time.monotonic() < stop:
            t0 = perf()
            writer.write(cmds[rnd.randrange(len(cmds))])
            head = await reader.readuntil(b"\r\n")
            if head[:1] == b"$" and head[1:2] != b"-":
                await reader.readexactly(int(head[1:-2]) + 2)
            else:
                errors.append(1)
            lat.append(perf() - t0)
    finally:
        writer.close()


async def _redis_py_conn(client, keys: list[bytes], stop: float, lat: list[int],
                         errors: list[int]) -> None:
    perf = time.perf_counter_ns
    rnd = random.Random(id(lat))
    while time.monotonic() < stop:
        t0 = perf()
        if await client.get(keys[rnd.randrange(len(keys))]) is None:
            errors.append(1)
        lat.append(perf() - t0)


def run_load(kind: str, target, items: list, connections: int, seconds: float,
             warmup: float) -> dict:
    import uvloop

    async def phase(duration: float) -> tuple[list[int], list[int], float]:
        lat: list[int] = []
        errors: list[int] = []
        stop = time.monotonic() + duration
        t0 = time.perf_counter()
        if kind == "http":
            coros = [_http_conn(target, items, stop, lat, errors) for _ in range(connections)]
        elif kind == "resp":
            coros = [_resp_conn(target, items, stop, lat, errors) for _ in range(connections)]
        else:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(target, max_connections=connections)
            coros = [_redis_py_conn(client, items, stop, lat, errors)
                     for _ in range(connections)]
        await asyncio.gather(*coros)
        elapsed = time.perf_counter() - t0
        if kind == "redis-py":
            await client.aclose()
        return lat, errors, elapsed

    async def main() -> dict:
        if warmup:
            await phase(warmup)
        lat, errors, elapsed = await phase(seconds)
        lat.sort()
        n = len(lat)

        def pct(p: float) -> float:
            return round(lat[min(n - 1, int(p * n))] / 1e6, 3) if n else float("nan")

        return {"requests": n, "seconds": round(elapsed, 2), "rps": round(n / elapsed),
                "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0) if n else None,
                "errors": len(errors)}

    return uvloop.run(main())


# --- the world -----------------------------------------------------------------------------


def seed(settings, users: int, items: int) -> None:
    import numpy as np
    import psycopg
    import redis

    from fyplake import keys
    from fyplake.serving.publish import FeedBatch, publish_feeds, publish_lists
    from fyplake.serving.ready import sync_ready_set
    from infra.migrations import migrate
    from infra.stack import Stack

    ep = Stack(settings).up()
    migrate(ep.postgres)
    rng = np.random.default_rng(3)
    catalog = 50_000
    client = redis.Redis.from_url(ep.valkey)
    sync_ready_set(client, range(1, catalog + 1))
    batch = 10_000
    feeds = []
    for start in range(0, users, batch):
        n = min(batch, users - start)
        feeds.append(FeedBatch(
            np.arange(start + 1, start + n + 1, dtype=np.int64),
            np.arange(0, n * items + 1, items, dtype=np.int64),
            rng.integers(1, catalog + 1, n * items, dtype=np.int64),
            rng.random(n * items, dtype=np.float32),
            rng.integers(0, 4, n * items, dtype=np.uint8),
        ))
    publish_feeds(client, feeds, settings=settings,
                  sources=["followed", "hashtag", "sound", "embedding"])
    pool = rng.integers(1, catalog + 1, 300).tolist()
    publish_lists(client, [(keys.TRENDING, pool, [1.0] * 300),
                           (keys.DIVERSE, pool[::-1], [1.0] * 300),
                           (keys.coldstart_list("unknown", "unknown", "unknown"), pool,
                            [1.0] * 300)], settings=settings)
    now = int(time.time() * 1000) + 86_400_000  # seen "after" the feed was built
    pipe = client.pipeline(transaction=False)
    for uid in range(1, users + 1, 10):  # 10% of users watched a few of their videos
        pipe.zadd(keys.seen(uid), {str(v): now for v in rng.integers(1, catalog, 5).tolist()})
    pipe.execute()
    blob = b"x" * 913  # the size of a packed 100-item feed
    pipe = client.pipeline(transaction=False)
    for i in range(10_000):
        pipe.set(f"bench:raw:{i}", blob)
    pipe.execute()
    with psycopg.connect(ep.postgres, autocommit=True) as conn:
        conn.execute("SELECT 1")
    client.close()


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                todo += [int(c) for c in children]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def start_api(env: dict, port: int, workers: int) -> subprocess.Popen:
    import httpx

    cmd = [sys.executable, "-m", "uvicorn", "serving_api.app:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
           "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the API did not become ready")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--limit", type=int, default=10, help="feed page size requested")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--path", default=None,
                    help="load this path instead ({u} = a random user id), e.g. /healthz")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    home = tempfile.mkdtemp(prefix="fyp-bench-api-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FYP_")}
    env.update({"FYP_HOME": home, "FYP_POINTER_REFRESH_S": "1.0",
                "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])})
    os.environ.update({"FYP_HOME": home})
    for k in ("FYP_POSTGRES_DSN", "FYP_VALKEY_URL", "FYP_CONFIG", "FYP_LAKE"):
        os.environ.pop(k, None)
    from fyplake.config import reload_settings
    from fyplake.serving.testing import free_port
    from infra.stack import Stack

    settings = reload_settings()
    proc = None
    try:
        seed(settings, args.users, 100)
        valkey_url = Stack(settings).endpoints().valkey
        valkey_port = int(valkey_url.rsplit(":", 1)[1].split("/")[0])
        port = free_port()
        proc = start_api(env, port, args.workers)
        rnd = random.Random(1)
        template = args.path or f"/v1/feed/{{u}}?limit={args.limit}"
        paths = [template.replace("{u}", str(rnd.randint(1, args.users)))
                 for _ in range(20_000)]
        raw_keys = [f"bench:raw:{i}".encode() for i in range(10_000)]
        import httpx

        sample = [httpx.get(f"http://127.0.0.1:{port}{p}").json() for p in paths[:50]]
        served = sum(len(b.get("items", ())) for b in sample) / len(sample)
        if "/v1/feed/" in template and served < args.limit * 0.9:
            raise RuntimeError(f"the seeded feeds serve {served:.1f} items per page, not "
                               f"{args.limit}: the benchmark would measure the wrong path")
        c, s, w = args.connections, args.seconds, args.warmup
        run_load("http", port, paths, c, w, 0)  # warm-up, not measured
        cpu0, own0 = tree_cpu_s(proc.pid), sum(os.times()[:2])
        api = run_load("http", port, paths, c, s, 0)
        api["api_cpu_us_per_req"] = round(
            (tree_cpu_s(proc.pid) - cpu0) / max(api["requests"], 1) * 1e6)
        api["loadgen_cpu_us_per_req"] = round(
            (sum(os.times()[:2]) - own0) / max(api["requests"], 1) * 1e6)
        raw = run_load("resp", valkey_port, raw_keys, c, s, w)
        redis_py = run_load("redis-py", valkey_url, raw_keys, c, s, w)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        Stack(settings).destroy()
        shutil.rmtree(home, ignore_errors=True)

    out = {
        "connections": args.connections,
        "api_workers": args.workers,
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "api": api,
        "valkey_raw_get": raw,
        "valkey_get_redis_py": redis_py,
        "api_vs_raw_get": round(api["rps"] / raw["rps"], 3),
        "api_vs_redis_py_get": round(api["rps"] / redis_py["rps"], 3),
    }
    if args.json:
        print(json.dumps(out))
        return
    print(f"GET /v1/feed (limit={args.limit}), {c} connections, {args.workers} API worker(s), "
          f"{os.cpu_count()} CPUs, load avg {out['loadavg_1m']}:")
    for name, r in (("API  /v1/feed", api), ("Valkey GET raw", raw),
                    ("Valkey GET redis.asyncio", redis_py)):
        print(f"  {name:26} {r['rps']:>8,} req/s   p50 {r['p50_ms']:6.2f} ms   "
              f"p99 {r['p99_ms']:6.2f} ms   errors {r['errors']}")
    print(f"  API / raw Valkey GET = {out['api_vs_raw_get']:.1%}   "
          f"(API / redis.asyncio GET = {out['api_vs_redis_py_get']:.1%})")
    print(f"  API CPU per request: {api['api_cpu_us_per_req']} us "
          f"(= {1e6 / max(api['api_cpu_us_per_req'], 1):,.0f} req/s per dedicated core); "
          f"load generator: {api['loadgen_cpu_us_per_req']} us")


if __name__ == "__main__":
    main()
