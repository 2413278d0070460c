"""``fyp build``: whatever is in the landing zone -> lake -> quality gates -> the nightly jobs ->
published feeds, in this process's one Spark application.

It runs the task bodies the DAGs run (``orchestration.tasks``, walked by
``inprocess.run_tasks``, each task through ``inprocess.run_task``), not a pipeline of its own:

1. the lake tasks for one arrival interval, from the earliest arrival hour holding a landing
   file no ingest consumed yet to the latest arrival hour (an ingest skips consumed files), so
   every unconsumed arrival is ingested once and silver and gold are rebuilt for the event dates
   it touched; nothing unconsumed: the lake tasks are skipped;
2. the as-of date: the one given, else the last event date of ``silver.watch_history``. The
   recommendation jobs read a ds "as of the end of that day" (``jobs.recsys.common.as_of_epoch``:
   the next midnight, UTC), so the last event date is the earliest as-of date that knows every
   event;
3. ``fyp_nightly``'s tasks for that date; with no feed rows for it (an as-of date before the
   data) nothing is published and the feeds being served stay.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from fyplake import catalog, delta_io
from fyplake.config import Settings
from orchestration.inprocess import run_tasks
from orchestration.tasks import LAKE_TASKS, NIGHTLY_TASKS, PUBLISH_JOBS, Task

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Note = Callable[[dict], None]

#: Jobs that only make sense with feed rows for the as-of date.
NEEDS_FEEDS = PUBLISH_JOBS | {"evaluate"}


class Reporter:
    """Where the build says what it does; the base class stays silent (library use)."""

    @contextlib.contextmanager
    def stage(self, task: Task) -> Iterator[Note]:
        yield lambda result: None

    def info(self, text: str) -> None:
        """A line about a decision the build made (the as-of date, a skipped stage)."""


def arrival_days(spark: SparkSession, settings: Settings) -> list[dt.date]:
    """The arrival dates with a folder in the landing zone (any entity), oldest first."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop FS lists local and S3 lakes alike
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
    pattern = jvm.org.apache.hadoop.fs.Path(settings.lake_uri.rstrip("/") + "/landing/*/date=*")
    statuses = pattern.getFileSystem(conf).globStatus(pattern) or []
    days = {st.getPath().getName().removeprefix("date=") for st in statuses if st.isDirectory()}
    return sorted(dt.date.fromisoformat(d) for d in days)


def pending_interval(
    spark: SparkSession, settings: Settings
) -> tuple[dt.datetime, dt.datetime, int] | None:
    """``(start, end, files)``: the arrival hours from the earliest one holding an unconsumed
    landing file to the end of the latest one, and how many files are unconsumed; None if none."""
    from jobs.lake.landing_files import consumed_fingerprints, list_landing_files, unconsumed

    days = arrival_days(spark, settings)
    if not days:
        return None
    start = dt.datetime.combine(days[0], dt.time())
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time())
    listed = list_landing_files(spark, settings, start, end)
    todo = unconsumed(listed, consumed_fingerprints(spark, settings, [f.rel_path for f in listed]))
    if not todo:
        return None
    last = max(f.arrival_hour for f in listed)
    return min(f.arrival_hour for f in todo), last + dt.timedelta(hours=1), len(todo)


def event_dates(spark: SparkSession, settings: Settings) -> tuple[dt.date, dt.date] | None:
    """First and last event date of ``silver.watch_history`` (None: no impressions)."""
    from pyspark.sql import functions as F

    if not delta_io.table_exists(spark, catalog.SILVER_WATCH_HISTORY, settings):
        return None
    history = delta_io.read_table(spark, catalog.SILVER_WATCH_HISTORY, settings=settings)
    first, last = history.agg(F.min("event_date"), F.max("event_date")).first()
    return (first, last) if first is not None else None


def feed_rows(spark: SparkSession, settings: Settings, ds: dt.date) -> int:
    from pyspark.sql import functions as F

    feeds = delta_io.read_table(spark, catalog.table("gold.feeds"), settings=settings)
    return feeds.where(F.col("ds") == F.lit(ds)).count()


def build(
    spark: SparkSession,
    settings: Settings,
    as_of: dt.date | None = None,
    *,
    evaluate: bool = False,
    gates: bool = True,
    reporter: Reporter | None = None,
) -> dict:
    """Run the build; returns ``{"interval", "as_of", "as_of_picked", "published", "tasks"}``,
    ``tasks`` mapping each task id to its job's result. A failing gate raises and stops it."""
    reporter = reporter or Reporter()
    out: dict = {"interval": None, "tasks": {}}
    walk = {"spark": spark, "settings": settings, "gates": gates, "stage": reporter.stage}

    pending = pending_interval(spark, settings)
    if pending is None:
        reporter.info("landing zone: no unconsumed files; the lake is up to date")
    else:
        start, end, files = pending
        out["interval"] = [start.isoformat(), end.isoformat()]
        reporter.info(f"landing zone: {files:,} unconsumed files, arrival hours {start}..{end}")
        interval = {"start": start.isoformat(), "end": end.isoformat()}
        out["tasks"].update(
            run_tasks(LAKE_TASKS, start.date(), params={"ingest": interval}, **walk)
        )

    span = event_dates(spark, settings)
    if span is None:
        raise ValueError(
            "the lake holds no impressions (silver.watch_history is empty): land a log first "
            "(fyp import ..., fyp generate ...)"
        )
    out["as_of_picked"] = as_of is None
    ds = as_of or span[1]
    out["as_of"] = ds.isoformat()
    reporter.info(_as_of_line(ds, span, picked=as_of is None))

    if ds < span[0]:
        # no event on or before the as-of date: every nightly job would learn from nothing
        reporter.info(
            f"no events up to the end of {ds}: no nightly job runs, nothing published "
            "(the feeds being served stay), no evaluation"
        )
        out["published"] = False
        return out

    publishable: bool | None = None  # decided before the first task that needs feed rows

    def skip(task: Task) -> bool:
        nonlocal publishable
        if task.job == "evaluate" and not evaluate:
            return True
        if task.job not in NEEDS_FEEDS:
            return False
        if publishable is None:
            publishable = feed_rows(spark, settings, ds) > 0
            if not publishable:
                reporter.info(
                    f"no feed rows as of the end of {ds} (events run {span[0]}..{span[1]}): "
                    "nothing published (the feeds being served stay), no evaluation"
                )
        return not publishable

    out["tasks"].update(run_tasks(NIGHTLY_TASKS, ds, skip=skip, **walk))
    out["published"] = bool(publishable)
    return out


def _as_of_line(ds: dt.date, span: tuple[dt.date, dt.date], picked: bool) -> str:
    first, last = span
    why = "the last event date, picked from the data" if picked else "given"
    line = f"as of the end of {ds} ({why}; events run {first}..{last})"
    if ds < first:
        line += ": before the first event, nothing is known yet"
    elif ds > last:
        line += f": {(ds - last).days} days after the last event"
    return line
