"""Gold for one data interval: per-video and per-creator daily stats.

The date range from the earliest to the latest date silver rebuilt for the interval is replaced
whole (``replaceWhere``): ``followers_total`` is cumulative, so a late follow changes every day
after it. Definitions (README "Lake tables"): views = watch + skip impressions; unique viewers;
watch time; mean completion; like/share/comment rate = attributed engagements per view;
new_followers = first follows that day; followers_total = all followers up to that day.
Silver is read pinned through the job skeleton (``jobs.jobrun``), which records the versions
read and written in ``gold.runs``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from fyplake import catalog, delta_io
from fyplake.config import Settings
from jobs._entry import job_main
from jobs.jobrun import JobRun, run_job
from jobs.lake import transforms
from jobs.lake.dates import rebuild_dates, touched_event_dates

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)


def build_gold(run: JobRun, lo: dt.date, hi: dt.date) -> dict:
    """Rebuild both gold tables for the dates ``[lo, hi]``."""
    from pyspark.sql import functions as F

    spark, settings = run.spark, run.settings
    read = {
        spec.full_name: run.version(spec)
        for spec in (catalog.SILVER_WATCH_HISTORY, catalog.SILVER_FOLLOWS)
    }
    pinned = run.table

    in_range = F.col("event_date").between(F.lit(lo), F.lit(hi))
    history = pinned(catalog.SILVER_WATCH_HISTORY).where(in_range)
    follows = pinned(catalog.SILVER_FOLLOWS)
    predicate = f"`date` >= DATE'{lo.isoformat()}' AND `date` <= DATE'{hi.isoformat()}'"
    run.wrote(
        catalog.GOLD_VIDEO_DAILY_STATS,
        delta_io.replace_where(
            spark,
            transforms.video_daily_stats(history),
            catalog.GOLD_VIDEO_DAILY_STATS,
            predicate,
            settings=settings,
        ),
    )
    run.wrote(
        catalog.GOLD_CREATOR_DAILY_STATS,
        delta_io.replace_where(
            spark,
            transforms.creator_daily_stats(history, follows).where(
                F.col("date").between(F.lit(lo), F.lit(hi))
            ),
            catalog.GOLD_CREATOR_DAILY_STATS,
            predicate,
            settings=settings,
        ),
    )
    return {
        "date_range": [lo.isoformat(), hi.isoformat()],
        "read_versions": read,
        "versions": dict(run.outputs),
    }


def run(spark: SparkSession, settings: Settings, ds: dt.date) -> dict:
    def body(job: JobRun) -> dict:
        dates = rebuild_dates(touched_event_dates(spark, settings, ds), ds)
        job.params["date_range"] = [min(dates).isoformat(), max(dates).isoformat()]
        return build_gold(job, min(dates), max(dates))

    return run_job("gold", spark, settings, ds, body)


if __name__ == "__main__":
    job_main("gold", run)
