"""Event ingestion load: C clients POST /v1/events for S seconds against a real API (uvicorn),
then the landed lines and files are counted.

    .venv/bin/python bench/events.py [--clients 32] [--seconds 20] [--workers 2]
                                     [--events-per-request 10] [--mode both|group|per-request]
                                     [--window-ms MS] [--ingest] [--json]

Each mode runs its own API (uvicorn, uvloop, httptools, ``--workers`` processes; started with
bench/api.py's helpers) on one throw-away embedded stack, into a lake of its own:
``per-request`` is the reference (``FYP_EVENT_GROUP_COMMIT=false``: one landing file per
request, as before the group commit), ``group`` the group commit (``--window-ms``, default the
setting's). Each client is one keep-alive connection that posts a request of fresh event ids
and reads the whole answer before the next (closed loop), from one asyncio + uvloop process.

Reported per mode: events/s and requests/s accepted, p50/p99 latency, landing files and files
per 1,000 requests, and accepted == landed: the ids of every 202 body, each found exactly once
in the mode's landing files, and nothing else there. ``--ingest`` then runs the lake ingest
(``jobs.lake.ingest.ingest_interval``, one local Spark session, after a tiny warm-up ingest) over
each mode's landing files, with users and videos landed first so the events are accepted, and
reports its time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import REPO, bench_home, start_api, tree_cpu_s  # noqa: E402

sys.path.insert(0, str(REPO))
USERS, VIDEOS = 10_000, 5_000


# --- the load ------------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    i = head.lower().find(b"content-length:")
    j = head.find(b"\r\n", i)
    return int(head[9:12]), await reader.readexactly(int(head[i + 15 : j]))


async def _client(
    port: int, cid: int, per_request: int, api_key: str, stop: float, out: dict
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rnd = random.Random(cid)
    head = (
        b"POST /v1/events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"X-API-Key: " + api_key.encode() + b"\r\nContent-Length: %d\r\n\r\n"
    )
    seq = 0
    try:
        while time.monotonic() < stop:
            seq += 1
            body = json.dumps(
                {
                    "events": [
                        {
                            "event_id": f"c{cid}-{seq}-{j}",
                            "event_type": "watch",
                            "user_id": rnd.randint(1, USERS),
                            "video_id": rnd.randint(1, VIDEOS),
                            "watch_ms": rnd.randint(0, 30_000),
                        }
                        for j in range(per_request)
                    ]
                }
            ).encode()
            t0 = time.perf_counter_ns()
            writer.write(head % len(body) + body)
            status, payload = await _read_response(reader)
            out["lat"].append(time.perf_counter_ns() - t0)
            if status == 202:
                out["accepted"].extend(json.loads(payload)["event_ids"])
            else:
                out["errors"][status] += 1
    finally:
        writer.close()


def run_load(port: int, clients: int, seconds: float, per_request: int, api_key: str) -> dict:
    import uvloop

    out: dict = {"lat": [], "accepted": [], "errors": collections.Counter()}

    async def main() -> float:
        stop = time.monotonic() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(
            *(_client(port, c, per_request, api_key, stop, out) for c in range(clients))
        )
        return time.perf_counter() - t0

    elapsed = uvloop.run(main())
    lat = sorted(out["lat"])
    n = len(lat)
    requests = n - sum(out["errors"].values())
    return {
        "seconds": round(elapsed, 2),
        "requests": requests,
        "events": len(out["accepted"]),
        "requests_per_s": round(requests / elapsed),
        "events_per_s": round(len(out["accepted"]) / elapsed),
        "p50_ms": round(lat[n // 2] / 1e6, 2) if n else None,
        "p99_ms": round(lat[min(n - 1, int(0.99 * n))] / 1e6, 2) if n else None,
        "errors": dict(out["errors"]),
        "accepted_ids": out["accepted"],
    }


# --- what landed ---------------------------------------------------------------------------


def landed(lake: Path) -> tuple[int, collections.Counter]:
    """Landing files of the API and how often each event id appears in them."""
    files = list((lake / "landing" / "events").rglob("api-*.jsonl"))
    ids = collections.Counter(
        json.loads(line)["event_id"] for f in files for line in f.read_bytes().splitlines()
    )
    return len(files), ids


def land_dimensions(lake: Path) -> None:
    """Users and videos the bench's events refer to, so the ingest accepts them."""
    from fyplake.landing import iso_utc, write_records

    t = iso_utc(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    write_records(
        lake / "landing",
        "users",
        (
            {
                "user_id": u,
                "age_band": "25-34",
                "country": "US",
                "language": "en",
                "signup_time": t,
                "is_creator": u <= 100,
                "source": "bench",
            }
            for u in range(1, USERS + 1)
        ),
        producer="bench",
    )
    write_records(
        lake / "landing",
        "videos",
        (
            {
                "video_id": v,
                "creator_id": 1 + v % 100,
                "duration_ms": 30_000,
                "title": f"v{v}",
                "description": "",
                "hashtags": [],
                "sound_id": None,
                "language": "en",
                "status": "ready",
                "created_at": t,
                "source": "bench",
            }
            for v in range(1, VIDEOS + 1)
        ),
        producer="bench",
    )


def run_ingest(spark, lake: Path, quality: Path) -> dict:
    from fyplake.config import Settings
    from jobs.lake.ingest import ingest_interval

    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    settings = Settings(lake=str(lake), quality_dir=str(quality))
    t0 = time.monotonic()
    res = ingest_interval(spark, settings, now - dt.timedelta(hours=2), now + dt.timedelta(hours=1))
    events = res["by_entity"].get("events", {})
    return {
        "ingest_s": round(time.monotonic() - t0, 1),
        "files": events.get("files", 0),
        "lines": events.get("lines", 0),
        "accepted": events.get("accepted", 0),
        "quarantined": events.get("quarantined", 0),
        "steps_s": res["timings_s"],
    }


def warm_up(spark, home: Path) -> None:
    """One tiny ingest first, so JIT and class loading are billed to neither mode."""
    from fyplake.landing import write_records

    lake = home / "lake-warm-up"
    land_dimensions(lake)
    write_records(
        lake / "landing",
        "events",
        [
            {
                "event_id": "warm-up",
                "event_type": "watch",
                "user_id": 1,
                "video_id": 1,
                "watch_ms": 1,
                "event_time": "2026-01-01T00:00:00.000Z",
                "source": "bench",
            }
        ],
        producer="bench",
    )
    run_ingest(spark, lake, home / "quality")


# --- one mode ------------------------------------------------------------------------------


def run_mode(mode: str, env: dict, home: str, args: argparse.Namespace, api_key: str) -> dict:
    from fyplake.serving.testing import free_port

    lake = Path(home) / f"lake-{mode}"
    if args.ingest:
        land_dimensions(lake)
    menv = {
        **env,
        "FYP_LAKE": str(lake),
        "FYP_EVENT_GROUP_COMMIT": "true" if mode == "group" else "false",
    }
    if args.window_ms is not None:
        menv["FYP_EVENT_COMMIT_WINDOW_MS"] = str(args.window_ms)
    port = free_port()
    proc = start_api(menv, port, args.workers)
    try:
        cpu0 = tree_cpu_s(proc.pid)
        res = run_load(port, args.clients, args.seconds, args.events_per_request, api_key)
        res["api_cpu_us_per_req"] = round(
            (tree_cpu_s(proc.pid) - cpu0) / max(res["requests"], 1) * 1e6
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    files, ids = landed(lake)
    accepted = collections.Counter(res.pop("accepted_ids"))
    res.update(
        {
            "mode": mode,
            "files": files,
            "files_per_1000_requests": round(files / max(res["requests"], 1) * 1000, 1),
            "landed_lines": sum(ids.values()),
            "accepted_equals_landed": accepted == ids and max(ids.values(), default=1) == 1,
            "lake": str(lake),
        }
    )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--events-per-request", type=int, default=10)
    ap.add_argument(
        "--mode",
        choices=("both", "group", "per-request"),
        default="both",
        help="both: the per-request reference, then the group commit",
    )
    ap.add_argument(
        "--window-ms",
        type=float,
        default=None,
        help="group commit window (default: FYP_EVENT_COMMIT_WINDOW_MS's default)",
    )
    ap.add_argument(
        "--ingest",
        action="store_true",
        help="then ingest each mode's landing files into its lake and time it",
    )
    ap.add_argument("--keep", action="store_true", help="keep the throw-away home")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    home, env = bench_home("fyp-bench-events-")
    from fyplake.config import reload_settings
    from infra.stack import Stack

    settings = reload_settings()
    modes = ["per-request", "group"] if args.mode == "both" else [args.mode]
    results = []
    try:
        Stack(settings).up()
        results = [run_mode(m, env, home, args, settings.api_key) for m in modes]
        if args.ingest:
            from infra.spark import get_spark

            spark = get_spark("bench-events", settings)
            spark.sparkContext.setLogLevel("ERROR")
            warm_up(spark, Path(home))
            for r in results:
                r["ingest"] = run_ingest(spark, Path(r["lake"]), Path(home) / "quality")
            spark.stop()
    finally:
        Stack(settings).destroy()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    window = args.window_ms if args.window_ms is not None else settings.event_commit_window_ms
    out = {
        "clients": args.clients,
        "seconds": args.seconds,
        "api_workers": args.workers,
        "events_per_request": args.events_per_request,
        "window_ms": window,
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "modes": results,
    }
    if len(results) == 2:
        ref, grp = results
        out["group_vs_per_request"] = {
            "events_per_s": round(grp["events_per_s"] / max(ref["events_per_s"], 1), 2),
            "files_per_1000_requests": round(
                grp["files_per_1000_requests"] / max(ref["files_per_1000_requests"], 1e-9), 4
            ),
        }
    if args.json:
        print(json.dumps(out))
        return
    print(
        f"POST /v1/events: {args.clients} clients x {args.events_per_request} events/request, "
        f"{args.seconds:g} s per mode, {args.workers} API worker(s), {os.cpu_count()} CPUs, "
        f"load avg {out['loadavg_1m']}"
    )
    for r in results:
        name = r["mode"] + (f" ({window:g} ms)" if r["mode"] == "group" else "")
        print(
            f"  {name:16} {r['events_per_s']:>7,} events/s {r['requests_per_s']:>6,} req/s   "
            f"p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms   {r['files']:>6,} files "
            f"= {r['files_per_1000_requests']:7.1f} per 1,000 requests   "
            f"accepted == landed: {r['accepted_equals_landed']} ({r['events']:,} events)"
            f"   API CPU {r['api_cpu_us_per_req']} us/req   errors {r['errors'] or 0}"
        )
        if "ingest" in r:
            i = r["ingest"]
            print(
                f"  {'':16} ingest: {i['ingest_s']} s for {i['files']:,} files, "
                f"{i['lines']:,} lines = {i['accepted']:,} accepted + "
                f"{i['quarantined']:,} quarantined; steps (s) {i['steps_s']}"
            )
    if "group_vs_per_request" in out:
        g = out["group_vs_per_request"]
        print(
            f"  group / per-request: events/s x{g['events_per_s']}, files per request "
            f"x{g['files_per_1000_requests']}"
        )


if __name__ == "__main__":
    main()
