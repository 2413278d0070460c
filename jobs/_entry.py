"""The command-line entry every job file shares, so spark-submit and `fyp job` run the same code."""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from typing import Any

RunFn = Callable[..., dict]


def parse_ds(value: str | None) -> dt.date:
    if not value:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--ds/--date must be YYYY-MM-DD, got {value!r}") from None


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"--param takes key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        params[key.strip().replace("-", "_")] = value
    return params


def run_job(
    name: str,
    run: RunFn,
    ds: dt.date,
    spark: Any = None,
    params: dict[str, str] | None = None,
    settings: Any = None,
) -> dict:
    """Run one job for one data interval; returns its result with timing added.

    ``params`` are passed as keyword arguments to jobs whose ``run`` accepts them (e.g. the
    hourly ingest's interval end); a job that does not take a parameter it was given fails loudly.
    ``settings``: default ``get_settings()``. The job's ``run`` is built on the job skeleton
    (``jobs.jobrun``), which records the run in ``gold.runs``.
    """
    from fyplake.config import get_settings
    from infra.spark import get_spark

    params = dict(params or {})
    accepted = inspect.signature(run).parameters
    unknown = [k for k in params if k not in accepted]
    if unknown:
        raise ValueError(
            f"job {name} takes no parameter(s) {unknown}; it takes {list(accepted)[3:]}"
        )
    settings = settings or get_settings()
    spark = spark or get_spark(f"fyp-{name}", settings)
    t0 = time.monotonic()
    result = strict_json(run(spark, settings, ds, **params) or {})
    result.setdefault("job", name)
    result.setdefault("ds", ds.isoformat())
    result["seconds"] = round(time.monotonic() - t0, 2)
    return result


def strict_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON null), tuples as lists.

    A job's result becomes its task's XCom, which Airflow sends as strict JSON: one NaN (the
    standard error of a one-user group on a small world) made the whole task fail."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    return value


def job_main(name: str, run: RunFn, argv: list[str] | None = None) -> None:
    """``spark-submit jobs/<stage>/<module>.py --ds YYYY-MM-DD [--param k=v] [--result-file F]``
    (``python -m jobs.<stage>.<module>`` alike)."""
    from jobs.registry import JOBS

    parser = argparse.ArgumentParser(prog=JOBS[name].replace(".", "/") + ".py")
    parser.add_argument("--ds", help="data interval date, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--param", action="append", help="job parameter key=value (repeatable)")
    parser.add_argument("--result-file", help="write the result JSON here (read back as XCom)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    result = run_job(name, run, parse_ds(args.ds), params=parse_params(args.param))
    text = json.dumps(result, default=str)
    if args.result_file:  # a local path or an object-store URL (fyplake.run_files)
        from fyplake.run_files import write_result

        write_result(args.result_file, result)
    sys.stdout.write("FYP_RESULT " + text + "\n")
