"""The recommendation jobs' use of the job skeleton (``jobs.jobrun``): a stage's gold frames,
each written to the ``ds`` partition of ``gold.<name>``."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from fyplake import catalog, faults
from fyplake.config import Settings
from jobs.jobrun import JobRun, Reads, run_job
from jobs.recsys.lakeio import write_gold
from jobs.recsys.params import RecParams

logger = logging.getLogger(__name__)

Stage = Callable[[Reads, RecParams, dt.date], dict[str, DataFrame]]


def run_stage(
    job: str,
    spark: SparkSession,
    settings: Settings,
    ds: dt.date,
    stage: Stage,
    versions: dict[str, int] | str | None = None,
    finish: Callable[[dict[str, DataFrame], str], dict[str, DataFrame]] | None = None,
    report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``stage`` and write each returned frame to ``gold.<name>``; returns the result dict
    (run_id, versions read and written) that ``fyp job`` prints and Airflow keeps as XCom.
    ``finish(frames, run_id)``: a last touch once the run id is known (rank stamps it on
    gold.feeds). ``report``: a dict the stage fills in (e.g. which ranker ran): added to the
    run's params in gold.runs and to the result."""
    params = RecParams.from_settings(settings)

    def body(run: JobRun) -> dict[str, Any]:
        frames = stage(run, params, ds)
        extra = dict(report or {})
        run.params.update(extra)
        if finish is not None:
            frames = finish(frames, run.run_id)
        for name, df in frames.items():
            spec = catalog.table(f"gold.{name}")
            version = run.wrote(spec, write_gold(spark, settings, spec, df, ds))
            logger.info("%s: wrote %s version %d", job, spec.full_name, version)
            if len(run.outputs) == 1 and len(frames) > 1:
                faults.maybe_fail(f"{job}.partial_write", settings)  # test hook (FYP_FAULTS)
        return {"inputs": run.inputs, "outputs": run.outputs, **extra}

    return run_job(job, spark, settings, ds, body, versions=versions, params=params.as_dict())
