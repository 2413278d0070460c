"""Offline evaluation: per-user hold-out, ranking metrics at k, baselines, ground truth.

* ``split_holdout``: per user, the last ``fraction`` of impressions by time (default) or a seeded
  random ``fraction`` of them are held out; the engine and the baselines see only the rest.
* Relevant = a held-out impression the user engaged with: watched (not skipped) with completion
  at least ``min_completion``, or liked, shared or commented.
* ``ranking_metrics``: precision, recall, nDCG (binary gains) and MAP at k over users with at
  least one relevant held-out video; catalog coverage (share of ready videos in any top-k) and
  novelty (mean self-information -log2 of a recommended video's training popularity).
* Baselines computed in the same run on the same split: ``most_popular`` (training engagements)
  and ``item_cooccurrence`` (item-item cosine of co-engagement, summed over the user's history:
  the engine's ``cowatch`` score on its own, from the engine's neighbour table of the split).
* ``ground_truth_scores``: on a generated world, the mean hidden topic affinity of the
  recommended videos relative to the user's best topic (1.0 = all on the user's favourite topic)
  and their mean hidden quality.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.recsys import cowatch


def split_holdout(
    watch: DataFrame, *, method: str, fraction: float, seed: int
) -> tuple[DataFrame, DataFrame]:
    """(train, test) impressions. Users with one impression keep it in train (time split)."""
    if method == "time":
        w = Window.partitionBy("user_id").orderBy(F.col("event_time"), F.col("event_id"))
        cnt = F.count(F.lit(1)).over(Window.partitionBy("user_id"))
        n_test = F.when(cnt >= 2, F.greatest(F.lit(1), F.floor(cnt * F.lit(fraction)))).otherwise(0)
        tagged = watch.withColumn("_rn", F.row_number().over(w)).withColumn(
            "_test", F.col("_rn") > cnt - n_test
        )
    elif method == "random":
        u = F.xxhash64(F.lit(int(seed)), F.col("event_id")).bitwiseAND(F.lit((1 << 52) - 1)) / F.lit(
            float(1 << 52)
        )
        tagged = watch.withColumn("_test", u < F.lit(fraction))
    else:
        raise ValueError(f"holdout must be 'time' or 'random', got {method!r}")
    tagged = tagged.cache()
    drop = [c for c in ("_rn", "_test") if c in tagged.columns]
    return (
        tagged.where(~F.col("_test")).drop(*drop),
        tagged.where(F.col("_test")).drop(*drop),
    )


def user_cutoffs(test: DataFrame) -> DataFrame:
    """user_id, cutoff: the time of the user's first held-out impression."""
    return test.groupBy("user_id").agg(F.min("event_time").alias("cutoff"))


def positives(events: DataFrame, min_completion: float) -> DataFrame:
    """Distinct (user_id, video_id) the user engaged with (``cowatch.is_positive``)."""
    return events.where(cowatch.is_positive(min_completion)).select("user_id", "video_id").distinct()


def _idcg(m: F.Column) -> F.Column:
    return F.aggregate(
        F.sequence(F.lit(1), F.greatest(m, F.lit(1))),
        F.lit(0.0),
        lambda acc, i: acc + F.lit(1.0) / F.log2(i + F.lit(1)),
    )


def _with_model(recs: DataFrame) -> DataFrame:
    return recs if "model" in recs.columns else recs.withColumn("model", F.lit("model"))


def ranking_metrics(
    recs: DataFrame, truth: DataFrame, k: int, segments: DataFrame | None = None
) -> DataFrame:
    """Per ``model`` (a column of ``recs``; one model if absent): users, precision, recall,
    ndcg, map at k, averaged over the users in ``truth`` (users without recommendations count
    as all-miss). ``recs``: [model,] user_id, video_id, rank (1 = first); ``truth``: distinct
    (user_id, video_id).

    ``segments`` (user_id, segment; one segment per user): the same metrics per model and
    segment in one pass, each as if ``recs`` and ``truth`` were first restricted to the
    segment's users (users in no segment are left out); a model appears in a segment where it
    recommended to one of its users."""
    recs = _with_model(recs)
    keys = ["model"]
    if segments is not None:
        seg = segments.select("user_id", "segment").distinct()
        recs = recs.join(seg, "user_id")
        truth = truth.join(seg, "user_id")
        keys = ["model", "segment"]
    models = recs.select(*keys).distinct()
    top = recs.where(F.col("rank") <= k).select(*keys, "user_id", "video_id", "rank")
    n_rel = truth.groupBy(*keys[1:], "user_id").agg(F.count(F.lit(1)).alias("n_rel"))
    hits = top.join(
        truth.select("user_id", "video_id").withColumn("hit", F.lit(1)),
        ["user_id", "video_id"],
        "left",
    ).fillna(0, subset=["hit"])
    w = Window.partitionBy(*keys, "user_id").orderBy("rank")
    hits = hits.withColumn("cum_hits", F.sum("hit").over(w))
    per_user = hits.groupBy(*keys, "user_id").agg(
        F.sum("hit").alias("hits"),
        F.sum(F.col("hit") / F.log2(F.col("rank") + F.lit(1))).alias("dcg"),
        F.sum(F.when(F.col("hit") == 1, F.col("cum_hits") / F.col("rank")).otherwise(0.0)).alias(
            "ap_sum"
        ),
    )
    pairs = models.join(n_rel, "segment") if segments is not None else models.crossJoin(n_rel)
    scored = (
        pairs.join(per_user, [*keys, "user_id"], "left")
        .fillna(0, subset=["hits", "dcg", "ap_sum"])
        .withColumn("m", F.least(F.col("n_rel"), F.lit(k)))
        .select(
            *keys,
            (F.col("hits") / F.lit(float(k))).alias("precision"),
            (F.col("hits") / F.col("n_rel")).alias("recall"),
            (F.col("dcg") / _idcg(F.col("m"))).alias("ndcg"),
            (F.col("ap_sum") / F.col("m")).alias("map"),
        )
    )
    return scored.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("users"),
        F.avg("precision").alias("precision"),
        F.avg("recall").alias("recall"),
        F.avg("ndcg").alias("ndcg"),
        F.avg("map").alias("map"),
    )


def coverage_novelty(
    recs: DataFrame, catalog: DataFrame, train_pos: DataFrame, n_users: int, k: int
) -> DataFrame:
    """Per model: coverage (distinct top-k videos / ready catalogue) and novelty (mean
    -log2((users who engaged + 1) / (users + 1)) over recommended videos)."""
    top = _with_model(recs).where(F.col("rank") <= k).select("model", "user_id", "video_id")
    pop = train_pos.groupBy("video_id").agg(F.count(F.lit(1)).alias("_u"))
    n_cat = catalog.select("video_id").distinct().agg(F.count(F.lit(1)).alias("_n"))
    return (
        top.join(pop, "video_id", "left")
        .fillna(0, subset=["_u"])
        .groupBy("model")
        .agg(
            F.countDistinct("video_id").alias("_d"),
            F.avg(-F.log2((F.col("_u") + F.lit(1.0)) / F.lit(float(n_users + 1)))).alias("novelty"),
        )
        .crossJoin(n_cat)
        .select("model", (F.col("_d") / F.col("_n")).alias("coverage"), "novelty")
    )


def most_popular(
    train_pos: DataFrame, users: DataFrame, watched: DataFrame, ready: DataFrame, k: int,
    extra: int = 100,
) -> DataFrame:
    """Baseline: the most engaged-with ready videos, minus what the user watched."""
    pop = (
        train_pos.join(ready.select("video_id"), "video_id", "left_semi")
        .groupBy("video_id")
        .agg(F.count(F.lit(1)).alias("score"))
    )
    top = pop.withColumn(
        "_r", F.row_number().over(Window.orderBy(F.col("score").desc(), F.col("video_id")))
    ).where(F.col("_r") <= k + extra)
    cands = users.select("user_id").crossJoin(F.broadcast(top.select("video_id", "score"))).join(
        watched, ["user_id", "video_id"], "left_anti"
    )
    w = Window.partitionBy("user_id").orderBy(F.col("score").desc(), F.col("video_id"))
    return cands.withColumn("rank", F.row_number().over(w)).where(F.col("rank") <= k).select(
        "user_id", "video_id", "rank", "score"
    )


def item_cooccurrence(recent: DataFrame, neighbours: DataFrame, watched: DataFrame, k: int) -> DataFrame:
    """Baseline: item-item cosine of co-engagement; a user's score for video j is the sum of
    sim(i, j) over the user's recent engaged videos i (``cowatch.recent_positives``), with
    ``neighbours`` from ``cowatch.item_neighbours`` of the same training data."""
    scores = cowatch.user_scores(recent, neighbours).join(watched, ["user_id", "video_id"], "left_anti")
    w = Window.partitionBy("user_id").orderBy(F.col("score").desc(), F.col("video_id"))
    return scores.withColumn("rank", F.row_number().over(w)).where(F.col("rank") <= k).select(
        "user_id", "video_id", "rank", "score"
    )


def ground_truth_scores(recs: DataFrame, gt_users: DataFrame, gt_videos: DataFrame, k: int) -> DataFrame:
    """Per model: gt_affinity (mean dot(user topics, video topics) / the user's top topic
    weight; 1.0 = every video on the user's favourite topic) and gt_quality (mean hidden video
    quality) over the top-k."""
    top = _with_model(recs).where(F.col("rank") <= k).select("model", "user_id", "video_id")
    u = gt_users.select("user_id", F.col("topic_vector").alias("tu"))
    v = gt_videos.select("video_id", F.col("topic_vector").alias("tv"), F.col("quality").alias("q"))
    dot = F.aggregate(
        F.zip_with("tu", "tv", lambda a, b: a.cast("double") * b), F.lit(0.0), lambda s, x: s + x
    )
    mx = F.array_max("tu").cast("double")
    return (
        top.join(F.broadcast(u), "user_id")
        .join(F.broadcast(v), "video_id")
        .groupBy("model")
        .agg(F.avg(dot / mx).alias("gt_affinity"), F.avg("q").alias("gt_quality"))
    )


def metric_rows(model: str, k: int, values: dict[str, float]) -> list[tuple[str, str, int, float]]:
    return [
        (model, name, k, float(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else float("nan"))
        for name, v in values.items()
    ]
