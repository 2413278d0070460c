"""``fyp evaluate``'s orchestration: split, run the engine on the training part, score it and
the baselines on the held-out part, replay the exploration bandit."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.recsys import bandit, evaluation, features
from jobs.recsys.params import RecParams
from jobs.recsys.pipeline import Silver, build_all, recent_positives

logger = logging.getLogger(__name__)

ENGINE = "fyp"
DESIGN = "fyp_design"


def _row(df: DataFrame) -> dict[str, Any]:
    r = df.first()
    return r.asDict() if r is not None else {}


def evaluate(
    spark: SparkSession,
    silver: Silver,
    p: RecParams,
    *,
    ds: dt.date | None,
    k: int,
    holdout: str,
    fraction: float,
    seed: int,
    min_completion: float,
    ground_truth: str | None = None,
    bandit_rounds: int = 7,
) -> dict[str, Any]:
    """Returns {"ds", "rows": [(model, metric, k, value)], "timings", "counts"}."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    if ds is None:
        last = silver.watch.agg(F.max("event_date")).first()[0]
        if last is None:
            raise ValueError("silver.watch_history is empty: nothing to evaluate")
        ds = last
    watch = features.events_as_of(silver.watch, ds)  # nothing after the evaluated date
    train, test = evaluation.split_holdout(watch, method=holdout, fraction=fraction, seed=seed)
    follows = silver.follows
    if holdout == "time":
        cut = evaluation.user_cutoffs(test)
        follows = (
            follows.join(cut.withColumnRenamed("user_id", "follower_id"), "follower_id", "left")
            .where(F.col("cutoff").isNull() | (F.col("followed_at") < F.col("cutoff")))
            .drop("cutoff")
        )
    variants = {ENGINE: p.ranker}
    if p.ranker != "design":
        variants[DESIGN] = "design"  # the design's formula on the same candidates
    out = build_all(Silver(train, silver.users, silver.videos, follows), ds, p, variants)
    prep = out["_prepared"]
    all_feeds = out["feeds"].select("model", "user_id", "video_id", "rank").cache()
    n_feed_users = all_feeds.where(F.col("model") == ENGINE).select("user_id").distinct().count()
    timings["engine_s"] = round(time.monotonic() - t0, 1)

    t1 = time.monotonic()
    truth = evaluation.positives(test, min_completion).cache()
    train_pos = evaluation.positives(train, min_completion).cache()
    ready = out["video_features"].where(F.col("status") == "ready").select("video_id").cache()
    users = prep.users.select("user_id")
    n_users = users.count()
    models: dict[str, DataFrame] = {
        **{name: all_feeds.where(F.col("model") == name).drop("model") for name in variants},
        "most_popular": evaluation.most_popular(train_pos, users, prep.watched, ready, k).cache(),
        "item_cooccurrence": evaluation.item_cooccurrence(
            recent_positives(prep, p), out["video_neighbours"], prep.watched, k
        ).cache(),
    }
    rows: list[tuple[str, str, int, float]] = []
    recs = None
    for name, df in models.items():
        part = df.where(F.col("rank") <= k).select(F.lit(name).alias("model"), "user_id", "video_id", "rank")
        recs = part if recs is None else recs.unionByName(part)
    recs = recs.cache()
    vals: dict[str, dict[str, Any]] = {name: {} for name in models}
    frames = [
        evaluation.ranking_metrics(recs, truth, k),
        evaluation.coverage_novelty(recs, ready, train_pos, n_users, k),
    ]
    if ground_truth and Path(ground_truth, "users.parquet").exists():
        gt_users = spark.read.parquet(str(Path(ground_truth, "users.parquet")))
        gt_videos = spark.read.parquet(str(Path(ground_truth, "videos.parquet")))
        frames.append(evaluation.ground_truth_scores(recs, gt_users, gt_videos, k))
    for frame in frames:
        for r in frame.collect():
            d = r.asDict()
            vals[d.pop("model")].update(d)
    # the same metrics by how much history a user had: cold start, blend, personalised
    n_eng = prep.events.groupBy("user_id").agg(F.count(F.lit(1)).alias("n"))
    bucket = (
        users.join(n_eng, "user_id", "left")
        .fillna(0, subset=["n"])
        .select(
            "user_id",
            F.when(F.col("n") < p.cold_start_min, "cold")
            .when(F.col("n") < p.cold_start_full, "blend")
            .otherwise("warm")
            .alias("bucket"),
        )
        .cache()
    )
    order = {"cold": 0, "blend": 1, "warm": 2}
    per = evaluation.ranking_metrics(
        recs, truth, k, segments=bucket.withColumnRenamed("bucket", "segment")
    ).collect()  # one pass for the three buckets
    for r in sorted(per, key=lambda r: order[r["segment"]]):
        b = r["segment"]
        vals[r["model"]].update({f"users_{b}": r["users"], f"ndcg_{b}": r["ndcg"]})
    for name in models:
        rows += evaluation.metric_rows(name, k, vals[name])
    timings["metrics_s"] = round(time.monotonic() - t1, 1)

    t2 = time.monotonic()
    rows += bandit_report(silver.watch, p, rounds=bandit_rounds)
    timings["bandit_s"] = round(time.monotonic() - t2, 1)
    timings["total_s"] = round(time.monotonic() - t0, 1)
    counts = {
        "users": n_users,
        "users_with_feed": n_feed_users,
        "train_impressions": prep.events.count(),
        "test_impressions": test.count(),
        "test_users_with_relevant": truth.select("user_id").distinct().count(),
    }
    return {"ds": ds, "rows": rows, "timings": timings, "counts": counts}


def bandit_report(watch: DataFrame, p: RecParams, *, rounds: int, min_impressions: int = 50) -> list:
    """Replay the exploration policy (and the fixed-threshold baseline) on the observed
    completion rates of videos with enough impressions: how fast good new videos are found."""
    rates = (
        watch.groupBy("video_id")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.avg(F.least(F.lit(1.0), F.greatest(F.lit(0.0), F.coalesce("completion_rate", F.lit(0.0))))).alias("rate"),
        )
        .where(F.col("n") >= min_impressions)
        .select("rate")
        .toPandas()
    )
    true = rates["rate"].to_numpy(np.float64)
    if len(true) == 0:
        return []
    reference = float(np.mean(true))
    rows = []
    for policy in ("thompson", "threshold"):
        res = bandit.simulate_discovery(
            true,
            reference,
            rounds=rounds,
            min_impressions=p.explore_min_impressions,
            max_impressions=p.explore_max_impressions,
            prior_alpha=p.bandit_prior_alpha,
            prior_beta=p.bandit_prior_beta,
            fade_probability=p.bandit_fade_probability,
            seed=p.seed,
            policy=policy,
        )
        rows += evaluation.metric_rows(f"bandit_{policy}", rounds, res)
    return rows
