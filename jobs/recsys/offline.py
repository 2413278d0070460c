"""``fyp evaluate``'s orchestration: split, run the engine on the training part, score it and
the baselines (``jobs.recsys.baselines``) on the held-out part, measure the engine's candidate
recall, replay the exploration bandit.

Every model is scored on the same users: those with at least one relevant held-out video. The
engine's feeds and the baselines' lists are restricted to them before any metric, so coverage
and novelty compare like with like."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.recsys import bandit, baselines, cowatch, evaluation, features, learned
from jobs.recsys.params import SOURCES, RecParams
from jobs.recsys.pipeline import Silver, build_all, recent_positives, stage_candidates

logger = logging.getLogger(__name__)

ENGINE = "fyp"
DESIGN = "fyp_design"
#: Model name of the candidate-recall rows (metrics ``recall_<source>``, ``marginal_<source>``).
CANDIDATES = "candidates"
#: Prefix of the paired-difference rows: model ``fyp_minus_<baseline>``, metrics users,
#: ndcg_diff and ndcg_diff_se (not "ndcg": a difference may be negative).
PAIRED = f"{ENGINE}_minus_"
#: A source whose marginal candidate recall is below this (or within two standard errors of 0)
#: "adds nothing measurable".
NOTHING_MEASURABLE = 0.001


def _pin(df: DataFrame) -> DataFrame:
    """Materialise ``df`` now and cut its lineage (``localCheckpoint``): the evaluation stacks
    many models on one in-memory engine run, and without this every later plan carries the
    whole engine's (planning time, and plan strings of gigabytes)."""
    return df.localCheckpoint(eager=True)


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
    bandit_rounds: int | None = 7,
    ease_max_items: int = baselines.EASE_MAX_ITEMS,
) -> dict[str, Any]:
    """Returns {"ds", "rows": [(model, metric, k, value)], "timings", "counts", "notes"}.

    Models: the engine (``fyp``), the design's formula on the same candidates (``fyp_design``),
    most_popular, item_cooccurrence (item-kNN), als and ease (when the catalogue is small
    enough); each has precision/recall/ndcg/map at k with ``<metric>_se``, coverage, novelty and
    nDCG per cold/blend/warm bucket. ``fyp_minus_<model>`` rows hold the paired nDCG difference,
    ``candidates`` rows the candidate recall per source. ``bandit_rounds`` None skips the
    exploration replay (it does not depend on the hold-out)."""
    timings: dict[str, float] = {}
    notes: dict[str, Any] = {}
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
    train_silver = Silver(train, silver.users, silver.videos, follows)
    # the hybrid blend is validated on a held-out slice of the kind this hold-out scores
    p = p.replace(blend_holdout=holdout)
    model, ranker = None, p.ranker
    if p.ranker == "learned":  # trained on the training split only, as the nightly would
        tm = time.monotonic()
        # labels of the kind this hold-out scores: the future for time, a random slice for
        # random (the EASE baseline's lambda is validated the same way)
        model = learned.train_ranker(train_silver, ds, p, labels_from=holdout, fraction=fraction)
        ranker = "learned" if model is not None else p.ranker_fallback
        timings["train_ranker_s"] = round(time.monotonic() - tm, 1)
    notes["ranker"] = ranker
    variants = {ENGINE: ranker}
    if ranker != "design":
        variants[DESIGN] = "design"  # the design's formula on the same candidates
    out = build_all(train_silver, ds, p, variants, model)
    prep = out["_prepared"]
    if out.get("_blend"):
        notes["blend"] = out["_blend"]
    truth = _pin(evaluation.positives(test, min_completion))
    eval_users = _pin(truth.select("user_id").distinct())
    n_eval = eval_users.count()
    feeds = _pin(
        out["feeds"]
        .select("model", "user_id", "video_id", "rank")
        .where(F.col("rank") <= k)
        .join(eval_users, "user_id", "left_semi")
    )
    timings["engine_s"] = round(time.monotonic() - t0, 1)

    # --- baselines, all on the training split ------------------------------------------------
    t1 = time.monotonic()
    pairs = _pin(baselines.positive_pairs(train, min_completion))
    train_pos = pairs.select("user_id", "video_id")
    ready = _pin(out["video_features"].where(F.col("status") == "ready").select("video_id"))
    watched = _pin(prep.watched.join(eval_users, "user_id", "left_semi"))
    popular = _pin(baselines.most_popular(train_pos, eval_users, watched, ready, k))
    recent = recent_positives(prep, p).join(eval_users, "user_id", "left_semi")
    part = lambda name, df: df.select(  # noqa: E731
        F.lit(name).alias("model"), "user_id", "video_id", F.col("rank").cast("int").alias("rank")
    )
    recs = feeds.unionByName(part("most_popular", popular))
    fits = {
        # item-kNN on cosine co-engagement, whatever item model the engine ran
        "item_cooccurrence": lambda: baselines.Baseline(
            baselines.item_cooccurrence(
                recent,
                cowatch.item_neighbours(recent_positives(prep, p), ready, p.cowatch_neighbours),
                watched,
                k,
            )
        ),
        "als": lambda: baselines.als(
            pairs,
            eval_users,
            watched,
            ready,
            k,
            rank=p.als_rank,
            max_iter=p.als_max_iter,
            reg=p.als_reg,
            alpha=p.als_alpha,
            seed=p.seed,
        ),
        "ease": lambda: baselines.ease(
            pairs,
            eval_users,
            watched,
            ready,
            k,
            validation=holdout,
            fraction=fraction,
            seed=seed,
            max_items=ease_max_items,
        ),
    }
    personal: dict[str, baselines.Baseline] = {}
    for name, fit in fits.items():
        tb = time.monotonic()
        base = personal[name] = fit()
        if base.info:
            notes[name] = base.info
        if base.recs is None:
            logger.warning("baseline %s skipped: %s", name, base.info.get("skipped"))
        else:
            recs = recs.unionByName(part(name, _pin(baselines.backfill(base.recs, popular, k))))
        timings[f"{name}_s"] = round(time.monotonic() - tb, 1)
    recs = _pin(recs)
    timings["baselines_s"] = round(time.monotonic() - t1, 1)

    # --- metrics ---------------------------------------------------------------------------
    t2 = time.monotonic()
    per_user = _pin(evaluation.per_user_metrics(recs, truth, k))
    models = [r["model"] for r in recs.select("model").distinct().collect()]
    vals: dict[str, dict[str, Any]] = {name: {} for name in models}
    frames = [
        evaluation.summarise(per_user, ["model"]),
        evaluation.coverage_novelty(recs, ready, train_pos, prep.users.count(), k),
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
    bucket = _pin(
        eval_users.join(n_eng, "user_id", "left")
        .fillna(0, subset=["n"])
        .select(
            "user_id",
            F.when(F.col("n") < p.cold_start_min, "cold")
            .when(F.col("n") < p.cold_start_full, "blend")
            .otherwise("warm")
            .alias("segment"),
        )
    )
    order = {"cold": 0, "blend": 1, "warm": 2}
    per = evaluation.ranking_metrics(recs, truth, k, segments=bucket).collect()
    for r in sorted(per, key=lambda r: order[r["segment"]]):
        b = r["segment"]
        vals[r["model"]].update(
            {f"users_{b}": r["users"], f"ndcg_{b}": r["ndcg"], f"ndcg_{b}_se": r["ndcg_se"]}
        )
    rows: list[tuple[str, str, int, float]] = []
    for name in sorted(models, key=_model_order):
        rows += evaluation.metric_rows(name, k, vals[name])
    # the engine minus each other model, per user over the same users
    paired = {
        r["model"]: r.asDict() for r in evaluation.paired_differences(per_user, ENGINE).collect()
    }
    others = [m for m in models if m != ENGINE and vals[m].get("ndcg") is not None]
    best = max(others, key=lambda m: (vals[m]["ndcg"], m), default=None)
    notes["best_baseline"] = best
    for name in sorted(paired, key=_model_order):
        d = paired[name]
        rows += evaluation.metric_rows(
            f"{PAIRED}{name}",
            k,
            {"users": d["users"], "ndcg_diff": d["ndcg"], "ndcg_diff_se": d["ndcg_se"]},
        )
    for name, base in personal.items():
        if base.recs is None and "limit" in base.info:
            rows += evaluation.metric_rows(
                name, k, {f"skipped_{base.info['limit']}": base.info[base.info["limit"]]}
            )
        if "lambda" in base.info:
            rows += evaluation.metric_rows(name, k, {"lambda": base.info["lambda"]})
        if "rank" in base.info:
            rows += evaluation.metric_rows(name, k, {"factors": base.info["rank"]})
    cold_prior = (notes.get("blend") or {}).get("cold_prior")
    if cold_prior is not None:  # the demographic pools' prior strength the engine ran with
        rows += evaluation.metric_rows(ENGINE, k, {"cold_prior_strength": cold_prior})
    blend_w = (notes.get("blend") or {}).get("blend_weights")
    if blend_w:  # the hybrid blend the engine ran with (validated or configured)
        rows += evaluation.metric_rows(
            ENGINE,
            k,
            {
                "blend_w_popularity": blend_w["w_popularity"],
                "blend_w_cowatch": blend_w["w_cowatch"],
            },
        )
    timings["metrics_s"] = round(time.monotonic() - t2, 1)

    # --- candidate recall: before ranking, what could the ranker have found ----------------
    t3 = time.monotonic()
    rec_rows, flagged = candidate_recall_rows(out, prep, p, truth, eval_users)
    rows += rec_rows
    notes["nothing_measurable"] = flagged
    timings["candidate_recall_s"] = round(time.monotonic() - t3, 1)

    if bandit_rounds:
        t4 = time.monotonic()
        rows += bandit_report(silver.watch, p, rounds=bandit_rounds)
        timings["bandit_s"] = round(time.monotonic() - t4, 1)
    timings["total_s"] = round(time.monotonic() - t0, 1)
    counts = {
        "users": prep.users.count(),
        "train_impressions": prep.events.count(),
        "test_impressions": test.count(),
        "test_users_with_relevant": n_eval,
    }
    for df in [*out.values(), prep.events, prep.users, prep.videos, prep.watched, prep.recent]:
        if isinstance(df, DataFrame):
            df.unpersist()  # the next hold-out builds its own
    return {"ds": ds, "rows": rows, "timings": timings, "counts": counts, "notes": notes}


def _model_order(name: str) -> tuple[int, str]:
    order = [ENGINE, DESIGN, "most_popular", "item_cooccurrence", "als", "ease"]
    return (order.index(name), name) if name in order else (len(order), name)


def candidate_recall_rows(
    out: dict[str, Any], prep: Any, p: RecParams, truth: DataFrame, eval_users: DataFrame
) -> tuple[list[tuple[str, str, int, float]], list[str]]:
    """Candidate recall of the engine (model ``candidates``, k = 0: no cut-off): metrics
    ``recall_<source>``/``marginal_<source>`` (+ ``_se``), ``recall_all`` and
    ``adds_nothing_<source>`` (1.0 where the marginal recall is ~0). The fused nightly
    path never materialises candidates, so they are generated again here
    (``pipeline.stage_candidates``, the gold.candidates stage) for the evaluated users only.
    Returns (rows, sources whose marginal recall is ~0: "adds nothing measurable")."""
    only = dataclasses.replace(prep, users=prep.users.join(eval_users, "user_id", "left_semi"))
    cands = stage_candidates(only, p, out)
    values: dict[str, float] = {}
    flagged = []
    order = {s: i for i, s in enumerate(SOURCES)}
    got = evaluation.candidate_recall(cands, truth, tuple(SOURCES)).collect()
    for r in sorted(got, key=lambda r: order.get(r["source"], -1)):  # "all" first
        s = r["source"]
        values[f"recall_{s}"] = r["recall"]
        values[f"recall_{s}_se"] = r["recall_se"]
        if s == "all":
            values["users"] = r["users"]
            continue
        values[f"marginal_{s}"] = r["marginal"]
        values[f"marginal_{s}_se"] = r["marginal_se"]
        nothing = evaluation.adds_nothing_measurable(r["marginal"], r["marginal_se"])
        values[f"adds_nothing_{s}"] = 1.0 if nothing else 0.0
        if nothing:
            flagged.append(s)
    return evaluation.metric_rows(CANDIDATES, 0, values), flagged


def bandit_report(
    watch: DataFrame, p: RecParams, *, rounds: int, min_impressions: int = 50
) -> list:
    """Replay the exploration policy (and the fixed-threshold baseline) on the observed
    completion rates of videos with enough impressions: how fast good new videos are found."""
    rates = (
        watch.groupBy("video_id")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.avg(
                F.least(
                    F.lit(1.0), F.greatest(F.lit(0.0), F.coalesce("completion_rate", F.lit(0.0)))
                )
            ).alias("rate"),
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
