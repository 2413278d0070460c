"""Ingest throughput: events/s of the lake ingest vs a plain Spark copy of the same files.

For each size (``--events 1000000 10000000``) the bench writes one arrival day of landing files
into a fresh lake (users, videos, sounds and events; ~1% late events, ~0.3% duplicates and
~0.3% bad records, so quarantine and duplicate detection do real work), then measures, in the
same Spark session:

* plain copy: ``spark.read.schema(typed).json(event files) -> Delta`` (append, no checks): the
  floor an ingest can approach; run before and after the ingest, the faster run counts (both
  are printed);
* ingest: ``jobs.lake.ingest.ingest_interval`` for the day: dimensions, parsing, typing, every
  quarantine check, duplicate detection against bronze, the bronze MERGE, the quarantine MERGE
  and the file log.

It prints one line per size and a JSON summary. A tiny warm-up run comes first so JIT and
class loading are not billed to the first size. The machine's load average is printed too:
on a shared machine the absolute numbers move with it, the ratio much less.

    .venv/bin/python bench/ingest.py --events 1000000 10000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DAY = dt.date(2026, 11, 1)
EVENTS_SCHEMA = (
    "event_id string, event_type string, user_id bigint, video_id bigint, creator_id bigint, "
    "watch_ms bigint, event_time timestamp, source string, comment_text string"
)


def _iso(ts: float) -> str:
    t = dt.datetime.fromtimestamp(ts, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def synthesize(lake: Path, events: int, files_per_hour: int, seed: int = 1) -> dict:
    """One arrival day of landing files; returns counts. Fast enough for 10M (string templates)."""
    from fyplake.landing import partition_dir, write_jsonl_atomic

    rng = random.Random(seed)
    root = lake / "landing"
    users = max(100, min(200_000, events // 50))
    videos = max(100, min(100_000, events // 100))
    creators = max(10, users // 20)
    start = dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.UTC)
    t0 = start.timestamp()
    signup = _iso(t0 - 86400 * 30)

    lines = [
        f'{{"user_id":{u},"age_band":"25-34","country":"US","language":"en",'
        f'"signup_time":"{signup}","is_creator":{"true" if u <= creators else "false"},'
        f'"source":"bench"}}'
        for u in range(1, users + 1)
    ]
    write_jsonl_atomic(partition_dir(root, "users", start), "bench", "\n".join(lines) + "\n", "u")
    durations = [rng.randrange(5_000, 60_000) for _ in range(videos + 1)]
    lines = [
        f'{{"video_id":{v},"creator_id":{1 + v % creators},"duration_ms":{durations[v]},'
        f'"title":"v{v}","description":"","hashtags":["t{v % 50}","t{v % 7}"],'
        f'"sound_id":{1 + v % 100},"language":"en","status":"ready",'
        f'"created_at":"{signup}","source":"bench"}}'
        for v in range(1, videos + 1)
    ]
    write_jsonl_atomic(partition_dir(root, "videos", start), "bench", "\n".join(lines) + "\n", "v")
    lines = [
        f'{{"sound_id":{s},"title":"s{s}","creator_id":{1 + s % creators},'
        f'"created_at":"{signup}","source":"bench"}}'
        for s in range(1, 101)
    ]
    write_jsonl_atomic(partition_dir(root, "sounds", start), "bench", "\n".join(lines) + "\n", "s")

    per_file = -(-events // (24 * files_per_hour))
    written = bad = dup = late = 0
    kinds = (
        ["watch"] * 70
        + ["skip"] * 12
        + ["like"] * 10
        + ["comment"] * 3
        + ["share"] * 3
        + ["follow"] * 2
    )
    last_id = None
    for hour in range(24):
        arrival = start + dt.timedelta(hours=hour)
        for f in range(files_per_hour):
            buf = []
            for _ in range(per_file):
                if written >= events:
                    break
                written += 1
                r = rng.random()
                if r < 0.003:
                    bad += 1
                    buf.append(
                        '{"event_id": "broken", "event_type": '
                        if r < 0.001
                        else f'{{"event_id":"x{written}","event_type":"poke","user_id":1,'
                        f'"event_time":"{_iso(arrival.timestamp())}"}}'
                    )
                    continue
                if r < 0.006 and last_id is not None:
                    dup += 1
                    buf.append(last_id)
                    continue
                ts = arrival.timestamp() + rng.random() * 3600
                if r > 0.99:
                    late += 1
                    ts -= 86400 * rng.choice((1, 2))
                kind = kinds[int(rng.random() * len(kinds))]
                user = 1 + int(rng.random() * users)
                if kind == "follow":
                    line = (
                        f'{{"event_id":"e{written}","event_type":"follow","user_id":{user},'
                        f'"creator_id":{1 + int(rng.random() * creators)},'
                        f'"event_time":"{_iso(ts)}","source":"bench"}}'
                    )
                else:
                    video = 1 + int(rng.random() * videos)
                    watch = (
                        f',"watch_ms":{int(durations[video] * rng.random() * 1.3)}'
                        if kind in ("watch", "skip")
                        else ""
                    )
                    line = (
                        f'{{"event_id":"e{written}","event_type":"{kind}","user_id":{user},'
                        f'"video_id":{video}{watch},"event_time":"{_iso(ts)}",'
                        f'"source":"bench"}}'
                    )
                buf.append(line)
                last_id = line
            if buf:
                write_jsonl_atomic(
                    partition_dir(root, "events", arrival),
                    "bench",
                    "\n".join(buf) + "\n",
                    f"e{hour:02d}-{f:03d}",
                )
    return {
        "events": written,
        "users": users,
        "videos": videos,
        "bad": bad,
        "duplicates": dup,
        "late": late,
    }


def event_files(lake: Path) -> list[str]:
    return sorted(str(p.resolve()) for p in (lake / "landing" / "events").glob("*/*/*.jsonl"))


def plain_copy(spark, lake: Path, target: Path) -> float:
    t = time.monotonic()
    (
        spark.read.schema(EVENTS_SCHEMA)
        .json(event_files(lake))
        .write.format("delta")
        .mode("append")
        .save(str(target))
    )
    return time.monotonic() - t


def run_ingest(spark, settings) -> tuple[float, dict]:
    from jobs.lake.ingest import ingest_interval

    t = time.monotonic()
    result = ingest_interval(spark, settings, DAY, DAY + dt.timedelta(days=1))
    return time.monotonic() - t, result


def one_size(spark, base: Path, events: int, files_per_hour: int, keep: bool) -> dict:
    from fyplake.config import Settings

    work = base / f"n{events}"
    shutil.rmtree(work, ignore_errors=True)
    lake = work / "lake"
    t = time.monotonic()
    landed = synthesize(lake, events, files_per_hour)
    gen_s = time.monotonic() - t
    size = sum(p.stat().st_size for p in (lake / "landing" / "events").rglob("*.jsonl"))
    settings = Settings(lake=str(lake), quality_dir=str(work / "quality"))
    # the reference runs before and after the ingest, and the faster run counts: on a shared
    # machine one copy moves by +-30 % with the load, which moved the ratio more than the ingest
    plain_runs = [plain_copy(spark, lake, work / "plain_copy_before")]
    ingest_s, result = run_ingest(spark, settings)
    plain_runs.append(plain_copy(spark, lake, work / "plain_copy_after"))
    plain_s = min(plain_runs)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    out = {
        "events": events,
        "landing_mb": round(size / 2**20, 1),
        "generate_s": round(gen_s, 1),
        "plain_copy_s": round(plain_s, 1),
        "plain_copy_runs_s": [round(x, 1) for x in plain_runs],
        "plain_copy_events_per_s": round(events / plain_s),
        "ingest_s": round(ingest_s, 1),
        "ingest_events_per_s": round(events / ingest_s),
        "ratio_ingest_to_plain": round(plain_s / ingest_s, 3),
        "accepted": result["by_entity"]["events"]["accepted"],
        "quarantined": result["by_entity"]["events"]["quarantined"],
        "landed": landed,
        "ingest_step_s": result.get("timings_s", {}),  # where the ingest's time went
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }
    assert out["accepted"] + out["quarantined"] == events, "landed != bronze + quarantine"
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--files-per-hour", type=int, default=4)
    parser.add_argument("--workdir", help="where lakes are written (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the lakes")
    args = parser.parse_args(argv)

    base = Path(args.workdir or tempfile.mkdtemp(prefix="fyp-bench-ingest-"))
    os.environ.setdefault("FYP_HOME", str(base / "home"))
    from fyplake.config import get_settings
    from infra.spark import get_spark

    settings = get_settings()
    spark = get_spark("bench-ingest", settings)
    spark.sparkContext.setLogLevel("ERROR")
    print(
        f"spark {spark.version} master={settings.spark_master} "
        f"cores={os.cpu_count()} driver_memory={settings.spark_driver_memory}",
        flush=True,
    )
    one_size(spark, base, 2_000, 1, keep=False)  # warm-up: JIT, class loading, Delta init
    results = []
    for n in args.events:
        r = one_size(spark, base, n, args.files_per_hour, args.keep)
        results.append(r)
        print(
            f"{n:>11,} events ({r['landing_mb']} MiB): ingest {r['ingest_events_per_s']:>9,} ev/s "
            f"({r['ingest_s']} s), plain copy {r['plain_copy_events_per_s']:>9,} ev/s "
            f"({r['plain_copy_s']} s of {r['plain_copy_runs_s']}), "
            f"ratio {r['ratio_ingest_to_plain']:.2f}; "
            f"quarantined {r['quarantined']:,}; load {r['load_avg_1m']}",
            flush=True,
        )
        print(f"   ingest steps (s): {r['ingest_step_s']}", flush=True)
    print("FYP_BENCH " + json.dumps(results))
    if not args.workdir:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
