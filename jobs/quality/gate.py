"""``run_gate``: validate one layer's (or one table's) output for a data interval.

Each table has an expectation suite in ``suites/<layer>.<table>.json`` (GX 1.x suite JSON;
``{"$PARAMETER": "completion_cap"}`` takes a value from the settings). The gate validates the
slice of the table the interval's run wrote (partitioned tables) or the whole table
(dimensions), on Spark, so every count is over all of its rows. A GX file context under
``<quality_dir>/gx`` keeps every validation result and renders them as HTML data docs;
``<quality_dir>/results/<ds>/`` keeps a JSON summary per gate run. A quality dir in an object
store (the default beside an ``s3://`` lake) gets the same files: GX works in a local context on
the driver and the gate copies out what it wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fyplake import catalog, delta_io, storage
from fyplake.config import Settings
from jobs.lake.dates import date_col_in, rebuild_dates, touched_event_dates

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

SUITES_DIR = Path(__file__).resolve().parent / "suites"

#: The tables each layer's gate validates.
LAYERS: dict[str, tuple[str, ...]] = {
    "bronze": ("bronze.events", "quarantine.events"),
    "silver": (
        "silver.watch_history",
        "silver.users",
        "silver.videos",
        "silver.sounds",
        "silver.follows",
        "silver.hashtags",
    ),
    "gold": ("gold.video_daily_stats", "gold.creator_daily_stats"),
}


class QualityGateFailed(RuntimeError):
    """A gate found failing expectations; the message names each with its row counts."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        super().__init__(result.message())


@dataclass
class ExpectationFailure:
    expectation: str
    column: str | None
    unexpected_count: int | None
    element_count: int | None
    observed: Any = None
    error: str | None = None

    def describe(self) -> str:
        what = f"{self.expectation}({self.column})" if self.column else self.expectation
        if self.error:
            return f"{what} raised {self.error}"
        if self.unexpected_count is not None and self.element_count is not None:
            return f"{what} failed on {self.unexpected_count} of {self.element_count} rows"
        return f"{what} failed (observed {self.observed!r})"


@dataclass
class TableResult:
    table: str
    rows: int
    success: bool
    evaluated: int
    failures: list[ExpectationFailure] = field(default_factory=list)


@dataclass
class GateResult:
    gate: str
    ds: str
    success: bool
    tables: list[TableResult]
    results_path: str | None = None
    docs_path: str | None = None

    def message(self) -> str:
        if self.success:
            checked = sum(t.evaluated for t in self.tables)
            return f"gate {self.gate} passed: {checked} expectations on {len(self.tables)} tables"
        parts = [
            f"{t.table}: {f.describe()}" for t in self.tables if not t.success for f in t.failures
        ]
        docs = f" (data docs: {self.docs_path})" if self.docs_path else ""
        return f"gate {self.gate} failed: " + "; ".join(parts) + docs

    def to_dict(self) -> dict:
        return asdict(self)


def _tables(layer_or_table: str) -> list[str]:
    if layer_or_table == "all":
        return [t for tables in LAYERS.values() for t in tables]
    if layer_or_table in LAYERS:
        return list(LAYERS[layer_or_table])
    catalog.table(layer_or_table)  # raises a clear KeyError for unknown names
    return [layer_or_table]


def scoped_frame(
    spark: SparkSession, settings: Settings, table: str, ds: dt.date, dates: list[dt.date]
) -> DataFrame:
    """The part of ``table`` the run of interval ``ds`` wrote, by its partition column:
    ``event_date`` -> the dates the interval touched (and the day before each), ``date`` -> the
    range gold rebuilt, ``ingest_date``/``ds`` -> the interval's date; unpartitioned -> all."""
    from pyspark.sql import functions as F

    spec = catalog.table(table)
    df = delta_io.read_table(spark, spec, settings=settings)
    parts = spec.partition_by
    if "event_date" in parts:
        return df.where(date_col_in("event_date", dates))
    if "date" in parts:
        return df.where(F.col("date").between(F.lit(min(dates)), F.lit(max(dates))))
    for column in ("ingest_date", "ds"):
        if column in parts:
            return df.where(F.col(column) == F.lit(ds))
    return df


def _gx_root(settings: Settings) -> Path:
    """GX's file context: ``<quality_dir>/gx``, or a local working copy on this driver when the
    quality dir is in an object store (``_publish_remote`` copies out what a gate wrote)."""
    if storage.is_remote(settings.quality_dir):
        return Path(settings.home) / "scratch" / "quality"
    return Path(settings.quality_dir)


def _publish_remote(settings: Settings, since: float) -> None:
    """Copy the validation results and data docs pages this gate wrote from the local GX
    context to ``<quality_dir>/gx`` in the object store (the same layout as a local one)."""
    root = _gx_root(settings)
    written = [
        path
        for part in ("validations", "data_docs")  # not config_variables.yml: it may hold secrets
        for path in sorted((root / "gx" / "uncommitted" / part).rglob("*"))
    ]
    for path in written:
        if path.is_file() and path.stat().st_mtime >= since:
            rel = path.relative_to(root).as_posix()
            storage.write_atomic(storage.join(settings.quality_dir, rel), path.read_bytes())


def _docs_location(settings: Settings, local_url: str | None) -> str | None:
    """Where a reader finds the data docs page: the object-store copy of a local page."""
    if not local_url or not storage.is_remote(settings.quality_dir):
        return local_url
    from urllib.parse import unquote, urlparse

    try:
        rel = Path(unquote(urlparse(local_url).path)).relative_to(_gx_root(settings).resolve())
    except ValueError:
        return local_url
    return str(storage.join(settings.quality_dir, rel.as_posix()))


def _gx_context(settings: Settings):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = _gx_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _batch_definition(ctx, table: str, engine: str):
    name = f"lake_{engine}"
    try:
        source = ctx.data_sources.get(name)
    except (KeyError, ValueError, LookupError):
        if engine == "spark":
            source = ctx.data_sources.add_spark(name=name, persist=False)
        else:
            source = ctx.data_sources.add_pandas(name=name)
    try:
        asset = source.get_asset(table)
    except (KeyError, ValueError, LookupError):
        asset = source.add_dataframe_asset(name=table)
    try:
        return asset.get_batch_definition("whole")
    except (KeyError, ValueError, LookupError):
        return asset.add_batch_definition_whole_dataframe("whole")


def load_suite(table: str, suites_dir: Path | None = None, engine: str = "spark") -> dict:
    """The suite JSON of ``table``. Row conditions are best written as GX condition objects
    (``{"type": "comparison", "column": {"name": "event_type"}, "operator": "!=",
    "parameter": "follow"}``), which every engine reads; a legacy string condition gets the
    parser of the engine that runs it."""
    if suites_dir is None:
        # through the package's resources, so the suites load from a shipped zip as well
        from importlib import resources

        path = resources.files("jobs.quality").joinpath("suites", f"{table}.json")
    else:
        path = Path(suites_dir) / f"{table}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no expectation suite for {table}: {path}")
    suite = json.loads(path.read_text())
    for exp in suite.get("expectations", []):
        if isinstance(exp.get("kwargs", {}).get("row_condition"), str):
            exp["kwargs"]["condition_parser"] = engine
    return suite


def _build_suite(gx, spec: dict, table: str):
    suite = gx.ExpectationSuite(**spec)
    if len(suite.expectations) != len(spec.get("expectations", [])):
        # GX logs and drops an expectation it cannot build; a gate must not shrink silently
        known = {e.expectation_type for e in suite.expectations}
        bad = [e["type"] for e in spec["expectations"] if e["type"] not in known]
        raise ValueError(f"suite {table}: invalid expectation(s) {bad}")
    return suite


def suite_parameters(settings: Settings) -> dict[str, Any]:
    """Values suites may reference as ``{"$PARAMETER": name}``."""
    return {
        "completion_cap": settings.completion_cap,
        "max_watch_multiple": settings.max_watch_multiple,
        "engagement_window_s": settings.engagement_window_s,
    }


def _failures(validation) -> list[ExpectationFailure]:
    out = []
    for r in validation.results:
        if r.success:
            continue
        kwargs = r.expectation_config.kwargs
        column = kwargs.get("column")
        if column is None and "column_list" in kwargs:
            column = ", ".join(kwargs["column_list"])
        if column is None and "column_A" in kwargs:
            column = f"{kwargs['column_A']}, {kwargs['column_B']}"
        res = r.result or {}
        info = r.exception_info or {}
        raised = info.get("raised_exception") if isinstance(info, dict) else None
        out.append(
            ExpectationFailure(
                expectation=r.expectation_config.type,
                column=column,
                unexpected_count=res.get("unexpected_count"),
                element_count=res.get("element_count"),
                observed=res.get("observed_value"),
                error=str(info.get("exception_message")) if raised else None,
            )
        )
    return out


def _new_pages(ctx, tables: list[str], stored_before: set) -> list:  # noqa: ANN001
    """The data docs pages this gate changed: its suites and its new validation results.

    Rendering only these (plus the index) keeps a gate's cost flat; a full rebuild renders every
    validation result ever stored, which grows by a few ms per result, every night."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    new = [k for k in ctx.validation_results_store.list_keys() if k not in stored_before]
    return [ExpectationSuiteIdentifier(name=t) for t in tables] + new


def run_gate(
    spark: SparkSession,
    settings: Settings,
    layer_or_table: str,
    ds: dt.date,
    *,
    suites_dir: Path | None = None,
    raise_on_failure: bool = True,
) -> GateResult:
    """Validate ``layer_or_table`` ("bronze", "silver", "gold", "all" or a table name) for
    interval ``ds``; raises ``QualityGateFailed`` (unless told not to) when any expectation
    fails. Results go to the GX stores and data docs under ``settings.quality_dir``."""
    from pyspark import StorageLevel

    tables = _tables(layer_or_table)
    dates = rebuild_dates(touched_event_dates(spark, settings, ds), ds)
    started = time.time() - 1.0  # file mtimes may be rounded down
    ctx = _gx_context(settings)  # sets GX's environment before its first import
    import great_expectations as gx

    params = suite_parameters(settings)
    results: list[TableResult] = []
    stored_before = set(ctx.validation_results_store.list_keys())
    for table in tables:
        frame = scoped_frame(spark, settings, table, ds, dates).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        try:
            rows = frame.count()
            # small slices are validated in pandas (all rows, one Spark job to collect them);
            # large ones on Spark, where GX runs a few Spark jobs per expectation
            engine = "pandas" if rows <= settings.quality_pandas_max_rows else "spark"
            data = frame.toPandas() if engine == "pandas" else frame
            suite = ctx.suites.add_or_update(
                _build_suite(gx, load_suite(table, suites_dir, engine), table)
            )
            definition = ctx.validation_definitions.add_or_update(
                gx.ValidationDefinition(
                    name=table, data=_batch_definition(ctx, table, engine), suite=suite
                )
            )
            validation = definition.run(
                batch_parameters={"dataframe": data},
                expectation_parameters=params,
                result_format="SUMMARY",
            )
        finally:
            frame.unpersist()
        failures = _failures(validation)
        results.append(
            TableResult(
                table=table,
                rows=rows,
                success=bool(validation.success),
                evaluated=len(validation.results),
                failures=failures,
            )
        )
        logger.info("gate %s %s: %s on %d rows", layer_or_table, table, validation.success, rows)
    docs = ctx.build_data_docs(resource_identifiers=_new_pages(ctx, tables, stored_before))
    docs_path = next(iter(docs.values()), None) if docs else None
    if storage.is_remote(settings.quality_dir):
        _publish_remote(settings, started)
        docs_path = _docs_location(settings, docs_path)
    result = GateResult(
        gate=layer_or_table,
        ds=ds.isoformat(),
        success=all(t.success for t in results),
        tables=results,
        docs_path=docs_path,
    )
    out_dir = storage.join(settings.quality_dir, "results", ds.isoformat())
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    path = storage.join(out_dir, f"{layer_or_table}-{stamp}.json")
    result.results_path = str(path)
    summary = json.dumps(result.to_dict(), indent=2, default=str).encode()
    storage.write_atomic(path, summary, settings)
    storage.write_atomic(storage.join(out_dir, f"{layer_or_table}-latest.json"), summary, settings)
    if not result.success and raise_on_failure:
        raise QualityGateFailed(result)
    logger.info(result.message())
    return result
