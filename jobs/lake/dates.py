"""Which event dates an interval's ingest touched, so silver and gold rebuild exactly those.

The ingest records, per consumed landing file, the event dates of its accepted events
(``_meta.ingested_files.event_dates``). Late events make that set reach back before ``ds``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from fyplake import catalog, delta_io
from fyplake.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession


def touched_event_dates(spark: SparkSession, settings: Settings, ds: dt.date) -> list[dt.date]:
    """Event dates of the events consumed by the ingest runs of interval ``ds`` (any hour)."""
    from pyspark.sql import functions as F

    log = delta_io.read_table(spark, catalog.META_INGESTED_FILES, settings=settings)
    rows = (
        log.where(F.to_date("interval_start") == F.lit(ds))
        .select(F.explode("event_dates").alias("d"))
        .distinct()
        .collect()  # a handful of dates
    )
    return sorted(r["d"] for r in rows if r["d"] is not None)


def rebuild_dates(touched: list[dt.date], ds: dt.date) -> list[dt.date]:
    """``ds`` and every touched date, each with the day before (an engagement after midnight
    belongs to the previous day's watch)."""
    base = set(touched) | {ds}
    return sorted(base | {d - dt.timedelta(days=1) for d in base})


def date_in(column: str, dates: list[dt.date]) -> str:
    """A replaceWhere/filter predicate for a set of dates (ISO literals built from date objects)."""
    if not dates:
        return "false"
    literals = ", ".join("DATE'" + d.isoformat() + "'" for d in dates)
    return f"`{column}` IN ({literals})"


def date_col_in(column: str, dates: list[dt.date]) -> Column:
    from pyspark.sql import functions as F

    return F.col(column).isin(list(dates))
