"""Quality gate job: validate one layer's output for a data interval (the DAGs run it between
stages; a failing gate fails the task, so downstream stages do not run).

``spark-submit jobs/lake/quality_gate.py --ds D --param layer=silver`` (layer: bronze, silver,
gold, all, or one table such as ``silver.watch_history``). ``fyp job quality_gate --param
layer=gold``. A gate that passes is recorded in ``gold.runs`` as job ``quality_gate.<layer>`` (one
row per gate and ds): inputs = the versions of the tables it validated, outputs = the rows
validated per table; a failing gate raises and records nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from fyplake import catalog
from fyplake.config import Settings
from jobs._entry import job_main
from jobs.jobrun import JobRun, run_job
from jobs.quality import run_gate

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def run(
    spark: SparkSession,
    settings: Settings,
    ds: dt.date,
    layer: str = "all",
    suites_dir: str | None = None,
) -> dict:
    from pathlib import Path

    def body(run: JobRun) -> dict:
        result = run_gate(
            spark, settings, layer, ds, suites_dir=Path(suites_dir) if suites_dir else None
        )
        for table in result.tables:
            run.version(catalog.table(table.table))
            run.wrote(f"rows.{table.table}", table.rows)
        return {
            "gate": result.gate,
            "success": result.success,
            "message": result.message(),
            "tables": {t.table: t.rows for t in result.tables},
            "results_path": result.results_path,
            "docs_path": result.docs_path,
        }

    params = {"layer": layer, "suites_dir": suites_dir}
    return run_job(
        "quality_gate", spark, settings, ds, body, params=params, record_as=f"quality_gate.{layer}"
    )


if __name__ == "__main__":
    job_main("quality_gate", run)
