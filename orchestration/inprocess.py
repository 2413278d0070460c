"""A job run the way an in-process DAG task runs it: the job's entry point on this process's
Spark session, with what it cached released afterwards.

The in-process Spark operator, ``fyp job`` and ``fyp build`` all call :func:`run_task`, so a
job behaves the same whichever of them runs it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def run_task(
    job: str, ds: dt.date, params: dict[str, Any] | None = None, spark: Any = None
) -> dict:
    """Run registered ``job`` for interval ``ds``; returns its (strict JSON) result."""
    from jobs._entry import run_job
    from jobs.registry import job_module

    try:
        return run_job(
            job,
            job_module(job).run,
            ds,
            spark=spark,
            params={k: str(v) for k, v in (params or {}).items()},
        )
    finally:
        drop_cached_data()


def drop_cached_data() -> None:
    """Unpersist everything the job cached: a submitted job's cache dies with its application,
    and in process the session outlives the job (later tasks, every date of a backfill), so
    without this the cached frames of every task pile up in the driver until it runs out of
    memory."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    sc = SparkContext._active_spark_context  # noqa: SLF001
    if sc is None:
        return
    SparkSession.builder.getOrCreate().catalog.clearCache()  # the running session
    for rdd in list(sc._jsc.getPersistentRDDs().values()):  # noqa: SLF001
        rdd.unpersist(False)
