"""TEMPORARY: silver-shaped frames straight from landing files, for when no ingest has run.

The lake teammate's ingest job (jobs/ingest.py) builds the real silver tables; until a lake has
them, ``fyp evaluate --from-landing`` and the engine's end-to-end test read the generator's
landing JSON Lines with this helper. It reproduces only what the engine needs: impressions
(watch/skip) with the like/comment/share of the same user, video and day, users, videos and the
follow graph. It does no validation, quarantine or deduplication beyond event_id. Prefer the
silver tables whenever they exist.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.recsys.pipeline import Silver

EVENT_SCHEMA = (
    "event_id string, event_type string, user_id bigint, video_id bigint, creator_id bigint, "
    "watch_ms bigint, event_time string, source string, comment_text string"
)
USER_SCHEMA = (
    "user_id bigint, age_band string, country string, language string, signup_time string, "
    "is_creator boolean, source string"
)
VIDEO_SCHEMA = (
    "video_id bigint, creator_id bigint, duration_ms bigint, title string, description string, "
    "hashtags array<string>, sound_id bigint, language string, status string, "
    "created_at string, source string"
)


def _read(spark: SparkSession, root: str, entity: str, schema: str):
    return (
        spark.read.schema(schema)
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "*.jsonl")
        .json(f"{root.rstrip('/')}/{entity}")
    )


def silver_from_landing(spark: SparkSession, landing_root: str) -> Silver:
    events = (
        _read(spark, landing_root, "events", EVENT_SCHEMA)
        .dropDuplicates(["event_id"])
        .withColumn("event_time", F.to_timestamp("event_time"))
    )
    videos = (
        _read(spark, landing_root, "videos", VIDEO_SCHEMA)
        .withColumn("created_at", F.to_timestamp("created_at"))
        .withColumn("updated_at", F.col("created_at"))
        .dropDuplicates(["video_id"])
        .drop("source")
    )
    users = (
        _read(spark, landing_root, "users", USER_SCHEMA)
        .withColumn("signup_time", F.to_timestamp("signup_time"))
        .withColumn("updated_at", F.col("signup_time"))
        .dropDuplicates(["user_id"])
        .drop("source")
    )
    day = F.to_date("event_time")
    flags = (
        events.where(F.col("event_type").isin("like", "comment", "share"))
        .groupBy("user_id", "video_id", day.alias("event_date"))
        .agg(
            F.max((F.col("event_type") == "like").cast("int")).cast("boolean").alias("liked"),
            F.max((F.col("event_type") == "share").cast("int")).cast("boolean").alias("shared"),
            F.max((F.col("event_type") == "comment").cast("int")).cast("boolean").alias("commented"),
        )
    )
    imps = events.where(F.col("event_type").isin("watch", "skip")).withColumn("event_date", day)
    watch = (
        imps.join(flags, ["user_id", "video_id", "event_date"], "left")
        .join(videos.select("video_id", F.col("creator_id").alias("v_creator"), "duration_ms"), "video_id", "left")
        .select(
            "event_id",
            "user_id",
            "video_id",
            F.col("v_creator").alias("creator_id"),
            "watch_ms",
            F.col("duration_ms").alias("video_duration_ms"),
            (F.col("watch_ms") / F.col("duration_ms")).alias("completion_rate"),
            F.coalesce("liked", F.lit(False)).alias("liked"),
            F.coalesce("shared", F.lit(False)).alias("shared"),
            F.coalesce("commented", F.lit(False)).alias("commented"),
            (F.col("event_type") == "skip").alias("skipped"),
            "event_time",
            "event_date",
        )
    )
    follows = (
        events.where(F.col("event_type") == "follow")
        .groupBy(F.col("user_id").alias("follower_id"), "creator_id")
        .agg(F.min("event_time").alias("followed_at"))
    )
    return Silver(watch=watch, users=users, videos=videos, follows=follows)
