"""Quality gate job: validate one layer's output for a data interval (the DAGs run it between
stages; a failing gate fails the task, so downstream stages do not run).

``spark-submit jobs/quality_gate.py --ds D --param layer=silver`` (layer: bronze, silver, gold,
all, or one table such as ``silver.watch_history``). ``fyp job quality_gate --param layer=gold``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from fyplake.config import Settings
from jobs._entry import job_main
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

    result = run_gate(
        spark, settings, layer, ds, suites_dir=Path(suites_dir) if suites_dir else None
    )
    return {
        "gate": result.gate,
        "success": result.success,
        "message": result.message(),
        "tables": {t.table: t.rows for t in result.tables},
        "results_path": result.results_path,
        "docs_path": result.docs_path,
    }


if __name__ == "__main__":
    job_main("quality_gate", run)
