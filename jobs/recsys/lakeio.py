"""Lake I/O of the recommendation jobs: versioned reads, per-ds gold writes, the run record.

Every read pins a Delta version (the latest at read time, or one given) and every write returns
the version it produced; ``record_run`` stores both in ``gold.runs`` so a run can be reproduced
with ``read_table(version=...)``. Gold tables hold one snapshot per ``ds`` partition, rewritten
with ``replaceWhere`` (re-running a ds replaces its rows: same inputs, same result, no duplicates).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fyplake import catalog, delta_io
from fyplake.catalog import TableSpec
from fyplake.config import Settings
from jobs.recsys.pipeline import Silver

SILVER_SPECS = {
    "watch": catalog.SILVER_WATCH_HISTORY,
    "users": catalog.SILVER_USERS,
    "videos": catalog.SILVER_VIDEOS,
    "follows": catalog.SILVER_FOLLOWS,
}


class Reads:
    """Collects the versions a job read (table name -> Delta version, -1 = absent)."""

    def __init__(
        self, spark: SparkSession, settings: Settings, pinned: dict[str, int] | None = None
    ):
        self.spark, self.settings = spark, settings
        self.pinned = dict(pinned or {})
        self.versions: dict[str, int] = {}

    def table(self, spec: TableSpec) -> DataFrame:
        version = self.pinned.get(spec.full_name)
        if version is None:
            version = delta_io.latest_version(self.spark, spec, self.settings)
        self.versions[spec.full_name] = int(version)
        return delta_io.read_table(
            self.spark, spec, version=version if version >= 0 else None, settings=self.settings
        )

    def gold(self, spec: TableSpec, ds: dt.date) -> DataFrame:
        return self.table(spec).where(F.col("ds") == F.lit(ds))

    def silver(self) -> Silver:
        return Silver(**{k: self.table(spec) for k, spec in SILVER_SPECS.items()})


def write_gold(
    spark: SparkSession, settings: Settings, spec: TableSpec, df: DataFrame, ds: dt.date
) -> int:
    """Replace the ``ds`` partition of a gold table with ``df``; returns the new version."""
    return delta_io.replace_where(
        spark, df, spec, delta_io.partition_predicate("ds", ds), settings=settings
    )


def run_id_for(ds: dt.date, inputs: dict[str, int], params: dict[str, Any]) -> str:
    """Deterministic: the same ds, input versions and parameters give the same run id."""
    blob = json.dumps(
        {"ds": ds.isoformat(), "inputs": inputs, "params": params}, sort_keys=True, default=str
    )
    return f"{ds:%Y%m%d}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def record_run(
    spark: SparkSession,
    settings: Settings,
    *,
    ds: dt.date,
    job: str,
    run_id: str,
    started_at: dt.datetime,
    inputs: dict[str, int],
    outputs: dict[str, int],
    params: dict[str, Any],
) -> int:
    row = [
        (
            ds,
            job,
            run_id,
            started_at.replace(tzinfo=None),
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
            json.dumps(inputs, sort_keys=True),
            json.dumps(outputs, sort_keys=True),
            json.dumps(params, sort_keys=True, default=str),
        )
    ]
    return delta_io.upsert_rows(spark, row, catalog.GOLD_RUNS, settings=settings)
