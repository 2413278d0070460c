"""The skeleton every job shares: read pinned inputs, run pure transforms, write outputs, record.

A job's ``run(spark, settings, ds, ...)`` is ``run_job(name, spark, settings, ds, body)``: the
body gets a :class:`JobRun` and

* reads every Delta input through it (``run.table(spec)``: pinned to one version, the latest at
  the first read unless ``versions`` gives one; ``run.version(spec)`` records the version a read
  made by other code sees), so the run knows exactly which versions it read;
* calls its pure ``DataFrame -> DataFrame`` transforms;
* writes its outputs and records each (``run.wrote(spec, version)``; a non-Delta output, such as
  rows upserted into Postgres or a Valkey dataset version, is recorded by name with a count);
* returns the job's own result keys.

``run_job`` then writes one ``gold.runs`` row (key ``ds, job``: a re-run of a ds replaces it)
with the versions read (inputs) and written (outputs) and the run's parameters, and returns the
body's result with ``job``, ``ds`` and ``run_id`` (deterministic: the same ds, input versions
and parameters give the same id). A body that raises records nothing. ``jobs._entry.run_job``
is the process entry around ``run`` (Spark session, parameters from the command line, timing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fyplake import catalog, delta_io
from fyplake.catalog import TableSpec
from fyplake.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)


class Reads:
    """Pinned reads: each table at one Delta version; ``versions`` maps table name -> version
    read (-1: the table did not exist), plus any non-Delta input recorded by name."""

    def __init__(
        self, spark: SparkSession, settings: Settings, pinned: dict[str, int] | None = None
    ):
        self.spark, self.settings = spark, settings
        self.pinned = dict(pinned or {})
        self.versions: dict[str, Any] = {}

    def version(self, spec: TableSpec) -> int:
        """The version this run reads ``spec`` at (pinned on first use), recorded as an input."""
        version = self.versions.get(spec.full_name)
        if version is None:
            version = self.pinned.get(spec.full_name)
            if version is None:
                version = delta_io.latest_version(self.spark, spec, self.settings)
            self.versions[spec.full_name] = version = int(version)
        return version

    def table(self, spec: TableSpec) -> DataFrame:
        version = self.version(spec)
        return delta_io.read_table(
            self.spark, spec, version=version if version >= 0 else None, settings=self.settings
        )

    def gold(self, spec: TableSpec, ds: dt.date) -> DataFrame:
        from pyspark.sql import functions as F

        return self.table(spec).where(F.col("ds") == F.lit(ds))

    def counted(self, name: str, count: int) -> None:
        """Record a non-Delta input (e.g. the landing files an ingest consumed) by its count."""
        self.versions[name] = int(count)


class JobRun(Reads):
    """One run of ``job`` for ``ds``: its pinned reads, its outputs, its parameters."""

    def __init__(
        self,
        job: str,
        spark: SparkSession,
        settings: Settings,
        ds: dt.date | None,
        *,
        versions: dict[str, int] | str | None = None,
        params: dict[str, Any] | None = None,
        reads: Reads | None = None,
        started: dt.datetime | None = None,
    ):
        """``versions``: tables to read at a given version (the rest: the latest at first read).
        ``reads``/``started``: share the reads and start time of an earlier part of the same
        job (``evaluate`` records one run per hold-out over one set of reads)."""
        if isinstance(versions, str):  # `fyp job NAME --param versions='{"silver.users": 3}'`
            versions = {k: int(v) for k, v in json.loads(versions).items()}
        super().__init__(spark, settings, versions)
        if reads is not None:
            self.pinned, self.versions = reads.pinned, reads.versions
        self.started = started or dt.datetime.now(dt.UTC)
        # a job called without a date (maintenance from a script) is recorded on its UTC day
        self.job, self.ds = job, ds or self.started.date()
        self.params: dict[str, Any] = dict(params or {})
        self.outputs: dict[str, Any] = {}

    @property
    def inputs(self) -> dict[str, Any]:
        return self.versions

    @property
    def run_id(self) -> str:
        return run_id_for(self.ds, self.inputs, self.params)

    def wrote(self, target: TableSpec | str, version_or_count: int) -> int:
        """Record an output: a Delta table and the version written, or a non-Delta output
        (``postgres.videos``, ``valkey.feed``) and a count (rows, a dataset version)."""
        name = target.full_name if isinstance(target, TableSpec) else target
        self.outputs[name] = int(version_or_count)
        return int(version_or_count)

    def finish(self, result: dict[str, Any] | None = None, *, record_as: str | None = None) -> dict:
        """Write the run's ``gold.runs`` row; returns ``result`` led by job, ds and run_id.
        ``record_as``: the row's job name when it is not the job's (e.g. one row per gate)."""
        run_id = self.run_id
        record_run(
            self.spark,
            self.settings,
            ds=self.ds,
            job=record_as or self.job,
            run_id=run_id,
            started_at=self.started,
            inputs=self.inputs,
            outputs=self.outputs,
            params=self.params,
        )
        return {"job": self.job, "ds": self.ds.isoformat(), "run_id": run_id, **(result or {})}


def run_job(
    job: str,
    spark: SparkSession,
    settings: Settings,
    ds: dt.date,
    body: Callable[[JobRun], dict[str, Any] | None],
    *,
    versions: dict[str, int] | str | None = None,
    params: dict[str, Any] | None = None,
    record_as: str | None = None,
) -> dict[str, Any]:
    """Run ``body`` as one run of ``job`` for ``ds``; record it in ``gold.runs`` and return the
    body's result with ``job``, ``ds`` and ``run_id``. ``params`` (the job's parameters) go into
    the run id and the row; the body may add to ``run.params`` (e.g. which ranker ran)."""
    run = JobRun(job, spark, settings, ds, versions=versions, params=params)
    result = body(run)
    return run.finish(result, record_as=record_as)


def run_id_for(ds: dt.date, inputs: dict[str, Any], params: dict[str, Any]) -> str:
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
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    params: dict[str, Any],
) -> int:
    """Upsert the run's ``gold.runs`` row (key ``ds, job``); returns the table's new version."""
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
