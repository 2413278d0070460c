"""The whole nightly at a given scale: a generated world from landed files to published feeds.

    .venv/bin/python bench/nightly.py --users 1000 --videos 2000 --events 100000
    .venv/bin/python bench/nightly.py --users 1000000 --videos 100000 --events 10000000

In a fresh home under a temporary folder it generates the world (``--days`` days, the events
spread evenly), starts the embedded Postgres and Valkey, and runs ``fyp build``'s walk
(``orchestration.build.build``: ingest -> quality gate -> silver -> gold -> the nightly jobs ->
publish) in one process and one Spark application, the same task bodies the DAGs run.

Per stage it prints: wall time; the records Spark read and wrote (every completed Spark stage's
input/output records, Delta log reads included, from the Spark UI's REST API); the shuffle
bytes written; memory and disk spill; peak RSS of this process (the Python driver) and of
its JVM; and the job's own summary. Then the total, the share of each stage, and the same
figures as JSON (``--json PATH`` also writes them to a file). ``--nights K`` runs K nightlies,
one per day up to the last: the first also ingests every landed file and trains the ranker on
gold it must build in memory; the later ones are the steady state (the previous night's gold is
in the lake). The machine's load average is printed too: on a shared machine absolute times
move with it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SPARK_METRICS = {
    "inputRecords": "records_read",
    "outputRecords": "records_written",
    "shuffleWriteBytes": "shuffle_write_bytes",
    "memoryBytesSpilled": "memory_spill_bytes",
    "diskBytesSpilled": "disk_spill_bytes",
}


class PeakRss:
    """Samples the RSS of this process and of its JVM child every ``interval`` seconds."""

    def __init__(self, interval: float = 0.25) -> None:
        import psutil

        self._me = psutil.Process()
        self.interval = interval
        self.python = self.jvm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def reset(self) -> tuple[int, int]:
        peaks = (self.python, self.jvm)
        self.python = self.jvm = 0
        return peaks

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(self.interval):
            with contextlib.suppress(psutil.Error):
                self.python = max(self.python, self._me.memory_info().rss)
                jvm = sum(
                    c.memory_info().rss
                    for c in self._me.children(recursive=True)
                    if "java" in c.name()
                )
                self.jvm = max(self.jvm, jvm)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class SparkStages:
    """Sums the metrics of the Spark stages completed since the last call (UI REST API)."""

    def __init__(self, spark) -> None:  # noqa: ANN001
        sc = spark.sparkContext
        self._url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages"
        self._seen: set[tuple[int, int]] = set()
        self.take()

    def take(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self._url}?status=complete", timeout=30) as resp:
            stages = json.load(resp)
        totals = dict.fromkeys(SPARK_METRICS.values(), 0)
        totals["spark_stages"] = 0
        for st in stages:
            key = (st["stageId"], st["attemptId"])
            if key in self._seen:
                continue
            self._seen.add(key)
            totals["spark_stages"] += 1
            for src, dst in SPARK_METRICS.items():
                totals[dst] += int(st.get(src, 0))
        return totals


class BenchReporter:
    """``orchestration.build.Reporter`` that records each stage's figures."""

    def __init__(self, spark, rss: PeakRss) -> None:  # noqa: ANN001
        self.stages = SparkStages(spark)
        self.rss = rss
        self.rows: list[dict] = []

    @contextlib.contextmanager
    def stage(self, task) -> Iterator:  # noqa: ANN001
        from cli.summary import describe

        summary: list[str] = []
        phases: dict = {}

        def note(result: dict) -> None:
            summary.append(describe(task.job, result))
            phases.update(_phases(result))

        self.rss.reset()
        self.stages.take()
        t0 = time.perf_counter()
        try:
            yield note
        finally:
            wall = time.perf_counter() - t0
            python, jvm = self.rss.reset()
            row = {"stage": task.task_id, "seconds": round(wall, 2), **self.stages.take()}
            row.update(python_rss_peak=python, jvm_rss_peak=jvm, summary=" ".join(summary))
            row["phases"] = phases
            self.rows.append(row)
            print(_line(row), flush=True)

    def info(self, text: str) -> None:
        print(f"  {text}", flush=True)


def _phases(result: object, prefix: str = "") -> dict:
    """The job's own timings (``timings_s``, ``*_phase_seconds``, ``*_seconds``), flattened."""
    found: dict = {}
    if not isinstance(result, dict):
        return found
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and ("timings" in key or "seconds" in key):
            found.update({f"{name}.{k}": v for k, v in value.items() if isinstance(v, int | float)})
        elif isinstance(value, int | float) and key.endswith("seconds"):
            found[name] = value
        elif isinstance(value, dict):
            found.update(_phases(value, f"{name}."))
    return found


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f}"


def _line(row: dict) -> str:
    rate = row["records_read"] / row["seconds"] if row["seconds"] else 0.0
    return (
        f"  {row['stage']:26} {row['seconds']:8.1f} s  read {row['records_read']:>12,} "
        f"({rate:>10,.0f}/s)  wrote {row['records_written']:>11,}  "
        f"shuffle {_mb(row['shuffle_write_bytes']):>6} MB  "
        f"spill {_mb(row['memory_spill_bytes'])}/{_mb(row['disk_spill_bytes'])} MB  "
        f"rss py {_mb(row['python_rss_peak'])} jvm {_mb(row['jvm_rss_peak'])} MB  "
        f"{row['summary']}"
    ) + "".join(f"\n      {k}: {v}" for k, v in row["phases"].items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--videos", type=int, default=2000)
    ap.add_argument("--events", type=int, default=100_000, help="about this many events")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--shape", default="default")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--nights",
        type=int,
        default=1,
        help="nightlies to run, one per day up to the last (the first also ingests every "
        "landed file; later ones are the steady state: the previous night's gold is there)",
    )
    ap.add_argument("--no-gates", action="store_true", help="skip the quality gates")
    ap.add_argument("--keep", action="store_true", help="keep the home folder afterwards")
    ap.add_argument("--json", dest="json_path", help="also write the figures here")
    args = ap.parse_args()

    # a killed run still stops its embedded Postgres and Valkey (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    home = Path(tempfile.mkdtemp(prefix="fyp-bench-nightly-"))
    os.environ["FYP_HOME"] = str(home)
    os.environ["FYP_SPARK_CONF"] = json.dumps(
        {"spark.ui.enabled": "true", "spark.ui.port": "0", "spark.ui.retainedStages": "100000"}
    )
    from fyplake.config import reload_settings
    from fyplake.synth import generate_world
    from fyplake.synth.generate import DEFAULT_START_DATE
    from infra.migrations import migrate
    from infra.spark import get_spark
    from infra.stack import Stack
    from orchestration.build import build

    settings = reload_settings()
    load = os.getloadavg()
    print(f"home {home}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    stack = Stack(settings)
    out: dict = {"args": vars(args), "load_average": load, "stages": []}
    try:
        with PeakRss() as rss:
            t0 = time.perf_counter()
            world = generate_world(
                args.users,
                args.videos,
                args.days,
                args.seed,
                events_per_user_day=args.events / (args.users * args.days),
                shape=args.shape,
            )
            gen = {"stage": "generate", "seconds": round(time.perf_counter() - t0, 2)}
            gen.update(events=world.events, python_rss_peak=rss.reset()[0])
            print(
                f"  generate {world.events:,} events in {gen['seconds']:.1f} s "
                f"({world.events / gen['seconds']:,.0f}/s), "
                f"peak RSS {_mb(gen['python_rss_peak'])} MB",
                flush=True,
            )
            out["generate"] = gen

            t_stack = time.perf_counter()
            migrate(stack.up().postgres)
            t_spark = time.perf_counter()
            spark = get_spark("fyp-bench-nightly", settings)
            out["startup_seconds"] = {
                "stack": round(t_spark - t_stack, 2),
                "spark_session": round(time.perf_counter() - t_spark, 2),
            }
            last = DEFAULT_START_DATE + dt.timedelta(days=args.days - 1)
            out["nights"] = []
            for night in range(args.nights):
                ds = last - dt.timedelta(days=args.nights - 1 - night)
                print(f"night {night + 1} of {args.nights}: as of the end of {ds}", flush=True)
                reporter = BenchReporter(spark, rss)
                t_build = time.perf_counter()
                result = build(spark, settings, ds, gates=not args.no_gates, reporter=reporter)
                out["nights"].append(
                    {
                        "as_of": ds.isoformat(),
                        "build_seconds": round(time.perf_counter() - t_build, 2),
                        "published": result["published"],
                        "stages": reporter.rows,
                    }
                )
            spark.stop()
    finally:
        stack.down()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)

    print(
        f"startup: stack {out['startup_seconds']['stack']:.1f} s, "
        f"Spark session {out['startup_seconds']['spark_session']:.1f} s"
    )
    for night in out["nights"]:
        total = night["build_seconds"]
        print(f"night as of {night['as_of']}: {total:.1f} s; by stage:")
        for row in sorted(night["stages"], key=lambda r: -r["seconds"]):
            share = 100 * row["seconds"] / total
            print(f"  {row['stage']:26} {row['seconds']:8.1f} s  {share:5.1f} %")
    print(json.dumps(out, indent=1, default=str))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
