"""Analyst access to the lake: table listing and SQL over tables by name (``<layer>.<table>``).

Two engines answer the same SQL:

* ``duckdb``: delta-rs reads the Delta log (any version or timestamp) and hands DuckDB an Arrow
  dataset per table; no JVM, so a small query answers in well under a second;
* ``spark``: a Spark session with each table registered as a view ``<layer>.<table>`` over
  ``delta.`path``` (with ``VERSION AS OF`` / ``TIMESTAMP AS OF``). The caller passes the session
  in (``spark=``, a zero-argument factory, called only when Spark answers): this library never
  builds one itself; ``fyp sql`` hands it ``infra.spark.get_spark``.

``engine="auto"`` takes DuckDB when the tables a query names total at most
``settings.sql_fast_path_max_bytes``, Spark otherwise. Both return a ``pyarrow.Table``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fyplake import catalog, storage
from fyplake.config import Settings

if TYPE_CHECKING:
    import pyarrow as pa

_NAME_RE = re.compile(r"(?<![\w.`\"])`?(bronze|silver|gold|quarantine|_meta)`?\.`?(\w+)`?", re.I)


class LakeQueryError(RuntimeError):
    """A query the user can fix (unknown table, missing version, SQL error)."""


def storage_options(settings: Settings) -> dict[str, str] | None:
    """delta-rs options for the lake (None: a local lake)."""
    return None if settings.lake_is_local else storage.storage_options(settings)


def _uri(settings: Settings, spec: catalog.TableSpec) -> str:
    path = spec.path(settings)
    return path.replace("s3a://", "s3://", 1)


def open_delta(settings: Settings, spec: catalog.TableSpec):  # noqa: ANN201 - DeltaTable
    """The table through delta-rs (local or object store), or None if it does not exist."""
    from deltalake import DeltaTable

    uri = _uri(settings, spec)
    if not DeltaTable.is_deltatable(uri, storage_options=storage_options(settings)):
        return None
    return DeltaTable(uri, storage_options=storage_options(settings))


def arrow_dataset(settings: Settings, spec: catalog.TableSpec, table=None):  # noqa: ANN001, ANN201
    """The table's current (or ``table``'s loaded) version as a pyarrow dataset read through a
    native filesystem (see :func:`fyplake.storage.arrow_filesystem`)."""
    table = table if table is not None else open_delta(settings, spec)
    if table is None:
        raise LakeQueryError(
            f"table {spec.layer}.{spec.name} does not exist yet at {spec.path(settings)}"
        )
    return table.to_pyarrow_dataset(
        filesystem=storage.arrow_filesystem(spec.path(settings), settings)
    )


def list_tables(settings: Settings) -> list[dict[str, Any]]:
    """Every catalog table: rows, Delta version, files and bytes (from the Delta log)."""
    import pyarrow as pa

    out = []
    for name, spec in sorted(catalog.TABLES.items()):
        table = open_delta(settings, spec)
        row: dict[str, Any] = {
            "table": name,
            "rows": None,
            "version": None,
            "files": 0,
            "size_bytes": 0,
            "partitioned_by": ",".join(spec.partition_by),
            "path": spec.path(settings),
        }
        if table is not None:
            actions = pa.table(table.get_add_actions(flatten=True))
            counts = actions.column("num_records").to_pylist() if actions.num_rows else []
            row["version"] = table.version()
            row["files"] = actions.num_rows
            row["size_bytes"] = int(sum(actions.column("size_bytes").to_pylist() or [0]))
            if all(c is not None for c in counts):
                row["rows"] = int(sum(counts))
            else:  # a file without statistics: count it
                row["rows"] = table.to_pyarrow_dataset().count_rows()
        out.append(row)
    return out


def referenced_tables(sql: str) -> list[str]:
    """Catalog tables a query names (``layer.table``, optionally back-quoted)."""
    names = []
    for layer, name in _NAME_RE.findall(sql):
        full = f"{layer.lower()}.{name.lower()}"
        if full in catalog.TABLES and full not in names:
            names.append(full)
    return names


def parse_as_of(value: str | None) -> int | dt.datetime | None:
    """``--as-of``: a Delta version (integer) or a timestamp (ISO-8601, UTC if no zone)."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    try:
        ts = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise LakeQueryError(
            f"--as-of takes a version number or an ISO timestamp, got {value!r}"
        ) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


def _size(settings: Settings, names: list[str]) -> int:
    import pyarrow as pa

    total = 0
    for name in names:
        table = open_delta(settings, catalog.table(name))
        if table is not None:
            actions = pa.table(table.get_add_actions(flatten=True))
            total += int(sum(actions.column("size_bytes").to_pylist() or [0]))
    return total


def run_sql(
    settings: Settings,
    sql: str,
    as_of: str | int | None = None,
    engine: str = "auto",
    spark: Callable[[], Any] | None = None,
) -> tuple[pa.Table, str]:
    """Run ``sql`` over the lake; returns (result, engine used).

    ``spark`` makes the Spark session when the Spark engine answers (its caller's session
    builder); without it a query that needs Spark raises :class:`LakeQueryError`."""
    names = referenced_tables(sql)
    unknown = sorted(
        {f"{layer.lower()}.{name.lower()}" for layer, name in _NAME_RE.findall(sql)}
        - set(catalog.TABLES)
    )
    if unknown:
        raise LakeQueryError(
            f"unknown lake table(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(catalog.TABLES))}"
        )
    when = parse_as_of(as_of) if not isinstance(as_of, int) else as_of
    if engine == "auto":
        engine = "duckdb" if _size(settings, names) <= settings.sql_fast_path_max_bytes else "spark"
    if engine == "duckdb":
        return _run_duckdb(settings, sql, names, when), engine
    if engine == "spark":
        if spark is None:
            raise LakeQueryError("the Spark engine needs a Spark session (pass spark=)")
        return _run_spark(spark(), settings, sql, names, when), engine
    raise LakeQueryError(f"unknown engine {engine!r}; use auto, duckdb or spark")


def _run_duckdb(
    settings: Settings, sql: str, names: list[str], when: int | dt.datetime | None
) -> pa.Table:
    import duckdb

    con = duckdb.connect()
    for name in names:
        spec = catalog.table(name)
        table = open_delta(settings, spec)
        if table is None:
            raise LakeQueryError(f"table {name} does not exist yet at {spec.path(settings)}")
        if when is not None:
            try:
                table.load_as_version(when)
            except Exception as exc:  # noqa: BLE001 - delta-rs raises several types
                raise LakeQueryError(f"{name} has no version as of {when}: {exc}") from None
        view = f"__{spec.layer}__{spec.name}"
        con.register(view, arrow_dataset(settings, spec, table))
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{spec.layer}"')
        con.execute(f'CREATE VIEW "{spec.layer}"."{spec.name}" AS SELECT * FROM "{view}"')
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise LakeQueryError(f"DuckDB: {exc}".splitlines()[0]) from None
    except AttributeError:  # a statement without a result (e.g. SET)
        return _empty()
    finally:
        con.close()


def _empty() -> pa.Table:
    import pyarrow as pa

    return pa.table({})


def _run_spark(
    spark: Any, settings: Settings, sql: str, names: list[str], when: int | dt.datetime | None
) -> pa.Table:
    register_spark_views(spark, settings, names, when)
    try:
        return spark.sql(sql).toArrow()
    except Exception as exc:  # noqa: BLE001 - AnalysisException and friends
        raise LakeQueryError(f"Spark: {str(exc).splitlines()[0]}") from None


def register_spark_views(
    spark: Any, settings: Settings, names: list[str], when: int | dt.datetime | None = None
) -> None:
    """Make ``<layer>.<table>`` resolvable in Spark SQL (views over the Delta paths)."""
    from fyplake import delta_io

    if isinstance(when, dt.datetime):
        clause = f" TIMESTAMP AS OF '{when.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    elif isinstance(when, int):
        clause = f" VERSION AS OF {int(when)}"
    else:
        clause = ""
    for name in names:
        spec = catalog.table(name)
        if not delta_io.table_exists(spark, spec, settings):
            raise LakeQueryError(f"table {name} does not exist yet at {spec.path(settings)}")
        path = spec.path(settings).replace("`", "``")
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{spec.layer}`")
        spark.sql(
            f"CREATE OR REPLACE VIEW `{spec.layer}`.`{spec.name}` AS "
            f"SELECT * FROM delta.`{path}`{clause}"
        )


def plain_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Arrow rows as JSON-friendly dicts (integral decimals -> int, others -> float)."""
    rows = table.to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, decimal.Decimal):
                row[key] = int(value) if value == value.to_integral_value() else float(value)
    return rows


def write_result(table: pa.Table, path: str | Path) -> Path:
    """Write a result by the file's extension: .csv, .parquet/.pq, .json/.jsonl."""
    import json

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".csv":
        pacsv.write_csv(table, out)
    elif suffix in (".parquet", ".pq"):
        pq.write_table(table, out)
    elif suffix in (".json", ".jsonl"):
        with open(out, "w") as fh:
            for row in plain_rows(table):
                fh.write(json.dumps(row, default=str) + "\n")
    else:
        raise LakeQueryError(f"--out {out}: use a .csv, .parquet or .jsonl file name")
    return out
