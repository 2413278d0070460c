"""Spark side of publishing: gold DataFrames -> Valkey, without collecting them.

Feeds are written by the executors (``mapInArrow``: each Arrow batch of users is packed from its
``list<struct>`` buffers and HSET in pipelined batches); the driver only allocates the version,
sums the per-partition counts and commits. Lists are few and small, so they stream through the
driver with ``toLocalIterator()``.

The transforms here are pure ``DataFrame -> DataFrame``; the publish functions take the frames
and the settings explicitly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fyplake import keys
from fyplake.config import Settings
from fyplake.serving.publish import (
    FeedBatch,
    PublishResult,
    encode_feed_batches,
    new_run_id,
    publish_lists,
)
from fyplake.serving.versions import PublishError, VersionedStore

if TYPE_CHECKING:
    import pyarrow as pa
    import redis
    from pyspark import SparkContext
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

# --- transforms ---------------------------------------------------------------------------------


#: Separates source and ranker in the label a code is looked up by.
_SEP = "\x1f"


def _label(code_key: str | tuple[str, str | None]) -> str:
    return code_key if isinstance(code_key, str) else f"{code_key[0]}{_SEP}{code_key[1] or ''}"


def feed_items(feeds: DataFrame, codes: dict[str, int] | dict[tuple[str, str], int]) -> DataFrame:
    """gold.feeds rows (user_id, rank, video_id, score, source[, ranked_by]) -> one row per
    user with its items in rank order, each with its code: ``codes`` maps a source, or a
    (source, ranked_by) pair, to it."""
    from pyspark.sql import functions as F

    code_map = F.create_map(*[F.lit(x) for key, code in codes.items() for x in (_label(key), code)])
    source = F.coalesce(F.col("source"), F.lit("unknown"))
    by_pair = any(isinstance(k, tuple) for k in codes)
    ranker = F.col("ranked_by") if "ranked_by" in feeds.columns else F.lit(None)
    label = F.concat_ws(_SEP, source, F.coalesce(ranker, F.lit(""))) if by_pair else source
    return (
        feeds.select(
            "user_id",
            F.struct(
                F.col("rank").cast("int").alias("rank"),
                F.col("video_id").cast("bigint").alias("video_id"),
                F.col("score").cast("double").alias("score"),
                F.coalesce(code_map[label], F.lit(0)).cast("int").alias("code"),
            ).alias("item"),
        )
        .groupBy("user_id")
        .agg(F.sort_array(F.collect_list("item")).alias("items"))
    )


def list_items(
    trending: DataFrame | None = None,
    hashtag_top: DataFrame | None = None,
    sound_top: DataFrame | None = None,
    coldstart_pools: DataFrame | None = None,
) -> DataFrame | None:
    """The gold list tables -> (name, video_ids, scores) per list, names as in ``fyplake.keys``.

    trending: rank, video_id, score; hashtag_top: + hashtag; sound_top: + sound_id;
    coldstart_pools: + pool ('demographic' with age_band/country/language, NULL = any, or
    'diverse').
    """
    from pyspark.sql import functions as F

    named = []
    if trending is not None:
        named.append(trending.withColumn("name", F.lit(keys.TRENDING)))
    if hashtag_top is not None:
        tag = F.lower(F.regexp_replace(F.trim(F.col("hashtag")), "^#+", ""))
        named.append(hashtag_top.withColumn("name", F.concat(F.lit("hashtag:"), tag)))
    if sound_top is not None:
        named.append(
            sound_top.withColumn(
                "name", F.concat(F.lit("sound:"), F.col("sound_id").cast("bigint").cast("string"))
            )
        )
    if coldstart_pools is not None:
        segment = F.concat_ws(
            ":",
            F.lit("coldstart"),
            *[F.coalesce(F.col(c), F.lit(keys.ANY)) for c in ("age_band", "country", "language")],
        )
        named.append(
            coldstart_pools.where(F.col("pool").isin("demographic", "diverse")).withColumn(
                "name",
                F.when(F.col("pool") == "diverse", F.lit(keys.DIVERSE)).otherwise(segment),
            )
        )
    if not named:
        return None
    rows = named[0].select("name", "rank", "video_id", "score")
    for df in named[1:]:
        rows = rows.unionByName(df.select("name", "rank", "video_id", "score"))
    ordered = F.sort_array(
        F.collect_list(F.struct(F.col("rank").cast("int").alias("rank"), "video_id", "score"))
    )
    return (
        rows.groupBy("name")
        .agg(ordered.alias("items"))
        .select(
            "name",
            F.col("items.video_id").alias("video_ids"),
            F.col("items.score").alias("scores"),
        )
    )


# --- publishing -----------------------------------------------------------------------------------


def _feed_writer(  # noqa: ANN202
    url: str, settings: Settings, version: int, shards: int, die: bool = False
):
    """The mapInArrow function: pack and write each batch of users, yield the counts.

    ``die``: the injected fault ``publish_feeds.partial_feed`` (fyplake.faults): stop with an
    error after the first batch is written, leaving the version half-written."""

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import numpy as np
        import pyarrow as pa

        from fyplake.serving.clients import valkey_client

        client = valkey_client(settings, url=url)
        store = VersionedStore(client, keys.FEED, settings)
        users = nbytes = 0
        try:
            for rb in batches:
                if rb.num_rows == 0:
                    continue
                items = rb.column(rb.schema.get_field_index("items"))
                values = items.values
                batch = FeedBatch(
                    user_ids=rb.column(rb.schema.get_field_index("user_id")).to_numpy(),
                    offsets=items.offsets.to_numpy().astype(np.int64),
                    video_ids=values.field("video_id").to_numpy(zero_copy_only=False),
                    scores=values.field("score").to_numpy(zero_copy_only=False).astype("<f4"),
                    source_codes=values.field("code")
                    .to_numpy(zero_copy_only=False)
                    .astype(np.uint8),
                )
                n, b = store.write(version, encode_feed_batches([batch]), shards=shards)
                users += n
                nbytes += b
                if die:
                    from fyplake.faults import InjectedFault

                    raise InjectedFault(
                        f"injected fault publish_feeds.partial_feed: died after {users} users"
                    )
        finally:
            client.close()
        yield pa.RecordBatch.from_pydict({"users": [users], "bytes": [nbytes]})

    return write


def publish_feed_frame(
    items: DataFrame,
    client: redis.Redis,
    url: str,
    settings: Settings,
    *,
    sources: list[str],
    run_id: str | None = None,
    built_at_ms: int | None = None,
    min_users: int = 0,
    ranked_by: list[str] | None = None,
) -> PublishResult:
    """Publish a ``feed_items`` frame as a new feed version, written by the executors.
    ``sources`` (and ``ranked_by``, aligned) name what each item code stands for."""
    from pyspark.sql import functions as F

    from fyplake import faults

    run_id = run_id or new_run_id()
    store = VersionedStore(client, keys.FEED, settings)
    die = faults.take("publish_feeds.partial_feed", settings)  # test hook, off unless FYP_FAULTS
    t0 = time.perf_counter()
    version = store.begin(run_id=run_id, built_at_ms=built_at_ms)
    shards = store.shards_of(version)
    sc = items.sparkSession.sparkContext
    group = f"fyp-publish-feed-v{version}"
    sc.setJobGroup(group, f"publish feed version {version}", interruptOnCancel=True)
    try:
        counts = (
            items.mapInArrow(
                _feed_writer(url, settings, version, shards, die), "users long, bytes long"
            )
            .agg(F.sum("users").alias("users"), F.sum("bytes").alias("bytes"))
            .first()
        )
        users, nbytes = int(counts["users"] or 0), int(counts["bytes"] or 0)
        if users < min_users:
            raise PublishError(f"feed: only {users} users written, fewer than {min_users}")
        previous = store.commit(version, users, sources, ranked_by=ranked_by or ())
    except BaseException:
        logger.exception("feed version %d not published; the previous one keeps serving", version)
        # A failed job's other tasks are cancelled asynchronously and may still be writing:
        # drop the version only once they have stopped, or they would re-create its shards.
        _cancel_and_drain(sc, group)
        try:
            store.abort(version)
        except Exception:  # noqa: BLE001 - its TTL removes it
            pass
        raise
    finally:
        for prop in ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel"):
            sc.setLocalProperty(prop, None)  # type: ignore[arg-type]
    return PublishResult(
        keys.FEED, version, previous, users, nbytes, time.perf_counter() - t0, run_id
    )


def _cancel_and_drain(sc: SparkContext, group: str, timeout_s: float = 120.0) -> None:
    """Cancel the job group's jobs and wait until none of their tasks is running."""
    sc.cancelJobGroup(group)
    tracker = sc.statusTracker()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stages = [
            tracker.getStageInfo(stage)
            for job in tracker.getJobIdsForGroup(group)
            if (info := tracker.getJobInfo(job)) is not None
            for stage in info.stageIds
        ]
        if not any(st is not None and st.numActiveTasks > 0 for st in stages):
            return
        time.sleep(0.2)
    logger.warning("tasks of %s still running after %.0f s; their keys expire", group, timeout_s)


def publish_list_frame(
    lists: DataFrame,
    client: redis.Redis,
    settings: Settings,
    *,
    run_id: str | None = None,
    built_at_ms: int | None = None,
    min_lists: int = 0,
) -> PublishResult:
    """Publish a ``list_items`` frame as a new lists version (streamed through the driver)."""
    local = lists.toLocalIterator(prefetchPartitions=True)
    rows = ((r["name"], r["video_ids"], r["scores"]) for r in local)
    return publish_lists(
        client, rows, settings=settings, run_id=run_id, built_at_ms=built_at_ms, min_lists=min_lists
    )
