"""The publishing Spark jobs over hand-made silver/gold tables: Postgres, ready set, Valkey."""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np
import psycopg
import pytest

from fyplake import keys
from fyplake.config import Settings
from fyplake.serving import codec
from fyplake.serving.clients import async_valkey_client
from fyplake.serving.reader import ServingReader
from fyplake.serving.testing import clear_serving_keys
from fyplake.serving.versions import PublishError, VersionedStore

pytestmark = pytest.mark.slow

U, V, S = 6_000_000, 6_100_000, 6_200_000
DS = dt.date(2026, 11, 20)
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _save(spark, settings, layer, name, rows, ddl):
    path = settings.lake_path(layer, name)
    spark.createDataFrame(rows, ddl).write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true"
    ).save(path)


def _unit(i):
    v = np.zeros(128, dtype=np.float32)
    v[i % 128] = 1.0
    return [float(x) for x in v]


@pytest.fixture(scope="module")
def lake(spark, stack, tmp_path_factory):
    # a lake of its own: these hand-made tables must not meet other tests' tables
    root = tmp_path_factory.mktemp("publish-lake")
    settings = Settings(feed_shards=4, lists_shards=2, lake=str(root))
    users = [(U + i, "18-24", "BR", "pt", i == 0, T0, T0) for i in range(4)]
    _save(
        spark,
        settings,
        "silver",
        "users",
        users,
        "user_id bigint, age_band string, country string, language string, "
        "is_creator boolean, signup_time timestamp, updated_at timestamp",
    )
    _save(
        spark,
        settings,
        "silver",
        "sounds",
        [(S, "beat", U, T0)],
        "sound_id bigint, title string, creator_id bigint, created_at timestamp",
    )
    videos = [
        (
            V + i,
            U,
            15_000,
            f"video {i}",
            "a clip",
            ["dance"],
            S,
            "pt",
            "processing" if i == 9 else "ready",
            T0,
            T0,
        )
        for i in range(10)
    ]
    _save(
        spark,
        settings,
        "silver",
        "videos",
        videos,
        "video_id bigint, creator_id bigint, duration_ms bigint, title string, "
        "description string, hashtags array<string>, sound_id bigint, language string, "
        "status string, created_at timestamp, updated_at timestamp",
    )
    _save(
        spark,
        settings,
        "gold",
        "video_embeddings",
        [(DS, V + i, _unit(i), "als-1", 0.5) for i in range(10)],
        "ds date, video_id bigint, embedding array<float>, model_version string, cf_weight double",
    )
    _save(
        spark,
        settings,
        "gold",
        "creator_daily_stats",
        [
            (DS - dt.timedelta(days=d), U, 2, 10 * d, 5, 1000, 0.5, 0.1, 0.0, 0.0, 1, 5 - d)
            for d in range(3)
        ],
        "date date, creator_id bigint, videos_watched bigint, views bigint, "
        "unique_viewers bigint, watch_ms_total bigint, mean_completion double, "
        "like_rate double, share_rate double, comment_rate double, new_followers bigint, "
        "followers_total bigint",
    )
    feeds = [
        (
            "run-20",
            DS,
            U + u,
            r + 1,
            V + (u + r) % 10,
            1.0 / (r + 1),
            "followed" if r % 2 else "embedding",
        )
        for u in range(3)
        for r in range(6)
    ]
    feeds += [("run-19", DS - dt.timedelta(days=1), U + 3, 1, V, 1.0, "trending")]
    _save(
        spark,
        settings,
        "gold",
        "feeds",
        feeds,
        "run_id string, ds date, user_id bigint, rank int, video_id bigint, score double, "
        "source string",
    )
    _save(
        spark,
        settings,
        "gold",
        "trending",
        [(DS, 1, V + 5, 3.0), (DS, 2, V + 9, 2.0), (DS, 3, V + 6, 1.0)],
        "ds date, rank int, video_id bigint, score double",
    )
    _save(
        spark,
        settings,
        "gold",
        "hashtag_top",
        [(DS - dt.timedelta(days=1), "Dance", 1, V + 7, 1.0)],  # only an older ds exists
        "ds date, hashtag string, rank int, video_id bigint, score double",
    )
    _save(
        spark,
        settings,
        "gold",
        "coldstart_pools",
        [
            (DS, "demographic", "18-24", "BR", "pt", 2, V + 2, 0.5),
            (DS, "demographic", "18-24", "BR", "pt", 1, V + 1, 0.9),
            (DS, "diverse", None, None, None, 1, V + 3, 0.1),
        ],
        "ds date, pool string, age_band string, country string, language string, rank int, "
        "video_id bigint, score double",
    )
    import redis

    client = redis.Redis.from_url(stack.valkey)
    clear_serving_keys(client)
    yield settings, client
    clear_serving_keys(client)


def test_publish_postgres_then_feeds(spark, lake, stack):
    from jobs.publish import feeds as publish_feeds
    from jobs.publish import postgres as publish_postgres

    settings, valkey = lake
    out = publish_postgres.run(spark, settings, DS)
    assert out["silver.users"]["upserted"] == 4 and out["silver.videos"]["upserted"] == 10
    assert out["gold.video_embeddings"]["upserted"] == 10
    assert out["gold.creator_daily_stats"]["upserted"] == 3
    with psycopg.connect(stack.postgres) as conn:
        status = conn.execute("SELECT status FROM videos WHERE id = %s", (V + 9,)).fetchone()
        near = conn.execute(
            "SELECT video_id FROM video_embeddings ORDER BY embedding <=> "
            "(SELECT embedding FROM video_embeddings WHERE video_id = %s) LIMIT 1",
            (V + 4,),
        ).fetchone()
    assert status == ("processing",) and near == (V + 4,)
    assert valkey.sismember(keys.READY_VIDEOS, V + 1)
    assert not valkey.sismember(keys.READY_VIDEOS, V + 9)

    out = publish_feeds.run(spark, settings, DS)
    feed = out["feed"]
    assert feed["items"] == 3 and feed["run_id"] == "run-20"
    store = VersionedStore(valkey, "feed", settings)
    info = store.info(feed["version"])
    assert set(info.sources) == {"embedding", "followed"}
    assert info.built_at_ms == int(dt.datetime(2026, 11, 21, tzinfo=dt.UTC).timestamp() * 1000)
    shard = keys.shard("feed", feed["version"], keys.shard_of(str(U + 1), info.shards))
    decoded = codec.decode(valkey.hget(shard, str(U + 1)))
    assert decoded.ids == [V + (1 + r) % 10 for r in range(6)]  # rank order
    assert [info.sources[c] for c in decoded.codes] == ["embedding", "followed"] * 3
    assert out["lists"]["items"] == 4  # trending, hashtag:dance (older ds), 1 pool, diverse
    assert out["lists"]["read_ds"]["hashtag_top"] == "2026-11-19"

    async def served():
        client = async_valkey_client(stack.valkey, 1.0)
        try:
            reader = ServingReader(client, settings)
            page = await reader.feed_page(U + 3, limit=10, segment=("18-24", "BR", "pt"))
            tags = await reader.list_page(keys.hashtag_list("dance"), 5)
            return page, tags
        finally:
            await client.aclose()

    page, tags = asyncio.run(served())
    # U+3 has no feed for this ds: cold-start mix of its segment, then trending (V+9 not ready)
    assert page.personalized is False
    assert [i.video_id for i in page.items] == [V + 1, V + 3, V + 2, V + 5, V + 6]
    assert [i.video_id for i in tags.items] == [V + 7]

    # a truncated gold.feeds (1 user where 3 were published) does not replace the feed
    _save(
        spark,
        settings,
        "gold",
        "feeds",
        [("run-21", DS + dt.timedelta(days=1), U, 1, V, 1.0, "followed")],
        "run_id string, ds date, user_id bigint, rank int, video_id bigint, score double, "
        "source string",
    )
    with pytest.raises(PublishError, match="fewer than"):
        publish_feeds.run(spark, settings, DS + dt.timedelta(days=1), sync_ready="false")
    assert store.current() == feed["version"]


def test_a_feed_publish_that_dies_on_the_executors_leaves_no_key_of_its_version(
    spark, lake, stack, tmp_path
):
    """Every task dies after its first batch (the publish_feeds.partial_feed fault): the job
    group is cancelled and drained, the version dropped, so no key of it is left behind; the
    current version is unchanged and the job group is cleared for later jobs."""
    from pyspark.sql import functions as F

    from fyplake.serving.spark_publish import feed_items, publish_feed_frame

    settings, valkey = lake
    faulty = settings.model_copy(
        update={"faults": "publish_feeds.partial_feed=1", "home": tmp_path}
    )
    current = valkey.get(keys.current("feed"))
    rows = spark.range(0, 4000, numPartitions=4).select(
        (F.col("id") % 1000 + U).alias("user_id"),
        F.floor(F.col("id") / 1000 + 1).alias("rank"),
        (F.col("id") % 10 + V).alias("video_id"),
        F.lit(0.5).alias("score"),
        F.lit("embedding").alias("source"),
    )
    items = feed_items(rows, {"embedding": 1}).repartition(2)
    with pytest.raises(Exception, match="partial_feed"):
        publish_feed_frame(items, valkey, stack.valkey, faulty, sources=["embedding"])
    version = int(valkey.get(keys.version_seq("feed")))
    assert valkey.get(keys.current("feed")) == current
    assert list(valkey.scan_iter(match=f"fyp:feed:v{version}:*")) == []
    assert spark.sparkContext.getLocalProperty("spark.jobGroup.id") is None


def test_the_served_feed_is_the_export_sorted_by_score(spark, lake, stack):
    """A mixed feed in gold.feeds (the ranker's rows, a cold-start pool's, an exploration
    slot) whose raw scores go up and down: the published ``score`` falls with rank, so the
    export sorted by score is the order the API serves, and each served item says what ranked
    it (``ranked_by``) besides its candidate source; the top-up after it keeps falling."""
    from pyspark.sql import functions as F

    from fyplake import catalog, delta_io
    from jobs.publish import feeds as publish_feeds

    settings, _ = lake
    day = DS + dt.timedelta(days=2)
    placed = [  # (video, source, raw score, ranked_by)
        (V + 4, "hashtag", 0.31, "hybrid"),
        (V + 1, "coldstart_popular", 0.9, "coldstart_popular"),
        (V + 6, "embedding", 0.22, "hybrid"),
        (V + 8, "exploration", 0.75, "exploration"),
        (V + 3, "coldstart_diverse", 0.1, "coldstart_diverse"),
        (V + 7, "hashtag", 0.12, "hybrid"),
    ]
    rows = [
        ("run-22", day, U + 2, r, v, catalog.feed_display_score(r), src, raw, by)
        for r, (v, src, raw, by) in enumerate(placed, 1)
    ]
    _save(spark, settings, "gold", "feeds", rows, catalog.GOLD_FEEDS.schema)
    out = publish_feeds.run(spark, settings, day, min_ratio="0", sync_ready="false")
    assert out["feed"]["items"] == 1

    export = (
        delta_io.read_table(spark, catalog.GOLD_FEEDS, settings=settings)
        .where(F.col("ds") == F.lit(day))
        .orderBy(F.desc("score"))
        .collect()
    )

    async def served():
        client = async_valkey_client(stack.valkey, 1.0)
        try:
            reader = ServingReader(client, settings)
            return await reader.feed_page(U + 2, limit=9, segment=("18-24", "BR", "pt"))
        finally:
            await client.aclose()

    page = asyncio.run(served())
    feed, topup = page.items[: len(placed)], page.items[len(placed) :]
    assert [i.video_id for i in feed] == [r["video_id"] for r in export]
    assert [(i.source, i.ranked_by) for i in feed] == [(s, b) for _, s, _, b in placed]
    assert [i.score for i in feed] == pytest.approx([r["score"] for r in export], rel=1e-6)
    assert topup and {i.source for i in topup} <= {"coldstart_popular", "trending"}
    scores = [i.score for i in page.items]
    assert all(b < a for a, b in zip(scores, scores[1:], strict=False))
