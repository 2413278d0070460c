"""Reading and writing catalog tables with Delta, the same way in every job.

Writes go through three verbs only: ``merge_upsert`` (idempotent on the business key),
``replace_where`` (rebuild one partition range) and ``overwrite_table`` (small, unpartitioned
snapshots). Each returns the Delta version it produced, which jobs record for reproducibility.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from fyplake.catalog import DEFAULT_PROPERTIES, TableSpec
from fyplake.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)


def _local_log_version(path: str) -> int | None:
    """The newest commit version in a local table's ``_delta_log`` (-1: no table there), or
    None for an object-store path. A directory listing: no Delta snapshot, no Spark job."""
    if "://" in path and not path.startswith("file:"):
        return None
    log = Path(path.removeprefix("file://").removeprefix("file:")) / "_delta_log"
    try:
        names = os.listdir(log)
    except FileNotFoundError:
        return -1
    versions = [int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit()]
    return max(versions, default=-1)


def ensure_table(spark: SparkSession, spec: TableSpec, settings: Settings | None = None) -> str:
    """Create the table at its path if absent (declared schema, partitioning, properties)."""
    from delta.tables import DeltaTable
    from pyspark.sql.types import StructType

    path = spec.path(settings)
    local = _local_log_version(path)
    if local is not None and local >= 0:
        return path  # CREATE IF NOT EXISTS would leave it as it is
    builder = DeltaTable.createIfNotExists(spark).location(path)
    for fld in StructType.fromDDL(spec.schema).fields:
        builder = builder.addColumn(fld.name, fld.dataType, nullable=True)
    if spec.partition_by:
        builder = builder.partitionedBy(*spec.partition_by)
    for key, value in {**DEFAULT_PROPERTIES, **spec.properties}.items():
        builder = builder.property(key, value)
    builder.execute()
    return path


def add_declared_columns(
    spark: SparkSession, spec: TableSpec, settings: Settings | None = None
) -> list[str]:
    """Add the columns the spec declares and an existing table lacks (nullable, at the end), so
    a lake written before a column was declared takes the new writes (which never merge
    schemas) instead of failing on a schema mismatch. Returns the names added."""
    from pyspark.sql.types import StructType

    path = spec.path(settings)
    have = set(spark.read.format("delta").load(path).columns)
    new = [f for f in StructType.fromDDL(spec.schema).fields if f.name not in have]
    if new:
        cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in new)
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({cols})")
        logger.info("%s: added declared columns %s", spec.full_name, [f.name for f in new])
    return [f.name for f in new]


def _ensure_current(spark: SparkSession, spec: TableSpec, settings: Settings | None) -> None:
    """``ensure_table``, then ``add_declared_columns`` when the table was already there."""
    local = _local_log_version(spec.path(settings))
    ensure_table(spark, spec, settings)
    if local is None or local >= 0:
        add_declared_columns(spark, spec, settings)


def table_exists(spark: SparkSession, spec: TableSpec, settings: Settings | None = None) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, spec.path(settings))


def read_table(
    spark: SparkSession,
    spec: TableSpec,
    version: int | None = None,
    timestamp: str | None = None,
    settings: Settings | None = None,
) -> DataFrame:
    """The table as a DataFrame (optionally as of a version or timestamp); empty if absent."""
    if not table_exists(spark, spec, settings):
        from pyspark.sql.types import StructType

        return spark.createDataFrame([], StructType.fromDDL(spec.schema))
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    elif timestamp is not None:
        reader = reader.option("timestampAsOf", timestamp)
    return reader.load(spec.path(settings))


def conform(df: DataFrame, spec: TableSpec) -> DataFrame:
    """Select exactly the declared columns, cast to the declared types (fails on a missing one)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    missing = [c for c in spec.columns if c not in df.columns]
    if missing:
        raise ValueError(f"{spec.full_name}: output lacks declared columns {missing}")
    return df.select(
        *[F.col(f.name).cast(f.dataType).alias(f.name) for f in StructType.fromDDL(spec.schema)]
    )


def latest_version(spark: SparkSession, spec: TableSpec, settings: Settings | None = None) -> int:
    """The table's newest Delta version, -1 if there is no table."""
    from delta.tables import DeltaTable

    local = _local_log_version(spec.path(settings))
    if local is not None:
        return local
    if not table_exists(spark, spec, settings):
        return -1
    hist = DeltaTable.forPath(spark, spec.path(settings)).history(1)
    return int(hist.select("version").first()[0])


def merge_upsert(
    spark: SparkSession,
    df: DataFrame,
    spec: TableSpec,
    key: tuple[str, ...] | None = None,
    update_existing: bool = True,
    extra_condition: str | None = None,
    settings: Settings | None = None,
    update_condition: str | None = None,
    source_unique: bool = False,
) -> int:
    """MERGE ``df`` into the table on its key; the source is deduplicated by key first, unless
    the caller vouches that it holds each key once (``source_unique``: no shuffle of the source).

    ``update_existing=False`` gives insert-only semantics (first write wins, e.g. events).
    ``extra_condition`` narrows the target side (e.g. to the partitions the batch touches) so
    MERGE can prune files. ``update_condition`` (over ``t.``/``s.``) limits which matched rows
    are updated, e.g. ``"s.updated_at >= t.updated_at"`` so replaying an old record never
    reverts a newer one.
    """
    from delta.tables import DeltaTable

    key = key or spec.key
    if not key:
        raise ValueError(f"{spec.full_name} has no key to merge on")
    _ensure_current(spark, spec, settings)
    source = conform(df, spec)
    if not source_unique:
        source = source.dropDuplicates(list(key))
    cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in key)
    if extra_condition:
        cond = f"({cond}) AND ({extra_condition})"
    target = DeltaTable.forPath(spark, spec.path(settings))
    merge = target.alias("t").merge(source.alias("s"), cond)
    if update_existing:
        merge = merge.whenMatchedUpdateAll(condition=update_condition)
    merge.whenNotMatchedInsertAll().execute()
    return latest_version(spark, spec, settings)


def _sql_literal(value) -> str:  # noqa: ANN001
    """A key value as a SQL literal for a delta-rs predicate (strings quoted, quotes doubled)."""
    import datetime as _dt

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, _dt.datetime):
        raise TypeError("timestamps are not supported as keys of upsert_rows")
    if isinstance(value, _dt.date):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"unsupported key value {value!r}")


def upsert_rows(
    spark: SparkSession, rows: list[tuple], spec: TableSpec, settings: Settings | None = None
) -> int:
    """Upsert a handful of Python rows (tuples in the declared column order) on the table's key;
    returns the new version. For bookkeeping tables such as ``gold.runs``.

    On a local lake it is one delta-rs commit that replaces the rows with those keys (no Spark
    job: milliseconds, where a Spark MERGE of one row costs seconds); on an object store it is
    ``merge_upsert``. Same result either way: one row per key, the given values.
    """
    from pyspark.sql.types import StructType

    if not spec.key:
        raise ValueError(f"{spec.full_name} has no key to upsert on")
    schema = StructType.fromDDL(spec.schema)
    names = [f.name for f in schema.fields]
    by_key = {tuple(r[names.index(k)] for k in spec.key): tuple(r) for r in rows}
    if not by_key:
        return latest_version(spark, spec, settings)
    if _local_log_version(spec.path(settings)) is None:
        df = spark.createDataFrame(list(by_key.values()), schema)
        return merge_upsert(spark, df, spec, settings=settings)
    import pyarrow as pa
    from deltalake import write_deltalake
    from deltalake.exceptions import CommitFailedError
    from pyspark.sql.pandas.types import to_arrow_schema

    ensure_table(spark, spec, settings)
    table = pa.Table.from_pylist(
        [dict(zip(names, r, strict=True)) for r in by_key.values()],
        schema=to_arrow_schema(schema, timezone="UTC"),
    )
    predicate = " OR ".join(
        "("
        + " AND ".join(f"{k} = {_sql_literal(v)}" for k, v in zip(spec.key, key, strict=True))
        + ")"
        for key in by_key
    )
    for attempt in range(5):
        try:
            write_deltalake(spec.path(settings), table, mode="overwrite", predicate=predicate)
            break
        except CommitFailedError:  # another writer committed first: redo on the new snapshot
            if attempt == 4:
                raise
    return latest_version(spark, spec, settings)


def replace_where(
    spark: SparkSession,
    df: DataFrame,
    spec: TableSpec,
    predicate: str,
    settings: Settings | None = None,
) -> int:
    """Atomically replace the rows matching ``predicate`` (a partition range) with ``df``.

    Delta takes the predicate as SQL text; build it with :func:`partition_predicate` (dates are
    rendered as typed literals, never pasted in as values).
    """
    _ensure_current(spark, spec, settings)
    if not isinstance(predicate, str):
        raise TypeError("replace_where takes SQL text; use delta_io.partition_predicate(...)")
    (
        conform(df, spec)
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", predicate)
        .save(spec.path(settings))
    )
    return latest_version(spark, spec, settings)


def partition_predicate(column: str, value) -> str:  # noqa: ANN001 - date or datetime.date
    """``column = DATE'YYYY-MM-DD'`` for a date partition (the value must be a ``date``)."""
    import datetime as _dt

    if not isinstance(value, _dt.date):
        raise TypeError(f"partition_predicate takes a date, got {type(value).__name__}")
    if not column.replace("_", "").isalnum():
        raise ValueError(f"bad column name {column!r}")
    return f"`{column}` = DATE'{value.isoformat()}'"


def overwrite_table(
    spark: SparkSession, df: DataFrame, spec: TableSpec, settings: Settings | None = None
) -> int:
    """Replace an unpartitioned snapshot table in one commit (readers see old or new, not a mix)."""
    if spec.partition_by:
        raise ValueError(f"{spec.full_name} is partitioned: use replace_where, not overwrite")
    _ensure_current(spark, spec, settings)
    conform(df, spec).write.format("delta").mode("overwrite").save(spec.path(settings))
    return latest_version(spark, spec, settings)
