"""Offline evaluation: per-user hold-out, ranking metrics at k, baselines, ground truth.

* ``split_holdout``: per user, the last ``fraction`` of impressions by time (default) or a seeded
  random ``fraction`` of them are held out; the engine and the baselines see only the rest.
* Relevant = a held-out impression the user engaged with: watched (not skipped) with completion
  at least ``min_completion``, or liked, shared or commented.
* ``per_user_metrics``: precision, recall, nDCG (binary gains) and MAP at k of every model for
  every user with at least one relevant held-out video (a user a model recommended nothing to
  scores 0); ``ranking_metrics``: their mean and standard error (sample standard deviation /
  sqrt(users)) per model (and segment); catalog coverage (share of ready videos in any top-k)
  and novelty (mean self-information -log2 of a recommended video's training popularity).
* ``paired_differences``: the engine minus each other model, per user over the same users,
  mean and standard error of the differences (the users are shared, so this is far tighter than
  comparing two means with their own errors).
* ``candidate_recall``: the share of each user's held-out positives that are among the
  engine's candidates at all (before ranking), overall and per source, and the marginal recall
  of each source (positives no other source found).
* The baselines (most popular, item-kNN, ALS, EASE) are in ``jobs.recsys.baselines``.
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
        u = F.xxhash64(F.lit(int(seed)), F.col("event_id")).bitwiseAND(
            F.lit((1 << 52) - 1)
        ) / F.lit(float(1 << 52))
        tagged = watch.withColumn("_test", u < F.lit(fraction))
    else:
        raise ValueError(f"holdout must be 'time' or 'random', got {method!r}")
    tagged = tagged.localCheckpoint(eager=True)  # one draw, and a short lineage downstream
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
    return (
        events.where(cowatch.is_positive(min_completion)).select("user_id", "video_id").distinct()
    )


def _idcg(m: F.Column) -> F.Column:
    return F.aggregate(
        F.sequence(F.lit(1), F.greatest(m, F.lit(1))),
        F.lit(0.0),
        lambda acc, i: acc + F.lit(1.0) / F.log2(i + F.lit(1)),
    )


def _with_model(recs: DataFrame) -> DataFrame:
    return recs if "model" in recs.columns else recs.withColumn("model", F.lit("model"))


#: The per-user ranking metrics, in output order.
METRICS = ("precision", "recall", "ndcg", "map")


def per_user_metrics(
    recs: DataFrame, truth: DataFrame, k: int, segments: DataFrame | None = None
) -> DataFrame:
    """model, [segment,] user_id, precision, recall, ndcg, map at k: one row per model (a column
    of ``recs``; one model if absent) and user in ``truth`` (users without recommendations score
    0). ``recs``: [model,] user_id, video_id, rank (1 = first); ``truth``: distinct (user_id,
    video_id).

    ``segments`` (user_id, segment; one segment per user): the rows carry the user's segment,
    users in no segment are left out, and a model appears in a segment where it recommended to
    one of its users."""
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
    return (
        pairs.join(per_user, [*keys, "user_id"], "left")
        .fillna(0, subset=["hits", "dcg", "ap_sum"])
        .withColumn("m", F.least(F.col("n_rel"), F.lit(k)))
        .select(
            *keys,
            "user_id",
            (F.col("hits") / F.lit(float(k))).alias("precision"),
            (F.col("hits") / F.col("n_rel")).alias("recall"),
            (F.col("dcg") / _idcg(F.col("m"))).alias("ndcg"),
            (F.col("ap_sum") / F.col("m")).alias("map"),
        )
    )


def _se(c: str) -> F.Column:
    """Standard error of the mean: sample standard deviation / sqrt(n) (null for one value)."""
    return F.stddev_samp(c) / F.sqrt(F.count(c))


def summarise(
    per_user: DataFrame, keys: list[str], metrics: tuple[str, ...] = METRICS
) -> DataFrame:
    """keys, users, then per metric its mean and ``<metric>_se``."""
    aggs = [F.count(F.lit(1)).alias("users")]
    for m in metrics:
        aggs += [F.avg(m).alias(m), _se(m).alias(f"{m}_se")]
    return per_user.groupBy(*keys).agg(*aggs)


def ranking_metrics(
    recs: DataFrame, truth: DataFrame, k: int, segments: DataFrame | None = None
) -> DataFrame:
    """Per ``model`` (and ``segment``, see ``per_user_metrics``): users, precision, recall,
    ndcg, map at k averaged over the users in ``truth``, each with its standard error
    (``precision_se`` ...)."""
    keys = ["model"] if segments is None else ["model", "segment"]
    return summarise(per_user_metrics(recs, truth, k, segments), keys)


def paired_differences(
    per_user: DataFrame, engine: str, metrics: tuple[str, ...] = ("ndcg",)
) -> DataFrame:
    """model (every model but ``engine``), users, then per metric the mean over users of
    (engine - model) and its standard error ``<metric>_se``, from ``per_user_metrics`` rows
    (every model has a row for every user, so the users are the same)."""
    mine = per_user.where(F.col("model") == engine).select(
        "user_id", *[F.col(m).alias(f"_e_{m}") for m in metrics]
    )
    diffs = (
        per_user.where(F.col("model") != engine)
        .join(mine, "user_id")
        .select("model", *[(F.col(f"_e_{m}") - F.col(m)).alias(m) for m in metrics])
    )
    return summarise(diffs, ["model"], metrics)


def candidate_recall(
    cands: DataFrame, truth: DataFrame, sources: tuple[str, ...], overall: str = "all"
) -> DataFrame:
    """source (each of ``sources``, then ``overall``), users, recall, recall_se, marginal,
    marginal_se: per user with a relevant held-out video, the share of those videos that are
    candidates (of that source; ``overall``: of any), and the share that only that source
    produced (``marginal``; for ``overall`` the same as recall), then mean and standard error.
    ``cands``: user_id, video_id, sources (every source that produced the candidate)."""
    spark = truth.sparkSession
    truth = truth.select("user_id", "video_id").distinct()
    n_rel = truth.groupBy("user_id").agg(F.count(F.lit(1)).alias("n_rel"))
    found = cands.select("user_id", "video_id", "sources").join(
        F.broadcast(truth), ["user_id", "video_id"]
    )
    per_source = (
        found.select(
            "user_id",
            F.explode(F.array_union("sources", F.array(F.lit(overall)))).alias("source"),
            (F.size("sources") == 1).alias("only"),
        )
        .groupBy("user_id", "source")
        .agg(
            F.count(F.lit(1)).alias("hits"),
            F.sum(F.when(F.col("only") | (F.col("source") == overall), 1).otherwise(0)).alias(
                "only_hits"
            ),
        )
    )
    names = spark.createDataFrame([(s,) for s in (*sources, overall)], "source string")
    per_user = (
        n_rel.crossJoin(F.broadcast(names))
        .join(per_source, ["user_id", "source"], "left")
        .fillna(0, subset=["hits", "only_hits"])
        .select(
            "source",
            "user_id",
            (F.col("hits") / F.col("n_rel")).alias("recall"),
            (F.col("only_hits") / F.col("n_rel")).alias("marginal"),
        )
    )
    return summarise(per_user, ["source"], ("recall", "marginal"))


#: A candidate source whose marginal recall is below this, or within two standard errors of 0,
#: "adds nothing measurable".
NOTHING_MEASURABLE = 0.001


def adds_nothing_measurable(marginal: float | None, se: float | None) -> bool:
    """A source's marginal candidate recall indistinguishable from zero."""
    if marginal is None or math.isnan(marginal):
        return False
    se = 0.0 if se is None or math.isnan(se) else se
    return marginal < NOTHING_MEASURABLE or marginal <= 2.0 * se


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


def ground_truth_scores(
    recs: DataFrame, gt_users: DataFrame, gt_videos: DataFrame, k: int
) -> DataFrame:
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
        (
            model,
            name,
            k,
            float(v)
            if v is not None and not (isinstance(v, float) and math.isnan(v))
            else float("nan"),
        )
        for name, v in values.items()
    ]
