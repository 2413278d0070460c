"""Co-engagement ("people who finished this also finished that"): item-item neighbours.

Beyond the design. A user's embedding is an average of a few engaged videos, which is thin for
the many users with a handful of positives; the videos other users engaged with alongside those
few are a sharper signal. Over every user's ``history`` most recent positives::

    sim(i, j) = users(i and j) / sqrt(users(i) * users(j))

each video keeps its ``k`` best ready neighbours (gold.video_neighbours), and a user's
co-engagement score for video j is the sum of sim(i, j) over the user's history i. It feeds a
candidate source (``cowatch``) and a ranking factor ``(1 + scale * score) ** w_cowatch``; the
offline evaluation's item-item baseline is the same score on its own.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def is_positive(min_completion: float, completion: str = "completion_rate") -> Column:
    """An impression the user engaged with: not skipped, and watched to ``min_completion`` or
    liked, shared or commented."""
    flag = lambda c: F.coalesce(F.col(c), F.lit(False))  # noqa: E731
    return (~flag("skipped")) & (
        (F.coalesce(completion, F.lit(0.0)) >= F.lit(min_completion))
        | flag("liked")
        | flag("shared")
        | flag("commented")
    )


def recent_positives(
    events: DataFrame, min_completion: float, history: int, completion: str = "completion_rate"
) -> DataFrame:
    """user_id, video_id, t (latest positive impression), pos (1 = most recent): each user's
    ``history`` most recently engaged distinct videos."""
    last = (
        events.where(is_positive(min_completion, completion))
        .groupBy("user_id", "video_id")
        .agg(F.max("event_time").alias("t"))
    )
    w = Window.partitionBy("user_id").orderBy(F.col("t").desc(), F.col("video_id"))
    return last.withColumn("pos", F.row_number().over(w)).where(F.col("pos") <= history)


def user_history(recent: DataFrame) -> DataFrame:
    """user_id, history (video ids, most recent first) from ``recent_positives``."""
    return recent.groupBy("user_id").agg(
        F.transform(
            F.sort_array(F.collect_list(F.struct("pos", "video_id"))), lambda x: x["video_id"]
        ).alias("history")
    )


def item_neighbours(recent: DataFrame, ready: DataFrame, k: int) -> DataFrame:
    """video_id, neighbour_id, rank, sim: each video's ``k`` best ready co-engaged videos
    (ties: smaller neighbour id first) from ``recent_positives``."""
    hist = recent.select("user_id", "video_id")
    n_item = hist.groupBy("video_id").agg(F.count(F.lit(1)).alias("n"))
    pairs = (
        hist.alias("a")
        .join(hist.alias("b"), "user_id")
        .where(F.col("a.video_id") != F.col("b.video_id"))
        .groupBy(F.col("a.video_id").alias("video_id"), F.col("b.video_id").alias("neighbour_id"))
        .agg(F.count(F.lit(1)).alias("c"))
        .join(ready.select(F.col("video_id").alias("neighbour_id")), "neighbour_id", "left_semi")
    )
    sim = (
        pairs.join(n_item.withColumnRenamed("n", "ni"), "video_id")
        .join(
            n_item.select(F.col("video_id").alias("neighbour_id"), F.col("n").alias("nj")),
            "neighbour_id",
        )
        .select(
            "video_id",
            "neighbour_id",
            (F.col("c") / F.sqrt(F.col("ni") * F.col("nj"))).alias("sim"),
        )
    )
    w = Window.partitionBy("video_id").orderBy(F.col("sim").desc(), F.col("neighbour_id"))
    return (
        sim.withColumn("rank", F.row_number().over(w))
        .where(F.col("rank") <= k)
        .select("video_id", "neighbour_id", F.col("rank").cast("int").alias("rank"), "sim")
    )


def user_scores(recent: DataFrame, neighbours: DataFrame) -> DataFrame:
    """user_id, video_id, score: the sum of sim(i, video) over the user's history i."""
    return (
        recent.select("user_id", F.col("video_id").alias("_i"))
        .join(neighbours.select(F.col("video_id").alias("_i"), "neighbour_id", "sim"), "_i")
        .groupBy("user_id", F.col("neighbour_id").alias("video_id"))
        .agg(F.sum("sim").alias("score"))
    )
