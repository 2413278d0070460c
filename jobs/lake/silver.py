"""Silver for one data interval: bronze.events -> silver.watch_history, follows, hashtags.

The event dates the interval's ingest touched (late events included), each with the day before,
are rebuilt whole with ``replaceWhere`` (idempotent): watch history reads those dates' bronze
events plus the following day's (an engagement just after midnight belongs to the previous
day's watch). Follows MERGE on (follower, creator), keeping the earliest follow time; the
hashtag bridge is re-derived from silver.videos (which the ingest keeps current). Bronze and
silver.videos are read pinned through the job skeleton (``jobs.jobrun``), which records the
versions read and written in ``gold.runs``.
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
from jobs.lake.dates import date_col_in, date_in, rebuild_dates, touched_event_dates

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)


def build_silver(run: JobRun, dates: list[dt.date]) -> dict:
    """Rebuild silver for the given event dates (the DAG-facing ``run`` picks them)."""
    spark, settings = run.spark, run.settings
    read = {
        spec.full_name: run.version(spec) for spec in (catalog.BRONZE_EVENTS, catalog.SILVER_VIDEOS)
    }
    pinned = run.table

    with_next_day = sorted(set(dates) | {d + dt.timedelta(days=1) for d in dates})
    bronze = pinned(catalog.BRONZE_EVENTS).where(date_col_in("event_date", with_next_day))
    videos = pinned(catalog.SILVER_VIDEOS)
    history = transforms.watch_history(
        bronze, videos, settings.engagement_window_s, settings.completion_cap
    ).where(date_col_in("event_date", dates))
    run.wrote(
        catalog.SILVER_WATCH_HISTORY,
        delta_io.replace_where(
            spark,
            history,
            catalog.SILVER_WATCH_HISTORY,
            date_in("event_date", dates),
            settings=settings,
        ),
    )
    follows = transforms.follows_from_events(bronze.where(date_col_in("event_date", dates)))
    run.wrote(
        catalog.SILVER_FOLLOWS,
        delta_io.merge_upsert(
            spark,
            follows,
            catalog.SILVER_FOLLOWS,
            update_condition="s.followed_at < t.followed_at",
            settings=settings,
        ),
    )
    run.wrote(
        catalog.SILVER_HASHTAGS,
        delta_io.overwrite_table(
            spark, transforms.hashtags_bridge(videos), catalog.SILVER_HASHTAGS, settings=settings
        ),
    )
    return {
        "dates": [d.isoformat() for d in dates],
        "read_versions": read,
        "versions": dict(run.outputs),
    }


def run(spark: SparkSession, settings: Settings, ds: dt.date) -> dict:
    def body(job: JobRun) -> dict:
        dates = rebuild_dates(touched_event_dates(spark, settings, ds), ds)
        job.params["dates"] = [d.isoformat() for d in dates]
        return build_silver(job, dates)

    return run_job("silver", spark, settings, ds, body)


if __name__ == "__main__":
    job_main("silver", run)
