"""Bronze, silver and gold as pure ``DataFrame -> DataFrame`` transforms (parameters, no config).

The rules the README documents live here:

* dimensions: the latest record per key wins, "latest" by arrival hour, then landing file, then
  line; its arrival hour becomes ``updated_at``;
* ``silver.watch_history``: one row per watch or skip; a like/share/comment of the same
  (user, video) is attributed to the latest watch/skip at or before it, if that impression is
  at most ``window_s`` seconds earlier; ``completion_rate = min(watch_ms / duration_ms, cap)``;
* gold: ``views`` counts impressions (watches and skips), rates are per view.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.lake.parsing import REASON, reason_code

IMPRESSIONS = ("watch", "skip")
ENGAGEMENTS = ("like", "share", "comment")

# --- bronze, quarantine, bookkeeping ----------------------------------------------------------


def to_bronze(events: DataFrame, ingested_at: Column) -> DataFrame:
    """Accepted typed events -> bronze.events rows (event_date = UTC date of event_time)."""
    return events.where(F.col(REASON).isNull()).select(
        "event_id",
        "event_type",
        "user_id",
        F.when(F.col("event_type") != "follow", F.col("video_id")).alias("video_id"),
        F.when(F.col("event_type") == "follow", F.col("creator_id")).alias("creator_id"),
        F.when(F.col("event_type").isin(*IMPRESSIONS), F.col("watch_ms")).alias("watch_ms"),
        "event_time",
        F.to_date("event_time").alias("event_date"),
        "source",
        "comment_text",
        "landing_file",
        ingested_at.alias("ingested_at"),
    )


def to_quarantine(
    records: DataFrame, entity: str, quarantined_at: Column, ingest_date: Column
) -> DataFrame:
    """Rejected records of one entity -> quarantine.events rows."""
    return records.where(F.col(REASON).isNotNull()).select(
        F.lit(entity).alias("entity"),
        "raw",
        "landing_file",
        "line_no",
        reason_code(F.col(REASON)).alias("reason_code"),
        F.col(REASON).alias("reason"),
        quarantined_at.alias("quarantined_at"),
        ingest_date.alias("ingest_date"),
    )


def file_counts(records: DataFrame, with_event_dates: bool) -> DataFrame:
    """Per landing file: lines, accepted, quarantined (and the event dates it touched)."""
    accepted = F.col(REASON).isNull()
    aggs = [
        F.count(F.lit(1)).alias("lines"),
        F.count_if(accepted).alias("accepted"),
        F.count_if(~accepted).alias("quarantined"),
    ]
    if with_event_dates:
        aggs.append(
            F.array_sort(F.collect_set(F.when(accepted, F.to_date("event_time")))).alias(
                "event_dates"
            )
        )
    else:
        aggs.append(F.lit(None).cast("array<date>").alias("event_dates"))
    return records.groupBy("landing_file").agg(*aggs)


# --- dimensions -------------------------------------------------------------------------------


def latest_per_key(records: DataFrame, key: list[str]) -> DataFrame:
    """Accepted records, the latest per key (arrival hour, then file, then line)."""
    w = Window.partitionBy(*key).orderBy(
        F.col("arrival_hour").desc(), F.col("landing_file").desc(), F.col("line_no").desc()
    )
    return (
        records.where(F.col(REASON).isNull())
        .withColumn("_rn", F.row_number().over(w))
        .where(F.col("_rn") == 1)
        .drop("_rn")
    )


def users_dim(records: DataFrame) -> DataFrame:
    return records.transform(latest_per_key, ["user_id"]).select(
        "user_id",
        "age_band",
        "country",
        "language",
        "is_creator",
        "signup_time",
        F.col("arrival_hour").alias("updated_at"),
    )


def normalize_hashtags(tags: Column) -> Column:
    """Lower case, no leading '#', no blanks, no repeats."""
    cleaned = F.transform(tags, lambda t: F.lower(F.trim(F.regexp_replace(t, "^#+", ""))))
    return F.array_distinct(F.filter(cleaned, lambda t: t != ""))


def videos_dim(records: DataFrame) -> DataFrame:
    return records.transform(latest_per_key, ["video_id"]).select(
        "video_id",
        "creator_id",
        "duration_ms",
        "title",
        "description",
        normalize_hashtags(F.coalesce(F.col("hashtags"), F.array().cast("array<string>"))).alias(
            "hashtags"
        ),
        "sound_id",
        "language",
        "status",
        "created_at",
        F.col("arrival_hour").alias("updated_at"),
    )


def sounds_dim(records: DataFrame) -> DataFrame:
    return records.transform(latest_per_key, ["sound_id"]).select(
        "sound_id", "title", "creator_id", "created_at"
    )


def hashtags_bridge(videos: DataFrame) -> DataFrame:
    """silver.videos -> silver.hashtags: one row per (hashtag, video_id)."""
    return videos.select(
        F.explode("hashtags").alias("hashtag"), "video_id", "created_at"
    ).dropDuplicates(["hashtag", "video_id"])


def follows_from_events(events: DataFrame) -> DataFrame:
    """Follow events -> one row per (follower, creator) with the first follow time."""
    return (
        events.where(F.col("event_type") == "follow")
        .groupBy(F.col("user_id").alias("follower_id"), "creator_id")
        .agg(F.min("event_time").alias("followed_at"))
    )


# --- silver.watch_history ---------------------------------------------------------------------


def watch_history(
    events: DataFrame, videos: DataFrame, window_s: int, completion_cap: float
) -> DataFrame:
    """bronze events (impressions and engagements) + silver.videos -> silver.watch_history.

    Pass the events of every date to rebuild *and of the day after*, so an engagement just after
    midnight still finds its impression; the caller keeps only the dates it rebuilds.
    """
    is_imp = F.col("event_type").isin(*IMPRESSIONS)
    ev = events.where(F.col("event_type").isin(*IMPRESSIONS, *ENGAGEMENTS)).select(
        "event_id", "event_type", "user_id", "video_id", "watch_ms", "event_time", "event_date"
    )
    w = (
        Window.partitionBy("user_id", "video_id")
        .orderBy("event_time", F.when(is_imp, 0).otherwise(1), "event_id")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    tagged = ev.withColumn(
        "_imp_id", F.last(F.when(is_imp, F.col("event_id")), ignorenulls=True).over(w)
    ).withColumn("_imp_time", F.last(F.when(is_imp, F.col("event_time")), ignorenulls=True).over(w))
    within = (F.unix_millis("event_time") - F.unix_millis("_imp_time")) <= F.lit(window_s * 1000)
    flags = (
        tagged.where(~is_imp & F.col("_imp_id").isNotNull() & within)
        .groupBy(F.col("_imp_id").alias("event_id"))
        .agg(
            F.max(F.col("event_type") == "like").alias("liked"),
            F.max(F.col("event_type") == "share").alias("shared"),
            F.max(F.col("event_type") == "comment").alias("commented"),
        )
    )
    vids = videos.select(
        "video_id", "creator_id", F.col("duration_ms").alias("video_duration_ms")
    ).dropDuplicates(["video_id"])
    completion = F.when(
        F.col("video_duration_ms") > 0,
        F.least(F.col("watch_ms") / F.col("video_duration_ms"), F.lit(float(completion_cap))),
    )
    return (
        ev.where(is_imp)
        .join(flags, "event_id", "left")
        .join(vids, "video_id", "left")
        .select(
            "event_id",
            "user_id",
            "video_id",
            "creator_id",
            "watch_ms",
            "video_duration_ms",
            completion.alias("completion_rate"),
            F.coalesce("liked", F.lit(False)).alias("liked"),
            F.coalesce("shared", F.lit(False)).alias("shared"),
            F.coalesce("commented", F.lit(False)).alias("commented"),
            (F.col("event_type") == "skip").alias("skipped"),
            "event_time",
            "event_date",
        )
    )


# --- gold -------------------------------------------------------------------------------------


def _rate(part: Column, whole: Column) -> Column:
    return F.when(whole > 0, part / whole).otherwise(F.lit(0.0))


def video_daily_stats(history: DataFrame) -> DataFrame:
    """silver.watch_history -> gold.video_daily_stats (one row per date and video)."""
    agg = history.groupBy(F.col("event_date").alias("date"), "video_id").agg(
        F.max("creator_id").alias("creator_id"),
        F.count(F.lit(1)).alias("views"),
        F.countDistinct("user_id").alias("unique_viewers"),
        F.coalesce(F.sum("watch_ms"), F.lit(0)).alias("watch_ms_total"),
        F.avg("completion_rate").alias("mean_completion"),
        F.count_if("liked").alias("likes"),
        F.count_if("shared").alias("shares"),
        F.count_if("commented").alias("comments"),
        F.count_if("skipped").alias("skips"),
    )
    return agg.select(
        "*",
        _rate(F.col("likes"), F.col("views")).alias("like_rate"),
        _rate(F.col("shares"), F.col("views")).alias("share_rate"),
        _rate(F.col("comments"), F.col("views")).alias("comment_rate"),
    )


def creator_daily_stats(history: DataFrame, follows: DataFrame) -> DataFrame:
    """silver.watch_history + silver.follows -> gold.creator_daily_stats.

    A row per (date, creator) that had views or new followers that day; ``followers_total`` is
    the cumulative count of followers up to and including that date (pass all follows).
    """
    views = history.groupBy(F.col("event_date").alias("date"), "creator_id").agg(
        F.countDistinct("video_id").alias("videos_watched"),
        F.count(F.lit(1)).alias("views"),
        F.countDistinct("user_id").alias("unique_viewers"),
        F.coalesce(F.sum("watch_ms"), F.lit(0)).alias("watch_ms_total"),
        F.avg("completion_rate").alias("mean_completion"),
        F.count_if("liked").alias("_likes"),
        F.count_if("shared").alias("_shares"),
        F.count_if("commented").alias("_comments"),
    )
    new = follows.groupBy(F.to_date("followed_at").alias("date"), "creator_id").agg(
        F.count(F.lit(1)).alias("new_followers")
    )
    cumulative = (
        Window.partitionBy("creator_id")
        .orderBy("date")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    both = views.join(new, ["date", "creator_id"], "full").where(F.col("creator_id").isNotNull())
    return both.select(
        "date",
        "creator_id",
        F.coalesce("videos_watched", F.lit(0)).alias("videos_watched"),
        F.coalesce("views", F.lit(0)).alias("views"),
        F.coalesce("unique_viewers", F.lit(0)).alias("unique_viewers"),
        F.coalesce("watch_ms_total", F.lit(0)).alias("watch_ms_total"),
        "mean_completion",
        _rate(F.col("_likes"), F.col("views")).alias("like_rate"),
        _rate(F.col("_shares"), F.col("views")).alias("share_rate"),
        _rate(F.col("_comments"), F.col("views")).alias("comment_rate"),
        F.coalesce("new_followers", F.lit(0)).alias("new_followers"),
        F.sum(F.coalesce("new_followers", F.lit(0))).over(cumulative).alias("followers_total"),
    )
