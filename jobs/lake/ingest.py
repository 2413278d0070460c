"""Ingest one data interval: landing files -> silver dimensions, bronze.events, quarantine.events.

For the landing files whose arrival hour lies in ``[start, end)`` (plus files of the
``ingest_catchup_hours`` before it that no run consumed yet):

1. users, videos and sounds records are parsed and typed; the latest record per key MERGEs into
   ``silver.users`` / ``silver.videos`` / ``silver.sounds`` (dimensions first, so the events of
   the same batch can refer to them);
2. events are parsed, typed and checked (see ``jobs.lake.reasons`` for the reasons, in order),
   then MERGE into ``bronze.events`` on ``event_id`` (insert-only: first write wins), each in the
   partition of its own event date (a late event lands in its past date); the duplicate check
   has already looked the batch's ids up in bronze, so the MERGE reads only the partitions of
   the batch's event dates;
3. every rejected line of any entity MERGEs into ``quarantine.events`` on (landing_file, line_no);
4. each consumed file is logged in ``_meta.ingested_files`` with its size, mtime and counts
   (lines = accepted + quarantined), and is skipped by later runs unless it changed.

Re-running an interval, replaying files or receiving an event twice never duplicates a row.
``spark-submit jobs/lake/ingest.py --ds D`` ingests the whole arrival day; the hourly DAG passes
``--param start=YYYY-MM-DDTHH:00 --param end=...``. Its ``gold.runs`` row (``jobs.jobrun``):
inputs = the landing files consumed (a count) and the version of ``_meta.ingested_files`` the
consumed-file check read; outputs = the versions written; params = the interval and ``force``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING

from fyplake import catalog, delta_io
from fyplake.config import Settings
from jobs._entry import job_main
from jobs.jobrun import JobRun, run_job
from jobs.lake import parsing, transforms
from jobs.lake.landing_files import (
    LandingFile,
    consumed_fingerprints,
    list_landing_files,
    read_landing_text,
)
from jobs.sparkconf import session_conf

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

DIMENSIONS = {
    "users": (catalog.SILVER_USERS, transforms.users_dim, "s.updated_at >= t.updated_at"),
    "videos": (catalog.SILVER_VIDEOS, transforms.videos_dim, "s.updated_at >= t.updated_at"),
    "sounds": (catalog.SILVER_SOUNDS, transforms.sounds_dim, None),
}


def read_lines(spark: SparkSession, files: list[LandingFile]) -> DataFrame:
    """The lines of the given landing files (see ``parsing.split_lines``)."""
    return parsing.split_lines(read_landing_text(spark, files))


#: Session settings while the parsed and checked batches are planned and materialised. The
#: parse and check projections are hundreds of expressions (every field's missing / mistyped /
#: typed value, every reason's text); fused by whole-stage code generation into one Java method
#: they exceed the size HotSpot compiles (8000 bytes of bytecode) and run interpreted. Without
#: whole-stage fusion each operator's expressions are compiled in split methods (measured on
#: 312k bench events over cached lines, 2 busy cores: parse 14 -> 11 s, parse + value and
#: reference checks 42 -> 12 s). Results are the same either way.
PARSE_CONF: dict[str, str] = {"spark.sql.codegen.wholeStage": "false"}


def _target_dates_in(column: str, dates: list[dt.date]) -> str:
    """A MERGE condition on the target's date partitions (``t.`col` IN (DATE'...', ...)``),
    so Delta prunes the target to those partitions; ``false`` for no dates."""
    if not dates:
        return "false"
    return f"t.`{column}` IN (" + ", ".join(f"DATE'{d.isoformat()}'" for d in dates) + ")"


def _as_datetime(value: str | dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = value.strip().replace("Z", "+00:00")
    return _as_datetime(dt.datetime.fromisoformat(text))


def ingest_interval(
    spark: SparkSession,
    settings: Settings,
    start: str | dt.datetime | dt.date,
    end: str | dt.datetime | dt.date,
    *,
    force: bool = False,
) -> dict:
    """Ingest the landing files of the arrival window ``[start, end)`` (UTC); idempotent.

    ``force=True`` re-reads the window's files even if consumed (the result is the same: every
    write is a MERGE on the record's key). Returns counts and the Delta versions written.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    start_dt, end_dt = _as_datetime(start), _as_datetime(end)
    if end_dt <= start_dt:
        raise ValueError(f"empty ingest interval [{start_dt}, {end_dt})")
    ingest_date = start_dt.date()
    catchup_start = start_dt - dt.timedelta(hours=settings.ingest_catchup_hours)
    listed = list_landing_files(spark, settings, catchup_start, end_dt)
    consumed = consumed_fingerprints(spark, settings, [f.rel_path for f in listed])
    todo = [
        f
        for f in listed
        if (force and f.arrival_hour >= start_dt) or consumed.get(f.rel_path) != f.fingerprint
    ]
    result: dict = {
        "interval_start": start_dt.isoformat(),
        "interval_end": end_dt.isoformat(),
        "files_listed": len(listed),
        "files_consumed": len(todo),
        "lines": 0,
        "accepted": 0,
        "quarantined": 0,
        "by_entity": {},
        "event_dates": [],
        "versions": {},
        "timings_s": {},
    }
    if not todo:
        logger.info("ingest [%s, %s): no new landing files", start_dt, end_dt)
        return result

    now = dt.datetime.now(dt.UTC)
    now_col, ingest_date_col = F.lit(now), F.lit(ingest_date)
    quarantine_parts: list[DataFrame] = []
    count_parts: list[DataFrame] = []
    persisted: list[DataFrame] = []
    clock = time.monotonic()

    def lap(step: str) -> None:
        nonlocal clock
        now_s = time.monotonic()
        result["timings_s"][step] = round(now_s - clock, 2)
        clock = now_s

    def batch(entity: str) -> DataFrame | None:
        files = [f for f in todo if f.entity == entity]
        if not files:
            return None
        return read_lines(spark, files).transform(parsing.parse_records, entity)

    # 1. dimensions first: events of the same batch may refer to them
    for entity, (spec, to_dim, update_cond) in DIMENSIONS.items():
        records = batch(entity)
        if records is None:
            continue
        with session_conf(spark, PARSE_CONF):
            records = records.transform(parsing.check_dimension_values, entity).persist(
                StorageLevel.MEMORY_AND_DISK
            )
            persisted.append(records)
            records.count()  # materialise the parsed batch once; every write below reads it
        lap(f"parse_{entity}")
        result["versions"][spec.full_name] = delta_io.merge_upsert(
            spark,
            records.transform(to_dim),
            spec,
            update_existing=True,
            update_condition=update_cond,
            settings=settings,
        )
        quarantine_parts.append(transforms.to_quarantine(records, entity, now_col, ingest_date_col))
        count_parts.append(transforms.file_counts(records, with_event_dates=False))
        lap(f"merge_{spec.full_name}")

    # 2. events: typed, checked against the dimensions and bronze, then MERGE
    events = batch("events")
    if events is not None:
        users = delta_io.read_table(spark, catalog.SILVER_USERS, settings=settings)
        videos = delta_io.read_table(spark, catalog.SILVER_VIDEOS, settings=settings)
        bronze_ids = delta_io.read_table(spark, catalog.BRONZE_EVENTS, settings=settings).select(
            "event_id", "landing_file"
        )
        with session_conf(spark, PARSE_CONF):
            events = (
                events.transform(parsing.check_event_values, settings.future_tolerance_s)
                .transform(
                    parsing.check_event_references, users, videos, settings.max_watch_multiple
                )
                .transform(parsing.mark_duplicates, bronze_ids)
                .persist(StorageLevel.MEMORY_AND_DISK)
            )
            persisted.append(events)
            # materialises the checked batch once (every write below reads it) and gives the
            # per file counts, with the event dates of the accepted events: one row per file
            event_counts = transforms.file_counts(events, with_event_dates=True).collect()
        lap("parse_check_events")
        batch_dates = sorted({d for r in event_counts for d in (r["event_dates"] or [])})
        result["versions"][catalog.BRONZE_EVENTS.full_name] = delta_io.merge_upsert(
            spark,
            # an event_id already in bronze is a replay of bronze's own file (anything else
            # was marked a duplicate): the insert-only MERGE would skip it, so leave it out;
            # every other source row is new to bronze, so the MERGE only needs to look at
            # the partitions of the batch's event dates (not the whole of bronze)
            transforms.to_bronze(events.where(~F.col(parsing.IN_BRONZE)), now_col),
            catalog.BRONZE_EVENTS,
            update_existing=False,
            extra_condition=_target_dates_in("event_date", batch_dates),
            settings=settings,
            # the duplicate check left each event_id once (a repeat in the batch is
            # quarantined), so the MERGE need not shuffle the batch to de-duplicate it
            source_unique=True,
        )
        quarantine_parts.append(
            transforms.to_quarantine(events, "events", now_col, ingest_date_col)
        )
        lap("merge_bronze.events")
    else:
        event_counts = []

    # 3. per-file counts (a file with no lines counts zeros)
    counts = list(event_counts)
    if count_parts:
        dims = count_parts[0]
        for part in count_parts[1:]:
            dims = dims.unionByName(part)
        counts += dims.collect()  # one row per file
    by_path = {r["landing_file"]: r for r in counts}

    # 4. quarantine: one MERGE for every entity's rejects (none: no commit)
    if sum(int(r["quarantined"]) for r in counts):
        quarantine = quarantine_parts[0]
        for part in quarantine_parts[1:]:
            quarantine = quarantine.unionByName(part)
        result["versions"][catalog.QUARANTINE_EVENTS.full_name] = delta_io.merge_upsert(
            spark, quarantine, catalog.QUARANTINE_EVENTS, update_existing=False, settings=settings
        )
    else:
        delta_io.ensure_table(spark, catalog.QUARANTINE_EVENTS, settings)
    lap("merge_quarantine.events")
    meta_rows = []
    for f in todo:
        r = by_path.get(f.rel_path)
        meta_rows.append(
            (
                f.rel_path,
                f.entity,
                f.size,
                f.mtime_ms,
                f.arrival_hour.isoformat(sep=" "),
                int(r["lines"]) if r else 0,
                int(r["accepted"]) if r else 0,
                int(r["quarantined"]) if r else 0,
                [d.isoformat() for d in (r["event_dates"] or [])] if r else [],
            )
        )
        entity_counts = result["by_entity"].setdefault(
            f.entity, {"files": 0, "lines": 0, "accepted": 0, "quarantined": 0}
        )
        entity_counts["files"] += 1
        for key, value in zip(
            ("lines", "accepted", "quarantined"), meta_rows[-1][5:8], strict=True
        ):
            entity_counts[key] += value
            result[key] += value
    dates = sorted({d for row in meta_rows for d in row[8]})
    result["event_dates"] = dates
    meta = spark.createDataFrame(
        meta_rows,
        "path string, entity string, size bigint, mtime_ms bigint, arrival string, lines bigint, "
        "accepted bigint, quarantined bigint, event_dates array<string>",
    ).select(
        "path",
        "entity",
        "size",
        F.timestamp_millis("mtime_ms").alias("mtime"),
        F.to_timestamp("arrival").alias("arrival_hour"),
        "lines",
        "accepted",
        "quarantined",
        F.transform("event_dates", lambda d: F.to_date(d)).alias("event_dates"),
        F.lit(start_dt.isoformat(sep=" ")).cast("timestamp").alias("interval_start"),
        F.lit(end_dt.isoformat(sep=" ")).cast("timestamp").alias("interval_end"),
        now_col.alias("ingested_at"),
    )
    result["versions"][catalog.META_INGESTED_FILES.full_name] = delta_io.merge_upsert(
        spark, meta, catalog.META_INGESTED_FILES, update_existing=True, settings=settings
    )
    lap("merge__meta.ingested_files")
    for df in persisted:
        df.unpersist()
    logger.info(
        "ingest [%s, %s): %d files, %d lines, %d accepted, %d quarantined",
        start_dt,
        end_dt,
        len(todo),
        result["lines"],
        result["accepted"],
        result["quarantined"],
    )
    return result


def _flag(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    return value.strip().lower() in {"1", "true", "yes", "y"}


def run(
    spark: SparkSession,
    settings: Settings,
    ds: dt.date,
    start: str | None = None,
    end: str | None = None,
    force: str | bool = False,
) -> dict:
    """The arrival day ``ds`` (or ``[start, end)`` when given, e.g. one hour)."""
    start_dt = _as_datetime(start) if start else _as_datetime(ds)
    end_dt = _as_datetime(end) if end else start_dt + dt.timedelta(days=1)
    do_force = _flag(force)

    def body(run: JobRun) -> dict:
        run.version(catalog.META_INGESTED_FILES)  # what the consumed-file check reads
        result = ingest_interval(spark, settings, start_dt, end_dt, force=do_force)
        run.counted("landing.files", result["files_consumed"])
        for table, version in result["versions"].items():
            run.wrote(table, version)
        return result

    params = {"start": start_dt.isoformat(), "end": end_dt.isoformat(), "force": do_force}
    return run_job("ingest", spark, settings, ds, body, params=params)


if __name__ == "__main__":
    job_main("ingest", run)
