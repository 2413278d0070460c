"""Benchmark `fyp generate`: events/s for a ~1M-event world, written to a temporary lake.

    .venv/bin/python bench/generate.py [--users N --videos M --days D --events-per-user-day X]
                                       [--shape NAME]

Wall time covers everything `fyp generate` does: building the world, simulating, serialising,
fsync'ing every landing file and writing the ground truth. The temporary lake is deleted.
``--shape`` picks a world shape (`fyp generate --help`); --events-per-user-day defaults to 3.3
with the default shape (about 1M events) and to the shape's own value with another one.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fyplake.synth import SHAPES, generate_world  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--videos", type=int, default=50_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--events-per-user-day", type=float, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", default="default", choices=list(SHAPES))
    args = ap.parse_args()
    if args.events_per_user_day is None and args.shape == "default":
        args.events_per_user_day = 3.3
    tmp = Path(tempfile.mkdtemp(prefix="fyp-bench-generate-"))
    try:
        t0 = time.perf_counter()
        s = generate_world(
            args.users,
            args.videos,
            args.days,
            args.seed,
            events_per_user_day=args.events_per_user_day,
            shape=args.shape,
            lake_root=tmp,
        )
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (tmp / "landing").rglob("*.jsonl"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"generated {s.events:,} events ({s.counts['users']:,} users, "
        f"{s.counts['videos']:,} videos, {args.days} days, shape {args.shape}) "
        f"into {s.files:,} files, {size / 1e6:,.0f} MB"
    )
    print(f"wall time {wall:.2f} s, {s.events / wall:,.0f} events/s")


if __name__ == "__main__":
    main()
