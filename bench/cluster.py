"""The tiny world's day on the local cluster next to ``local[*]``, measured in the same run.

    .venv/bin/python bench/cluster.py [--users 40 --videos 30 --seed 3] [--json PATH]

Two fresh homes under a temporary folder, the same generated world (one day) in each:

* **local**: the embedded default: ``fyp run fyp_hourly`` for the day's last hour, then
  ``fyp run fyp_nightly`` (Airflow runs the tasks in one process, Spark in process on
  ``local[*]``, the lake a local folder);
* **cluster**: ``fyp cluster up`` (SeaweedFS S3 lake, Spark standalone master and two workers,
  Airflow scheduler + DAG processor + API server, Celery executor and worker), the same two runs
  triggered through Airflow's REST API (``infra.cluster.AirflowApi.run_day``): every Spark task
  a ``spark-submit`` to ``spark://``.

Per task it prints both durations and their ratio, and splits each cluster Spark task from its
Airflow log: **start** (task start to a running SparkContext: the Celery task process, the
``spark-submit`` JVM), **executors** (to the first executor registered on a worker), **job** (to
the job's result line: the job itself, reading and writing the lake on S3) and **end** (the
driver's shutdown and the task's bookkeeping). The totals say where the difference goes. The
machine's load average is printed too: absolute times move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FYP = str(Path(sys.executable).with_name("fyp"))
DAY = "2026-11-01"
SPLIT = ("start", "executors", "job", "end")
#: Where a spark-submit task's log says each phase ended.
MARKS = {
    "start": "SparkContext: Running Spark version",
    "executors": "Registered executor",
    "job": "FYP_RESULT",
}


def _fyp(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([FYP, *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stdout[-2000:] + proc.stderr[-2000:]
        raise SystemExit(f"fyp {' '.join(args)} failed:\n{tail}")
    return proc.stdout


def _home_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FYP_", "AIRFLOW"))}
    env["FYP_HOME"] = str(home)
    return env


def _generate(env: dict[str, str], args: argparse.Namespace) -> None:
    _fyp(
        env,
        "generate",
        "--users",
        str(args.users),
        "--videos",
        str(args.videos),
        "--days",
        "1",
        "--seed",
        str(args.seed),
        "--start-date",
        DAY,
    )


def run_local(home: Path, args: argparse.Namespace) -> dict:
    env = _home_env(home)
    _generate(env, args)
    out: dict = {"tasks": {}}
    for dag_id in ("fyp_hourly", "fyp_nightly"):
        t0 = time.monotonic()
        runs = json.loads(_fyp(env, "run", dag_id, "--date", DAY, "--json"))
        out[f"{dag_id}_s"] = time.monotonic() - t0
        for task in runs[-1]["tasks"]:
            out["tasks"][f"{dag_id}.{task['task_id']}"] = task.get("duration_s")
        if runs[-1]["state"] != "success":
            raise SystemExit(f"local {dag_id} ended {runs[-1]['state']}: {runs[-1]['log']}")
    return out


def _phases(log: Path) -> dict[str, float]:
    """A spark-submit task's phases (seconds) from its Airflow log's timestamps."""
    import datetime as dt

    stamps: list[tuple[float, str]] = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
            when = dt.datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            continue
        stamps.append((when.timestamp(), str(rec.get("event", ""))))
    if not stamps:
        return {}
    marks, t = {}, stamps[0][0]
    for phase in ("start", "executors", "job"):
        hit = next((ts for ts, ev in stamps if ts >= t and MARKS[phase] in ev), None)
        if hit is None:
            return {}
        marks[phase], t = hit - t, hit
    marks["end"] = stamps[-1][0] - t
    return marks


def run_cluster(home: Path, args: argparse.Namespace) -> dict:
    from infra.cluster import AirflowApi

    env = _home_env(home)
    t0 = time.monotonic()
    status = _json_tail(_fyp(env, "cluster", "up", "--json"))
    out: dict = {"up_s": time.monotonic() - t0, "tasks": {}, "phases": {}}
    try:
        env["FYP_CONFIG"] = status["config"]
        _generate(env, args)
        api = AirflowApi(status["endpoints"]["airflow_api"])
        api.wait_for_dags(("fyp_hourly", "fyp_nightly", "video_upload_drain"))
        api.set_paused("video_upload_drain", True)
        day = api.run_day(DAY, f"bench-hourly-{DAY}T23")
        out.update(fyp_hourly_s=day.hourly_s, fyp_nightly_s=day.nightly_s)
        logs = home / "cluster" / "airflow" / "logs"
        for dag_id, run_id in (("fyp_hourly", day.hourly_id), ("fyp_nightly", day.nightly_id)):
            if run_id is None:
                continue
            for task in api.task_instances(dag_id, run_id):
                key = f"{dag_id}.{task['task_id']}"
                out["tasks"][key] = task.get("duration")
                attempts = sorted(
                    (
                        logs
                        / f"dag_id={dag_id}"
                        / f"run_id={run_id}"
                        / f"task_id={task['task_id']}"
                    ).glob("attempt=*.log")
                )
                if attempts:
                    phases = _phases(attempts[-1])
                    if phases:
                        out["phases"][key] = phases
        if day.hourly != "success" or day.nightly != "success":
            raise SystemExit(f"cluster runs did not succeed: {day}")
    finally:
        subprocess.run([FYP, "cluster", "down"], env=_home_env(home), capture_output=True)
    return out


def _json_tail(text: str) -> dict:
    return json.loads(text[text.index("{") :])


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def report(local: dict, cluster: dict) -> dict:
    print(
        f"{'task':44} {'local s':>8} {'cluster s':>9} {'ratio':>6}  "
        + " ".join(f"{p:>9}" for p in SPLIT)
    )
    sums = {"local": 0.0, "cluster": 0.0, **{p: 0.0 for p in SPLIT}}
    keys = list(dict.fromkeys([*local["tasks"], *cluster["tasks"]]))
    for key in keys:
        lo, cl = local["tasks"].get(key), cluster["tasks"].get(key)
        ph = cluster["phases"].get(key, {})
        ratio = f"{cl / lo:6.1f}" if lo and cl else "     -"
        print(
            f"{key:44} {_fmt(lo):>8} {_fmt(cl):>9} {ratio}  "
            + " ".join(f"{_fmt(ph.get(p)):>9}" for p in SPLIT)
        )
        sums["local"] += lo or 0.0
        sums["cluster"] += cl or 0.0
        for p in SPLIT:
            sums[p] += ph.get(p, 0.0)
    walls = {
        mode: (run.get("fyp_hourly_s") or 0.0) + (run.get("fyp_nightly_s") or 0.0)
        for mode, run in (("local", local), ("cluster", cluster))
    }
    print(
        f"\nsum of task durations: local {sums['local']:.0f} s, cluster {sums['cluster']:.0f} s "
        f"(x{sums['cluster'] / max(sums['local'], 1e-9):.2f})"
    )
    print(
        f"wall, hourly + nightly: local {walls['local']:.0f} s, cluster {walls['cluster']:.0f} s "
        f"(x{walls['cluster'] / max(walls['local'], 1e-9):.2f}); "
        f"cluster up {cluster.get('up_s', 0):.0f} s"
    )
    n_spark = len(cluster["phases"])
    fixed = sums["start"] + sums["executors"] + sums["end"]
    per = {p: sums[p] / max(n_spark, 1) for p in SPLIT}
    print(
        f"cluster Spark tasks: {n_spark}; per task: start {per['start']:.1f} s, executors "
        f"{per['executors']:.1f} s, end {per['end']:.1f} s ({fixed:.0f} s fixed in all); "
        f"the jobs themselves {sums['job']:.0f} s"
    )
    print(
        f"scheduling (wall minus task durations): local {walls['local'] - sums['local']:.0f} s, "
        f"cluster {walls['cluster'] - sums['cluster']:.0f} s"
    )
    return {
        "local": local,
        "cluster": cluster,
        "sums": sums,
        "walls": walls,
        "load_avg": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--videos", type=int, default=30)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fyp-bench-cluster-") as tmp:
        print(f"load average {os.getloadavg()}", flush=True)
        local = run_local(Path(tmp) / "local", args)
        print(f"local done ({local['fyp_hourly_s'] + local['fyp_nightly_s']:.0f} s)", flush=True)
        cluster = run_cluster(Path(tmp) / "cluster", args)
        figures = report(local, cluster)
        # every fyp_home's embedded servers stop with the home
        _fyp(_home_env(Path(tmp) / "local"), "stack", "down")
    print(f"load average {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
