"""The shape every recommendation job shares: read (pinned versions) -> stage -> write -> record."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from fyplake import catalog, faults
from fyplake.config import Settings
from jobs.recsys.lakeio import Reads, record_run, run_id_for, write_gold
from jobs.recsys.params import RecParams

logger = logging.getLogger(__name__)

Stage = Callable[[Reads, RecParams, dt.date], dict[str, DataFrame]]


def run_stage(
    job: str,
    spark: SparkSession,
    settings: Settings,
    ds: dt.date,
    stage: Stage,
    versions: dict[str, int] | None = None,
    finish: Callable[[dict[str, DataFrame], str], dict[str, DataFrame]] | None = None,
    report: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``stage`` and write each returned frame to ``gold.<name>``; returns the result dict
    (run_id, versions read and written) that ``fyp job`` prints and Airflow keeps as XCom.
    ``report``: a dict the stage fills in (e.g. which ranker ran): added to the run's params
    in gold.runs and to the result."""
    started = dt.datetime.now(dt.UTC)
    if isinstance(versions, str):  # `fyp job NAME --param versions='{"silver.users": 3}'`
        versions = {k: int(v) for k, v in json.loads(versions).items()}
    params = RecParams.from_settings(settings)
    reads = Reads(spark, settings, versions)
    frames = stage(reads, params, ds)
    extra = dict(report or {})
    run_params = {**params.as_dict(), **extra}
    run_id = run_id_for(ds, reads.versions, run_params)
    if finish is not None:
        frames = finish(frames, run_id)
    outputs: dict[str, int] = {}
    for name, df in frames.items():
        spec = catalog.table(f"gold.{name}")
        outputs[spec.full_name] = write_gold(spark, settings, spec, df, ds)
        logger.info("%s: wrote %s version %d", job, spec.full_name, outputs[spec.full_name])
        if len(outputs) == 1 and len(frames) > 1:
            faults.maybe_fail(f"{job}.partial_write", settings)  # test hook, off unless FYP_FAULTS
    record_run(
        spark,
        settings,
        ds=ds,
        job=job,
        run_id=run_id,
        started_at=started,
        inputs=reads.versions,
        outputs=outputs,
        params=run_params,
    )
    return {
        "job": job,
        "ds": ds.isoformat(),
        "run_id": run_id,
        "inputs": reads.versions,
        "outputs": outputs,
        **extra,
    }
