"""Gold for one data interval: per-video and per-creator daily stats.

The date range from the earliest to the latest date silver rebuilt for the interval is replaced
whole (``replaceWhere``): ``followers_total`` is cumulative, so a late follow changes every day
after it. Definitions (README "Lake tables"): views = watch + skip impressions; unique viewers;
watch time; mean completion; like/share/comment rate = attributed engagements per view;
new_followers = first follows that day; followers_total = all followers up to that day.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from fyplake import catalog, delta_io
from fyplake.config import Settings
from jobs._entry import job_main
from jobs.lake import transforms
from jobs.lake.dates import rebuild_dates, touched_event_dates

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)


def build_gold(spark: SparkSession, settings: Settings, lo: dt.date, hi: dt.date) -> dict:
    """Rebuild both gold tables for the dates ``[lo, hi]``."""
    from pyspark.sql import functions as F

    read = {
        spec.full_name: delta_io.latest_version(spark, spec, settings)
        for spec in (catalog.SILVER_WATCH_HISTORY, catalog.SILVER_FOLLOWS)
    }

    def pinned(spec: catalog.TableSpec):
        version = read[spec.full_name]
        return delta_io.read_table(
            spark, spec, version=version if version >= 0 else None, settings=settings
        )

    in_range = F.col("event_date").between(F.lit(lo), F.lit(hi))
    history = pinned(catalog.SILVER_WATCH_HISTORY).where(in_range)
    follows = pinned(catalog.SILVER_FOLLOWS)
    predicate = f"`date` >= DATE'{lo.isoformat()}' AND `date` <= DATE'{hi.isoformat()}'"
    written = {
        catalog.GOLD_VIDEO_DAILY_STATS.full_name: delta_io.replace_where(
            spark,
            transforms.video_daily_stats(history),
            catalog.GOLD_VIDEO_DAILY_STATS,
            predicate,
            settings=settings,
        ),
        catalog.GOLD_CREATOR_DAILY_STATS.full_name: delta_io.replace_where(
            spark,
            transforms.creator_daily_stats(history, follows).where(
                F.col("date").between(F.lit(lo), F.lit(hi))
            ),
            catalog.GOLD_CREATOR_DAILY_STATS,
            predicate,
            settings=settings,
        ),
    }
    return {
        "date_range": [lo.isoformat(), hi.isoformat()],
        "read_versions": read,
        "versions": written,
    }


def run(spark: SparkSession, settings: Settings, ds: dt.date) -> dict:
    dates = rebuild_dates(touched_event_dates(spark, settings, ds), ds)
    return build_gold(spark, settings, min(dates), max(dates))


if __name__ == "__main__":
    job_main("gold", run)
