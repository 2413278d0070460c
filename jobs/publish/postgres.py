"""Publish the lake's serving tables into Postgres for the API.

* ``silver.users``, ``silver.sounds``, ``silver.videos`` -> ``users``, ``sounds``, ``videos``
  (metadata; a video's status comes from the lake only while Postgres says ``processing``);
* ``gold.video_embeddings`` / ``gold.user_embeddings`` (latest ds <= the given one) ->
  ``video_embeddings`` / ``user_embeddings`` (pgvector, HNSW indexes kept);
* ``gold.creator_daily_stats`` (the ``stats_days`` days up to ds) -> ``creator_daily_stats``.

Rows stream from the executors to this driver with ``toLocalIterator()`` (never a collect) and
go in by COPY + one upsert per chunk (``fyplake.serving.pg_publish``). Then the Valkey ready set
is rebuilt from Postgres. Run it before ``publish_feeds`` (feeds are filtered by that set).

The lake tables are read pinned through the job skeleton (``jobs.jobrun``); its ``gold.runs``
row records their versions (inputs) and, as outputs, the rows upserted per Postgres table
(``postgres.<table>``) and the size of the Valkey ready set (``valkey.ready``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from fyplake.config import Settings
from jobs._entry import job_main
from jobs.jobrun import JobRun, run_job
from jobs.publish.feeds import gold_table, lake_table, snapshot

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)


def _rows(df: DataFrame, columns: list[str]):  # noqa: ANN202 - iterator of tuples
    for row in df.select(*columns).toLocalIterator(prefetchPartitions=True):
        yield tuple(row)


def run(spark: SparkSession, settings: Settings, ds: dt.date, stats_days: str = "35") -> dict:
    import psycopg
    from pyspark.sql import functions as F

    from fyplake.serving import pg_publish
    from fyplake.serving.clients import resolve_postgres_dsn, valkey_client
    from fyplake.serving.ready import sync_ready_from_postgres

    def body(run: JobRun) -> dict:
        result: dict = {"ds": ds.isoformat()}
        with psycopg.connect(resolve_postgres_dsn(settings), autocommit=True) as conn:
            steps = [
                (
                    "silver.users",
                    pg_publish.upsert_users,
                    ["user_id", "age_band", "country", "language", "is_creator", "signup_time"],
                ),
                (
                    "silver.sounds",
                    pg_publish.upsert_sounds,
                    ["sound_id", "title", "creator_id", "created_at"],
                ),
                (
                    "silver.videos",
                    pg_publish.upsert_videos,
                    [
                        "video_id",
                        "creator_id",
                        "duration_ms",
                        "title",
                        "description",
                        "hashtags",
                        "sound_id",
                        "language",
                        "status",
                        "created_at",
                    ],
                ),
            ]
            for name, upsert, cols in steps:
                df = lake_table(spark, settings, name, run)
                if df is None:
                    logger.warning("%s does not exist; skipped", name)
                    continue
                result[name] = upsert(conn, _rows(df, cols)).as_dict()
                run.wrote(f"postgres.{result[name]['table']}", result[name]["upserted"])

            for name, upsert, key in (
                ("video_embeddings", pg_publish.upsert_video_embeddings, "video_id"),
                ("user_embeddings", pg_publish.upsert_user_embeddings, "user_id"),
            ):
                df = gold_table(spark, settings, name, run)
                if df is None:
                    continue
                day, read = snapshot(df, ds, exact=False)
                if read is None:
                    continue
                res = upsert(conn, _rows(day, [key, "embedding", "model_version"]))
                result[f"gold.{name}"] = {**res.as_dict(), "read_ds": str(read)}
                run.wrote(f"postgres.{res.table}", res.upserted)

            stats = gold_table(spark, settings, "creator_daily_stats", run)
            if stats is not None:
                lo = ds - dt.timedelta(days=int(stats_days) - 1)
                window = stats.where(F.col("date").between(F.lit(lo), F.lit(ds)))
                res = pg_publish.upsert_creator_stats(
                    conn, _rows(window, list(pg_publish.CREATOR_STATS_COLUMNS))
                )
                result["gold.creator_daily_stats"] = res.as_dict()
                run.wrote(f"postgres.{res.table}", res.upserted)

            client = valkey_client(settings)
            result["ready_videos"] = sync_ready_from_postgres(client, conn)
            run.wrote("valkey.ready", result["ready_videos"])
            client.close()
        return result

    return run_job("publish_postgres", spark, settings, ds, body, params={"stats_days": stats_days})


if __name__ == "__main__":
    job_main("publish_postgres", run)
