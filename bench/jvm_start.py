"""Spark driver start with and without the class-data sharing archive (``infra/class_archive``).

    .venv/bin/python bench/jvm_start.py [--rounds 3]

Each round starts two fresh processes, alternated: one whose driver uses the archive, one with
it switched off (``-Xshare:off`` in the driver's options); each creates the Spark session and
runs a first Delta write and read in a scratch home. Prints every run, the medians and their
ratio (with / without), measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHILD = """
import time; t0 = time.perf_counter()
from fyplake.config import get_settings
from infra.spark import get_spark
s = get_settings(); spark = get_spark("bench-jvm-start", s); t1 = time.perf_counter()
path = str(s.lake_path("t"))
spark.range(1000).write.format("delta").save(path)
spark.read.format("delta").load(path).count(); t2 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t0:.2f}")
"""


def run_once(archive: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="fyp-bench-jvm-") as home:
        env = {**os.environ, "FYP_HOME": home, "FYP_SPARK_MASTER": "local[2]"}
        if not archive:
            env["FYP_SPARK_CONF"] = json.dumps({"spark.driver.extraJavaOptions": "-Xshare:off"})
        out = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, cwd=REPO, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise SystemExit(out.stderr[-2000:])
        session, total = map(float, out.stdout.split()[-2:])
        return session, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from fyplake.config import get_settings
    from infra import class_archive

    built = class_archive.build(get_settings())
    if built is None:
        raise SystemExit("the archive could not be built: nothing to compare")
    print(f"archive {built}; load average {os.getloadavg()[0]:.2f}")
    runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    t0 = time.perf_counter()
    for r in range(args.rounds):
        for archive in (True, False):
            session, total = run_once(archive)
            runs[archive].append((session, total))
            label = "with archive" if archive else "without"
            print(
                f"  round {r + 1} {label:13s} session {session:5.2f} s, first read {total:5.2f} s"
            )
    med = {a: [statistics.median(x[i] for x in runs[a]) for i in (0, 1)] for a in runs}
    for i, what in enumerate(("session", "to first Delta read")):
        w, wo = med[True][i], med[False][i]
        print(f"median {what}: {w:.2f} s with, {wo:.2f} s without: ratio {w / wo:.2f}")
    print(f"({time.perf_counter() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
