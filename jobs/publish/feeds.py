"""Publish one ds of the recommendation engine's output to Valkey for the API.

Reads (``ds`` partition; lists fall back to their latest ds <= the given one):

* ``gold.feeds``: ds, user_id, rank, video_id, score, source, ranked_by (+ run_id) -> the
  ``feed`` dataset: each item's code stands for its (source, ranked_by) pair, named in the
  version's meta (``sources``, ``ranked_by``); the score published is gold's display score,
  so the served order is the score order;
* ``gold.trending`` (rank, video_id, score), ``gold.hashtag_top`` (+ hashtag),
  ``gold.sound_top`` (+ sound_id), ``gold.coldstart_pools`` (+ pool, age_band, country,
  language) -> the ``lists`` dataset.

First the ready set is rebuilt from Postgres (``videos.status``), so the API hides videos that
stopped being ready. Each dataset is a new version, flipped atomically; a gold input with fewer
than ``min_ratio`` x the users/lists of the version it replaces is refused (a truncated table
must not replace a good feed); a ``ds`` with no feed rows at all fails, except on a platform that
never had a feed (no users or no ready video yet), where it publishes nothing and succeeds. The
feed's cut-off (``built_at``) is the end of ``ds``: watches
that arrive after it are filtered at read time.

The gold tables are read pinned through the job skeleton (``jobs.jobrun``); its ``gold.runs``
row records their versions (inputs) and the Valkey dataset versions published (``valkey.feed``,
``valkey.lists``) and the size of the ready set (``valkey.ready``) as outputs.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import TYPE_CHECKING

from fyplake import catalog, keys
from fyplake.config import Settings
from jobs._entry import job_main
from jobs.jobrun import JobRun, Reads, run_job

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

LIST_TABLES = ("trending", "hashtag_top", "sound_top", "coldstart_pools")


def gold_table(
    spark: SparkSession, settings: Settings, name: str, reads: Reads | None = None
) -> DataFrame | None:
    """A gold table by name (its catalog spec when declared), or None if it does not exist;
    with ``reads``, a declared table is read pinned through it (and recorded)."""
    return lake_table(spark, settings, f"gold.{name}", reads)


def lake_table(
    spark: SparkSession, settings: Settings, full_name: str, reads: Reads | None = None
) -> DataFrame | None:
    """A lake table by ``layer.name`` (pinned through ``reads`` when given and declared in the
    catalog), or None if it does not exist."""
    from delta.tables import DeltaTable

    spec = catalog.TABLES.get(full_name)
    layer, name = full_name.split(".")
    path = spec.path(settings) if spec else settings.lake_path(layer, name)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    if reads is not None and spec is not None:
        return reads.table(spec)
    return spark.read.format("delta").load(path)


def snapshot(df: DataFrame, ds: dt.date, exact: bool) -> tuple[DataFrame, dt.date | None]:
    """The rows of ``ds`` (or, unless ``exact``, of the latest ds before it)."""
    from pyspark.sql import functions as F

    if exact:
        return df.where(F.col("ds") == F.lit(ds)), ds
    latest = df.where(F.col("ds") <= F.lit(ds)).agg(F.max("ds")).first()[0]
    return df.where(F.col("ds") == F.lit(latest)), latest


def feed_labels(day: DataFrame) -> list[tuple[str, str]]:
    """The distinct (source, ranked_by) pairs of a ds's feed rows, sorted: the item codes'
    vocabulary (a table from before ``ranked_by`` existed gives '' for it)."""
    from pyspark.sql import functions as F

    by = F.col("ranked_by") if "ranked_by" in day.columns else F.lit(None).cast("string")
    pairs = day.select(
        F.coalesce("source", F.lit("unknown")).alias("s"), F.coalesce(by, F.lit("")).alias("r")
    ).distinct()
    return sorted((r["s"], r["r"]) for r in pairs.collect())


def cutoff_ms(ds: dt.date) -> int:
    """End of the data interval ``ds`` (UTC), but never later than now."""
    end = dt.datetime.combine(ds + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return int(min(end, dt.datetime.now(dt.UTC)).timestamp() * 1000)


def run(
    spark: SparkSession,
    settings: Settings,
    ds: dt.date,
    min_ratio: str = "0.5",
    sync_ready: str = "true",
    datasets: str = "all",
) -> dict:
    """``datasets``: ``all`` (nightly), ``lists`` (hourly: trending, hashtag/sound lists, pools)
    or ``feed``."""
    import psycopg

    from fyplake.serving.clients import resolve_postgres_dsn, resolve_valkey_url, valkey_client
    from fyplake.serving.ready import sync_ready_from_postgres
    from fyplake.serving.spark_publish import (
        feed_items,
        list_items,
        publish_feed_frame,
        publish_list_frame,
    )
    from fyplake.serving.versions import VersionedStore

    if datasets not in ("all", "lists", "feed"):
        raise ValueError(f"datasets must be all, lists or feed, not {datasets!r}")

    def body(run: JobRun) -> dict:
        url = resolve_valkey_url(settings)
        client = valkey_client(settings, url=url)
        ratio = float(min_ratio)
        result: dict = {"ds": ds.isoformat()}

        if sync_ready.lower() == "true":
            with psycopg.connect(resolve_postgres_dsn(settings)) as conn:
                result["ready_videos"] = sync_ready_from_postgres(client, conn)
            run.wrote("valkey.ready", result["ready_videos"])

        def floor(dataset: str) -> int:
            store = VersionedStore(client, dataset, settings)
            cur = store.current()
            info = store.info(cur) if cur else None
            return math.ceil(info.items * ratio) if info else 0

        frames, read_ds = {}, {}
        for name in LIST_TABLES if datasets in ("all", "lists") else ():
            df = gold_table(spark, settings, name, run)
            if df is not None:
                frames[name], read_ds[name] = snapshot(df, ds, exact=False)
        usable = {k: v for k, v in frames.items() if read_ds[k] is not None}
        lists = list_items(**usable) if usable else None
        if datasets == "feed":
            pass
        elif lists is not None:
            res = publish_list_frame(
                lists, client, settings, built_at_ms=cutoff_ms(ds), min_lists=floor(keys.LISTS)
            )
            result["lists"] = {**res.as_dict(), "read_ds": {k: str(v) for k, v in read_ds.items()}}
            run.wrote(f"valkey.{keys.LISTS}", res.version)
        else:
            logger.warning("no gold list tables found; lists not published")

        if datasets == "lists":
            client.close()
            return result
        feeds = gold_table(spark, settings, "feeds", run)
        if feeds is None:
            raise FileNotFoundError("gold.feeds does not exist; run the recommendation jobs first")
        day, _ = snapshot(feeds, ds, exact=True)
        labels = feed_labels(day)
        if not labels:
            serving = VersionedStore(client, keys.FEED, settings).current()
            if serving is not None:  # an empty table must not replace (or hide) a good feed
                client.close()
                raise ValueError(
                    f"gold.feeds has no rows for ds={ds}; nothing published (version {serving} "
                    "keeps serving)"
                )
            # a platform before its first feed (no users yet, or no ready video): nothing to do
            logger.warning(
                "gold.feeds has no rows for ds=%s and no feed was ever published: nothing to "
                "publish yet (no users, or no ready videos); the API serves the lists",
                ds,
            )
            result["feed"] = {"published": False, "reason": "no feed rows, no earlier feed"}
            client.close()
            return result
        run_ids = (
            [r[0] for r in day.select("run_id").distinct().limit(2).collect()]
            if "run_id" in day.columns
            else []
        )
        items = feed_items(day, {pair: i for i, pair in enumerate(labels)})
        res = publish_feed_frame(
            items,
            client,
            url,
            settings,
            sources=[s for s, _ in labels],
            ranked_by=[r for _, r in labels],
            run_id=run_ids[0] if len(run_ids) == 1 and run_ids[0] else None,
            built_at_ms=cutoff_ms(ds),
            min_users=floor(keys.FEED),
        )
        result["feed"] = res.as_dict()
        run.wrote(f"valkey.{keys.FEED}", res.version)
        client.close()
        return result

    params = {"min_ratio": min_ratio, "sync_ready": sync_ready, "datasets": datasets}
    return run_job("publish_feeds", spark, settings, ds, body, params=params)


if __name__ == "__main__":
    job_main("publish_feeds", run)
