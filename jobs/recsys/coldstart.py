"""Cold start for new users: demographic popular pools and the diverse exploration list.

A segment is (age_band, country, language). Its popularity estimate is shrunk towards its
language's, which is shrunk towards the global one (hierarchical smoothing with ``prior`` pseudo
engagements), so a segment with five users still gets a sensible, language-aware list:

    p_global(v)  = x_global(v) / X_global
    p_lang(v)    = (x_lang(v) + prior * p_global(v)) / (X_lang + prior)
    p_segment(v) = (x_segment(v) + prior * p_lang(v)) / (X_segment + prior)

where x is the summed positive, decayed engagement weight of users in that group.

How much a segment leans on its own users (``prior``) depends on the deployment: on a log
where demographics say little about taste a segment's few users are noise, and the global most
popular serves a new user best; where they say much, the segment's own list does. So unless
``rec_cold_prior_strength`` is set, the prior is chosen per run (``choose_prior``): a seeded
sample of users has a slice of its impressions held out (the same kind as the blend's:
latest by time for the nightly, random under ``fyp evaluate --holdout random``), the pools are
rebuilt without it for each strength on ``PRIOR_GRID``, and each user is served their
segment's pool minus what they saw, as if their history were unknown; the best mean nDCG@10
on their held-out positives wins.
How the lists are mixed into a feed (70% popular, 30% diverse, blending towards personalised
between the two engagement thresholds) lives in ``ranking.cold_start_share``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.recsys.common import held_out_flags, top_per_key
from jobs.recsys.cowatch import is_positive
from jobs.sparkconf import session_conf

logger = logging.getLogger(__name__)

#: The prior's validation runs without adaptive query execution (``choose_prior``).
SMALL_PLAN_CONF = {"spark.sql.adaptive.enabled": "false"}

SEGMENT = ["age_band", "country", "language"]
#: The prior strengths (pseudo-engagements) the validation tries; 1e9 is, in effect, no
#: demographics (the global most popular). The first is kept on a tie.
PRIOR_GRID = (50.0, 0.0, 5.0, 500.0, 5000.0, 1e9)
#: The prior strength when validation cannot run (the former fixed default).
PRIOR_FALLBACK = 50.0
#: Share of each sampled user's impressions held out, and the fewest users with a held-out
#: positive that validate (fewer keep the fallback).
PRIOR_FRACTION = 0.2
PRIOR_MIN_USERS = 30
#: Pool entries scored per segment beyond the top 10, so that a user's seen videos can be
#: skipped.
PRIOR_SEEN_MARGIN = 100
NDCG_K = 10


def segments(users: DataFrame) -> DataFrame:
    """Distinct demographic segments of the users (null parts become 'unknown')."""
    return users.select(*_segment_cols()).distinct()


def _segment_cols() -> list[Column]:
    """The segment's columns, a missing part as 'unknown'."""
    return [F.coalesce(F.col(c), F.lit("unknown")).alias(c) for c in SEGMENT]


def demographic_pools(
    events: DataFrame, users: DataFrame, ready: DataFrame, n: int, prior: float
) -> DataFrame:
    """Top ``n`` ready videos per segment: age_band, country, language, rank, video_id, score.

    ``events`` carry ``weight`` (decayed engagement); ``ready`` has the ready videos' ``video_id``.
    """
    return _pools(events, users, ready, n, [prior]).drop("prior")


def _pools(
    events: DataFrame, users: DataFrame, ready: DataFrame, n: int, priors: list[float]
) -> DataFrame:
    """``demographic_pools`` for every prior strength in ``priors`` in one pass (a ``prior``
    column keys them)."""
    prior_df = F.broadcast(
        events.sparkSession.createDataFrame([(float(x),) for x in priors], "prior double")
    )
    seg_users = users.select("user_id", *_segment_cols())
    pos = (
        events.select("user_id", "video_id", F.greatest(F.col("weight"), F.lit(0.0)).alias("x"))
        .where(F.col("x") > 0)
        .join(ready.select("video_id"), "video_id", "left_semi")
        .join(seg_users, "user_id")
    )
    seg_x = pos.groupBy(*SEGMENT, "video_id").agg(F.sum("x").alias("x_s")).cache()
    glob = seg_x.groupBy("video_id").agg(F.sum("x_s").alias("x_g"))
    total_g = glob.agg(F.sum("x_g").alias("tot_g"))
    p_glob = glob.crossJoin(F.broadcast(total_g)).select(
        "video_id", (F.col("x_g") / F.col("tot_g")).alias("p_g")
    )
    lang_x = seg_x.groupBy("language", "video_id").agg(F.sum("x_s").alias("x_l"))
    lang_tot = lang_x.groupBy("language").agg(F.sum("x_l").alias("tot_l"))
    glob_top = top_per_key(p_glob.withColumn("_all", F.lit(1)), ["_all"], "p_g", n).select(
        "video_id"
    )
    segs = segments(users)
    langs = segs.select("language").distinct()
    # language candidates: what the language engaged with, plus the global top
    lang_cands = (
        lang_x.select("language", "video_id").unionByName(langs.crossJoin(glob_top)).distinct()
    )
    p_lang = (
        lang_cands.join(lang_x, ["language", "video_id"], "left")
        .join(lang_tot, "language", "left")
        .join(p_glob, "video_id", "left")
        .fillna(0.0, subset=["x_l", "tot_l", "p_g"])
        .crossJoin(prior_df)
        .withColumn("p_l", _shrunk("x_l", "tot_l", "p_g"))
        .select("prior", "language", "video_id", "p_l")
    )
    lang_top = top_per_key(p_lang, ["prior", "language"], "p_l", 2 * n).select(
        "prior", "language", "video_id"
    )
    seg_tot = seg_x.groupBy(*SEGMENT).agg(F.sum("x_s").alias("tot_s"))
    seg_cands = (
        seg_x.select(*SEGMENT, "video_id")
        .crossJoin(prior_df)
        .unionByName(segs.join(lang_top, "language"))
        .distinct()
    )
    scored = (
        seg_cands.join(seg_x, [*SEGMENT, "video_id"], "left")
        .join(seg_tot, SEGMENT, "left")
        .join(p_lang, ["prior", "language", "video_id"], "left")
        .fillna(0.0, subset=["x_s", "tot_s", "p_l"])
        .withColumn("score", _shrunk("x_s", "tot_s", "p_l"))
    )
    return top_per_key(scored, ["prior", *SEGMENT], "score", n).select(
        "prior", *SEGMENT, "rank", "video_id", "score"
    )


def _shrunk(x: str, total: str, parent: str) -> Column:
    """(x + prior * parent) / (total + prior); the parent's own where a group with no
    engagement meets a prior of 0."""
    den = F.col(total) + F.col("prior")
    return F.when(den > 0, (F.col(x) + F.col("prior") * F.col(parent)) / den).otherwise(
        F.col(parent)
    )


def choose_prior(
    events: DataFrame,
    users: DataFrame,
    ready: DataFrame,
    *,
    kind: str,
    seed: int,
    max_users: int,
    min_completion: float,
    priors: tuple[float, ...] = PRIOR_GRID,
    fallback: float = PRIOR_FALLBACK,
) -> dict[str, Any]:
    """The prior strength whose pools best predict what users go on to engage with, knowing
    only their segment (module docstring). Returns cold_prior (chosen), cold_prior_source
    (validated / prior), cold_prior_users and cold_prior_ndcg (per prior, nDCG@10).

    Runs without adaptive query execution (``SMALL_PLAN_CONF``): its plan is many small
    aggregations and joins, and AQE re-plans each as jobs of their own (100-140 jobs instead
    of ~20; 38 -> 24 s on a 1,000-user world, 27 -> 18 s on a 60-user log; same priors and
    nDCG values)."""
    with session_conf(events.sparkSession, SMALL_PLAN_CONF):
        out: dict[str, Any] = {"cold_prior": fallback, "cold_prior_source": "prior"}
        n_eng = events.groupBy("user_id").agg(F.count(F.lit(1)).alias("_n"))
        sample = (
            n_eng.where(F.col("_n") >= 2)
            .join(users.select("user_id"), "user_id", "left_semi")
            .orderBy(F.xxhash64(F.lit(int(seed)), "user_id"), "user_id")
            .limit(max_users)
            .select("user_id")
        )
        tagged = held_out_flags(
            events.join(sample, "user_id", "left_semi"), kind, seed, PRIOR_FRACTION
        ).cache()
        try:
            labels, seen = _labels_and_seen(tagged, ready, min_completion)
            n_users = len(labels)
            out["cold_prior_users"] = n_users
            if n_users < PRIOR_MIN_USERS:
                out["cold_prior_note"] = f"{n_users} validation users < {PRIOR_MIN_USERS}"
                return out
            fit = events.join(
                tagged.where(F.col("_held")).select("user_id", "video_id", "event_time"),
                ["user_id", "video_id", "event_time"],
                "left_anti",
            )
            pools = _pools(fit, users, ready, NDCG_K + PRIOR_SEEN_MARGIN, list(priors))
            means = _pool_ndcg(pools, users, labels, seen)
        finally:
            tagged.unpersist()
        best = max(priors, key=lambda x: (round(means.get(float(x), 0.0), 9), x == fallback))
        out.update(
            cold_prior=float(best),
            cold_prior_source="validated",
            cold_prior_ndcg={f"{x:g}": round(means.get(float(x), 0.0), 5) for x in priors},
        )
        logger.info(
            "cold-start prior (%s hold-out, %d users): %g; nDCG@%d by prior: %s",
            kind,
            n_users,
            best,
            NDCG_K,
            out["cold_prior_ndcg"],
        )
        return out


def _labels_and_seen(
    tagged: DataFrame, ready: DataFrame, min_completion: float
) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """From the sample's impressions (``held_out_flags``), collected once: per user, the
    held-out ready videos engaged with and not otherwise seen (the labels; users with none are
    left out), and every video seen outside the held-out slice."""
    tab = tagged.select(
        "user_id", "video_id", "_held", is_positive(min_completion, "completion").alias("_pos")
    ).toArrow()
    user = tab.column("user_id").to_numpy()
    video = tab.column("video_id").to_numpy()
    held = tab.column("_held").to_numpy(zero_copy_only=False)
    pos = tab.column("_pos").fill_null(False).to_numpy(zero_copy_only=False)
    ready_ids = set(ready.select("video_id").toArrow().column(0).to_pylist())
    seen: dict[int, set[int]] = {}
    for u, v in zip(user[~held].tolist(), video[~held].tolist(), strict=True):
        seen.setdefault(u, set()).add(v)
    labels: dict[int, set[int]] = {}
    for u, v in zip(user[held & pos].tolist(), video[held & pos].tolist(), strict=True):
        if v in ready_ids and v not in seen.get(u, ()):
            labels.setdefault(u, set()).add(v)
    return labels, seen


def _pool_ndcg(
    pools: DataFrame,
    users: DataFrame,
    labels: dict[int, set[int]],
    seen: dict[int, set[int]],
) -> dict[float, float]:
    """Mean nDCG@10 per prior of serving each labelled user their segment's pool minus what
    they saw (``evaluation.per_user_metrics``' binary nDCG; a user whose segment has no pool
    scores 0). The pools (priors x segments x ``NDCG_K + PRIOR_SEEN_MARGIN``) and the users'
    segments are collected once; the ranking and metric run here, on the driver: on Spark they
    were a dozen small jobs for a few thousand rows."""
    spark = users.sparkSession
    ids = pa.table({"user_id": pa.array(sorted(labels), pa.int64())})
    segs = (
        users.join(F.broadcast(spark.createDataFrame(ids)), "user_id", "left_semi")
        .select("user_id", *_segment_cols())
        .toArrow()
        .to_pylist()
    )
    segment_of = {r["user_id"]: tuple(r[c] for c in SEGMENT) for r in segs}
    rows = pools.select("prior", *SEGMENT, "rank", "video_id").toArrow().to_pylist()
    lists: dict[tuple, list[tuple[int, int]]] = {}
    for r in rows:
        lists.setdefault((r["prior"], *(r[c] for c in SEGMENT)), []).append(
            (r["rank"], r["video_id"])
        )
    pool_of = {key: [v for _, v in sorted(entries)] for key, entries in lists.items()}
    disc = 1.0 / np.log2(np.arange(2, NDCG_K + 2))
    means: dict[float, float] = {}
    for prior in {key[0] for key in pool_of}:
        total = 0.0
        for user, relevant in labels.items():
            pool = pool_of.get((prior, *segment_of.get(user, ())), [])
            skip = seen.get(user, set())
            top = [v for v in pool if v not in skip][:NDCG_K]
            dcg = sum(float(disc[i]) for i, v in enumerate(top) if v in relevant)
            total += dcg / float(disc[: min(len(relevant), NDCG_K)].sum())
        means[float(prior)] = total / len(labels)
    return means


def earlier_prior(runs: DataFrame, ds: dt.date, job: str = "features") -> dict[str, Any] | None:
    """The prior the latest earlier day's ``job`` run chose (``gold.runs``), for a run that
    reuses it instead of validating again: the hourly features job, 24 times a day, whose
    nightly has validated on the whole of the day before. None when that run chose none
    (no earlier run, a configured prior, or the fallback of a validation with too few users)."""
    rows = (
        runs.where((F.col("job") == job) & (F.col("ds") < F.lit(ds)))
        .orderBy(F.col("ds").desc())
        .limit(1)
        .collect()
    )
    if not rows:
        return None
    params = json.loads(rows[0]["params"] or "{}")
    if params.get("cold_prior_source") not in ("validated", "reused"):
        return None
    return {
        "cold_prior": float(params["cold_prior"]),
        "cold_prior_source": "reused",
        "cold_prior_from": f"{job} {rows[0]['ds']} ({rows[0]['run_id']})",
    }


def diverse_pool(features: DataFrame, videos: DataFrame, n: int) -> DataFrame:
    """The exploration list: round-robin over hashtags (most-used first), each round taking every
    hashtag's next-best ready video by base_score, each video once: rank, video_id, score.

    A new user's 30% exploration share is drawn from it (shuffled per user in ranking), so it
    spans as many topics as the catalogue has.
    """
    ready = features.where(F.col("status") == "ready").select("video_id", "base_score")
    tagged = ready.join(
        videos.select("video_id", F.explode("hashtags").alias("hashtag")), "video_id"
    )
    tag_order = (
        tagged.groupBy("hashtag")
        .agg(F.count(F.lit(1)).alias("_videos"))
        .withColumn(
            "_tag_rank",
            F.row_number().over(Window.orderBy(F.col("_videos").desc(), F.col("hashtag").asc())),
        )
    )
    per_tag = top_per_key(tagged, ["hashtag"], "base_score", n, rank="_round").join(
        tag_order, "hashtag"
    )
    first = top_per_key(
        per_tag.withColumn("_neg", -(F.col("_round") * F.lit(1_000_000) + F.col("_tag_rank"))),
        ["video_id"],
        "_neg",
        1,
        tie="hashtag",
        rank="_dup",
    )
    ordered = first.withColumn(
        "rank", F.row_number().over(Window.orderBy(F.col("_round"), F.col("_tag_rank")))
    ).where(F.col("rank") <= n)
    return ordered.select("rank", "video_id", F.col("base_score").alias("score"))
