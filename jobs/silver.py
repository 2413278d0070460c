"""Silver for one data interval: bronze.events -> silver.watch_history, follows, hashtags.

The event dates the interval's ingest touched (late events included), each with the day before,
are rebuilt whole with ``replaceWhere`` (idempotent): watch history reads those dates' bronze
events plus the following day's (an engagement just after midnight belongs to the previous
day's watch). Follows MERGE on (follower, creator), keeping the earliest follow time; the
hashtag bridge is re-derived from silver.videos (which the ingest keeps current).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from fyplake import catalog, delta_io
from fyplake.config import Settings
from jobs._entry import job_main
from jobs.lake import transforms
from jobs.lake.dates import date_col_in, date_in, rebuild_dates, touched_event_dates

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)


def build_silver(
    spark: SparkSession, settings: Settings, ds: dt.date, dates: list[dt.date]
) -> dict:
    """Rebuild silver for the given event dates (the DAG-facing ``run`` picks them)."""
    read = {
        spec.full_name: delta_io.latest_version(spark, spec, settings)
        for spec in (catalog.BRONZE_EVENTS, catalog.SILVER_VIDEOS)
    }

    def pinned(spec: catalog.TableSpec):
        version = read[spec.full_name]
        return delta_io.read_table(
            spark, spec, version=version if version >= 0 else None, settings=settings
        )

    with_next_day = sorted(set(dates) | {d + dt.timedelta(days=1) for d in dates})
    bronze = pinned(catalog.BRONZE_EVENTS).where(date_col_in("event_date", with_next_day))
    videos = pinned(catalog.SILVER_VIDEOS)
    history = transforms.watch_history(
        bronze, videos, settings.engagement_window_s, settings.completion_cap
    ).where(date_col_in("event_date", dates))
    written = {
        catalog.SILVER_WATCH_HISTORY.full_name: delta_io.replace_where(
            spark,
            history,
            catalog.SILVER_WATCH_HISTORY,
            date_in("event_date", dates),
            settings=settings,
        )
    }
    follows = transforms.follows_from_events(bronze.where(date_col_in("event_date", dates)))
    written[catalog.SILVER_FOLLOWS.full_name] = delta_io.merge_upsert(
        spark,
        follows,
        catalog.SILVER_FOLLOWS,
        update_condition="s.followed_at < t.followed_at",
        settings=settings,
    )
    written[catalog.SILVER_HASHTAGS.full_name] = delta_io.overwrite_table(
        spark, transforms.hashtags_bridge(videos), catalog.SILVER_HASHTAGS, settings=settings
    )
    return {
        "dates": [d.isoformat() for d in dates],
        "read_versions": read,
        "versions": written,
    }


def run(spark: SparkSession, settings: Settings, ds: dt.date) -> dict:
    dates = rebuild_dates(touched_event_dates(spark, settings, ds), ds)
    return build_silver(spark, settings, ds, dates)


if __name__ == "__main__":
    job_main("silver", run)
