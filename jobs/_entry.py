"""The command-line entry every job file shares, so spark-submit and `fyp job` run the same code."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

RunFn = Callable[[Any, Any, dt.date], dict]


def parse_ds(value: str | None) -> dt.date:
    if not value:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--ds/--date must be YYYY-MM-DD, got {value!r}") from None


def run_job(name: str, run: RunFn, ds: dt.date, spark: Any = None) -> dict:
    """Run one job for one data interval; returns its result with timing added."""
    from fyplake.config import get_settings
    from infra.spark import get_spark

    settings = get_settings()
    spark = spark or get_spark(f"fyp-{name}", settings)
    t0 = time.monotonic()
    result = run(spark, settings, ds) or {}
    result.setdefault("job", name)
    result.setdefault("ds", ds.isoformat())
    result["seconds"] = round(time.monotonic() - t0, 2)
    return result


def job_main(name: str, run: RunFn, argv: list[str] | None = None) -> None:
    """``spark-submit jobs/<name>.py --ds YYYY-MM-DD``: prints the result as one JSON line."""
    parser = argparse.ArgumentParser(prog=f"jobs/{name}.py")
    parser.add_argument("--ds", help="data interval date, YYYY-MM-DD (default: today, UTC)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = run_job(name, run, parse_ds(args.ds))
    sys.stdout.write("FYP_RESULT " + json.dumps(result, default=str) + "\n")
