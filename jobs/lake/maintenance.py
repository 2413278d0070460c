"""Lake maintenance: OPTIMIZE (bin-packing compaction) and VACUUM every catalog table.

VACUUM keeps ``settings.vacuum_retain_hours`` (at least 168 h = 7 days, enforced by the
settings and by Delta's retention check, which stays on), so time travel and readers of older
snapshots keep working for a week. Runs in a maintenance DAG of its own, off the hot path:
``spark-submit jobs/lake/maintenance.py --ds D`` (``--param tables=bronze.events,silver.users``
to limit it, ``--param vacuum=false`` to only compact). Its ``gold.runs`` row: inputs = each
table's version before, outputs = its version after.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from fyplake import catalog, delta_io
from fyplake.config import Settings
from jobs._entry import job_main
from jobs.jobrun import JobRun, run_job

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

MIN_RETAIN_HOURS = 168


def _file_count(spark: SparkSession, path: str) -> int:
    from delta.tables import DeltaTable

    return int(DeltaTable.forPath(spark, path).detail().select("numFiles").first()[0])


def maintain_table(
    spark: SparkSession,
    settings: Settings,
    spec: catalog.TableSpec,
    vacuum: bool = True,
) -> dict:
    """OPTIMIZE then (optionally) VACUUM one table; returns files before/after and versions."""
    from delta.tables import DeltaTable

    path = spec.path(settings)
    table = DeltaTable.forPath(spark, path)
    before = _file_count(spark, path)
    metrics = table.optimize().executeCompaction().select("metrics.*").first()
    out = {
        "files_before": before,
        "files_removed": int(metrics["numFilesRemoved"]),
        "files_added": int(metrics["numFilesAdded"]),
        "files_after": _file_count(spark, path),
        "version": delta_io.latest_version(spark, spec, settings),
    }
    if vacuum:
        hours = max(MIN_RETAIN_HOURS, settings.vacuum_retain_hours)
        table.vacuum(float(hours))
        out["vacuum_retain_hours"] = hours
        out["version"] = delta_io.latest_version(spark, spec, settings)
    return out


def run(
    spark: SparkSession,
    settings: Settings,
    ds: dt.date,
    tables: str | None = None,
    vacuum: str | bool = True,
) -> dict:
    names = [t.strip() for t in tables.split(",")] if tables else sorted(catalog.TABLES)
    do_vacuum = (
        vacuum
        if isinstance(vacuum, bool)
        else vacuum.strip().lower() not in {"0", "false", "no", "n"}
    )

    def body(run: JobRun) -> dict:
        result: dict = {"tables": {}}
        for name in names:
            spec = catalog.table(name)
            if not delta_io.table_exists(spark, spec, settings):
                continue
            run.version(spec)
            result["tables"][name] = maintain_table(spark, settings, spec, vacuum=do_vacuum)
            run.wrote(spec, result["tables"][name]["version"])
            logger.info("maintenance %s: %s", name, result["tables"][name])
        return result

    params = {"tables": names, "vacuum": do_vacuum}
    return run_job("maintenance", spark, settings, ds, body, params=params)


if __name__ == "__main__":
    job_main("maintenance", run)
