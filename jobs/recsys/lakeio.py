"""Lake I/O of the recommendation jobs: the silver inputs and the per-ds gold writes.

Reads are pinned through the job skeleton (``jobs.jobrun``: each table at one Delta version,
recorded with the versions written in ``gold.runs``). Gold tables hold one snapshot per ``ds``
partition, rewritten with ``replaceWhere`` (re-running a ds replaces its rows: same inputs, same
result, no duplicates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

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

#: The gold of a ds that candidate generation reads (the users' side and the source lists),
#: by table name: the rank job reads it for ds, ``train_ranker`` for its training day.
CANDIDATE_GOLD = {
    spec.name: spec
    for spec in (
        catalog.GOLD_VIDEO_FEATURES,
        catalog.GOLD_VIDEO_EMBEDDINGS,
        catalog.GOLD_USER_EMBEDDINGS,
        catalog.GOLD_VIDEO_NEIGHBOURS,
        catalog.GOLD_USER_AFFINITIES,
        catalog.GOLD_HASHTAG_TOP,
        catalog.GOLD_SOUND_TOP,
        catalog.GOLD_CREATOR_TOP,
        catalog.GOLD_TRENDING,
        catalog.GOLD_EXPLORATION_ASSIGNMENTS,
    )
}


def read_silver(reads: Reads) -> Silver:
    """The engine's silver inputs, each pinned (and recorded) through ``reads``."""
    return Silver(**{k: reads.table(spec) for k, spec in SILVER_SPECS.items()})


def read_gold(reads: Reads, specs: Iterable[TableSpec], ds: dt.date) -> dict[str, DataFrame]:
    """The ``ds`` partitions of gold tables, by table name, each pinned through ``reads``."""
    return {spec.name: reads.gold(spec, ds) for spec in specs}


def write_gold(
    spark: SparkSession, settings: Settings, spec: TableSpec, df: DataFrame, ds: dt.date
) -> int:
    """Replace the ``ds`` partition of a gold table with ``df``; returns the new version."""
    return delta_io.replace_where(
        spark, df, spec, delta_io.partition_predicate("ds", ds), settings=settings
    )
