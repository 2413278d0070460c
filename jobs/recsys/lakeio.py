"""Lake I/O of the recommendation jobs: the silver inputs and the per-ds gold writes.

Reads are pinned through the job skeleton (``jobs.jobrun``: each table at one Delta version,
recorded with the versions written in ``gold.runs``). Gold tables hold one snapshot per ``ds``
partition, rewritten with ``replaceWhere`` (re-running a ds replaces its rows: same inputs, same
result, no duplicates).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession

from fyplake import catalog, delta_io
from fyplake.catalog import TableSpec
from fyplake.config import Settings
from jobs.jobrun import Reads
from jobs.recsys.pipeline import Silver

SILVER_SPECS = {
    "watch": catalog.SILVER_WATCH_HISTORY,
    "users": catalog.SILVER_USERS,
    "videos": catalog.SILVER_VIDEOS,
    "follows": catalog.SILVER_FOLLOWS,
}


def read_silver(reads: Reads) -> Silver:
    """The engine's silver inputs, each pinned (and recorded) through ``reads``."""
    return Silver(**{k: reads.table(spec) for k, spec in SILVER_SPECS.items()})


def write_gold(
    spark: SparkSession, settings: Settings, spec: TableSpec, df: DataFrame, ds: dt.date
) -> int:
    """Replace the ``ds`` partition of a gold table with ``df``; returns the new version."""
    return delta_io.replace_where(
        spark, df, spec, delta_io.partition_predicate("ds", ds), settings=settings
    )
