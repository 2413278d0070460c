"""The hybrid ranker's blend weights, chosen per run by validation on a held-out slice.

The hybrid score multiplies the design's product by ``(1 + popularity) ** w_pop`` and
``(1 + scale x co-engagement) ** w_cw``. Which blend suits a deployment depends on what it is
asked to predict: the next videos a user engages with (the nightly, the time hold-out) favour
popularity and recency; the gaps of a random slice (``fyp evaluate --holdout random``) favour
item co-occurrence (EASE's own ordering). So, like the popularity half-life and EASE's
lambda, the two exponents are chosen each run (``rec_weight_popularity`` /
``rec_weight_cowatch`` unset; a value set in the environment or the config file is kept):

1. a seeded sample of at most ``rec_blend_users`` users the personalised ranking serves
   (at least ``cold_start_min`` impressions) has a slice of its impressions held out, of the
   same kind as the deployment's target (``rec_blend_holdout``: each user's latest
   ``BLEND_FRACTION`` by time -- the nightly's future --, or a seeded random ``BLEND_FRACTION``
   -- the random hold-out's gaps). The held-out positives a user had not otherwise seen are
   the labels;
2. what the held-out slice would leak is rebuilt without it: the users' histories, vectors,
   affinities and watched sets, the videos' popularity (its held-out decayed views taken out)
   and, with the EASE item model, the item-item neighbours (EASE refit on the remaining
   positives of every user). ALS video vectors and quality rates keep the slice (one user's
   share of them is small);
3. candidates are generated for the sample exactly as the nightly generates them, and each
   weight pair of the grid (``BLEND_GRID``: popularity 0 .. 10 x co-engagement 1 .. 40, from
   co-engagement dominant with popularity off -- close to EASE's ordering -- to popularity
   dominant, close to most-popular's) orders them through the rank kernel's own
   ``rank_block`` (diversity included); the nDCG@10 of each user's list is computed on the
   executors and only (user, grid cell, nDCG) rows reach the driver;
4. the pair with the best mean nDCG@10 wins (ties: the earlier pair, the prior first).

Too few validation users (``BLEND_MIN_USERS``) keeps the prior (``PRIOR``, the former fixed
defaults). The choice and every pair's score are reported (``blend_report``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.recsys import candidates, catalogue, cowatch, ease, embeddings, features, ranking
from jobs.recsys.common import half_life_decay
from jobs.recsys.params import HYBRID, RecParams

logger = logging.getLogger(__name__)

#: (w_popularity, w_cowatch) when validation cannot run: the former fixed defaults.
PRIOR = (3.0, 3.0)
POPULARITY_GRID = (0.0, 0.5, 1.0, 2.0, 3.0, 6.0, 10.0)
COWATCH_GRID = (1.0, 3.0, 6.0, 10.0, 20.0, 40.0)
#: Every (w_popularity, w_cowatch) validated, the prior first (it wins ties).
BLEND_GRID = (PRIOR, *[(a, b) for a in POPULARITY_GRID for b in COWATCH_GRID if (a, b) != PRIOR])
#: Share of each sampled user's impressions held out.
BLEND_FRACTION = 0.2
#: Fewer validation users with a held-out positive than this keeps the prior.
BLEND_MIN_USERS = 30
NDCG_K = 10

_OUT = T.StructType(
    [
        T.StructField("user_id", T.LongType()),
        T.StructField("cell", T.IntegerType()),
        T.StructField("ndcg", T.DoubleType()),
    ]
)


def needs_validation(p: RecParams) -> bool:
    return p.w_popularity is None or p.w_cowatch is None


def grid_for(p: RecParams) -> list[tuple[float, float]]:
    """The grid with an explicitly set weight pinned to its value (deduplicated, in order)."""
    out: list[tuple[float, float]] = []
    for a, b in BLEND_GRID:
        cell = (
            p.w_popularity if p.w_popularity is not None else a,
            p.w_cowatch if p.w_cowatch is not None else b,
        )
        if cell not in out:
            out.append(cell)
    return out


def with_prior(p: RecParams) -> RecParams:
    """``p`` with any unset blend weight at the prior."""
    return p.replace(
        w_popularity=PRIOR[0] if p.w_popularity is None else p.w_popularity,
        w_cowatch=PRIOR[1] if p.w_cowatch is None else p.w_cowatch,
    )


def resolve(
    prep: Any,
    p: RecParams,
    *,
    video_features: DataFrame,
    video_emb: DataFrame,
    neighbours: DataFrame | None,
    lists: dict[str, DataFrame] | None = None,
    popularity_half_life_days: float | None = None,
    report: dict[str, Any] | None = None,
) -> RecParams:
    """``p`` with the hybrid blend weights set: the configured ones, or for each unset one the
    validated choice (``choose``). ``report`` (if given) gets ``blend_*`` entries."""
    if not needs_validation(p):
        if report is not None:
            report["blend_source"] = "configured"
            report["blend_weights"] = {"w_popularity": p.w_popularity, "w_cowatch": p.w_cowatch}
        return p
    res = choose(
        prep,
        p,
        video_features=video_features,
        video_emb=video_emb,
        neighbours=neighbours,
        lists=lists,
        popularity_half_life_days=popularity_half_life_days,
    )
    if report is not None:
        report.update(res)
    w = res["blend_weights"]
    return p.replace(w_popularity=w["w_popularity"], w_cowatch=w["w_cowatch"])


def _held_flags(events: DataFrame, kind: str, seed: int) -> DataFrame:
    """``events`` with ``_held``: each user's latest ``BLEND_FRACTION`` (time; users with two or
    more impressions) or a seeded random ``BLEND_FRACTION`` (random) of impressions."""
    if kind == "time":
        by_user = Window.partitionBy("user_id")
        latest = by_user.orderBy(F.col("event_time").desc(), F.col("video_id"))
        n = F.count(F.lit(1)).over(by_user)
        held_n = F.when(n >= 2, F.greatest(F.lit(1), F.floor(n * F.lit(BLEND_FRACTION)))).otherwise(
            0
        )
        return events.withColumn("_held", F.row_number().over(latest) <= held_n)
    if kind == "random":
        u = F.xxhash64(
            F.lit(int(seed)), "user_id", "video_id", F.col("event_time").cast("long")
        ).bitwiseAND(F.lit((1 << 52) - 1)) / F.lit(float(1 << 52))
        return events.withColumn("_held", u < F.lit(BLEND_FRACTION))
    raise ValueError(f"rec_blend_holdout must be 'time' or 'random', got {kind!r}")


def _sample_users(prep: Any, p: RecParams) -> DataFrame:
    n_eng = prep.events.groupBy("user_id").agg(F.count(F.lit(1)).alias("n"))
    users = (
        n_eng.where(F.col("n") >= F.lit(max(2, p.cold_start_min)))
        .join(prep.users.select("user_id"), "user_id", "left_semi")
        .select("user_id")
    )
    n = users.count()
    if n > p.blend_users:
        bucket = (
            F.abs(F.xxhash64(F.col("user_id"), F.lit(p.seed + 29))) % F.lit(1_000_003)
        ) / F.lit(1_000_003.0)
        users = users.where(bucket < F.lit(p.blend_users / n))
    return users


def choose(
    prep: Any,
    p: RecParams,
    *,
    video_features: DataFrame,
    video_emb: DataFrame,
    neighbours: DataFrame | None,
    lists: dict[str, DataFrame] | None = None,
    popularity_half_life_days: float | None = None,
) -> dict[str, Any]:
    """Validate ``grid_for(p)`` (see the module docstring). Returns the ``blend_*`` report:
    blend_weights (chosen), blend_source (validated / prior), blend_holdout, blend_users,
    blend_ndcg ({"pop/cw": nDCG@10}), blend_ndcg_prior, blend_ndcg_best and its paired SE."""
    from jobs.recsys import pipeline  # (pipeline imports this module)

    t0 = time.monotonic()
    kind = p.blend_holdout
    grid = grid_for(p)
    out: dict[str, Any] = {"blend_holdout": kind, "blend_users": 0}
    prior = with_prior(p)
    fallback = {"w_popularity": prior.w_popularity, "w_cowatch": prior.w_cowatch}
    cached: list[DataFrame] = []
    try:
        sample = _sample_users(prep, p).cache()
        cached.append(sample)
        tagged = _held_flags(
            prep.events.join(sample, "user_id", "left_semi"), kind, p.seed + 31
        ).cache()
        cached.append(tagged)
        fit = tagged.where(~F.col("_held")).drop("_held")
        held_rows = tagged.where(F.col("_held"))
        held_pos = (
            held_rows.where(cowatch.is_positive(p.cowatch_min_completion, "completion"))
            .select("user_id", "video_id")
            .distinct()
            .join(fit.select("user_id", "video_id"), ["user_id", "video_id"], "left_anti")
        )
        labels = held_pos.groupBy("user_id").agg(F.collect_set("video_id").alias("held")).cache()
        cached.append(labels)
        n_users = labels.count()
        out["blend_users"] = n_users
        if n_users < BLEND_MIN_USERS:
            out.update(blend_weights=fallback, blend_source="prior")
            out["blend_note"] = f"{n_users} validation users < {BLEND_MIN_USERS}"
            return out
        fit = fit.join(labels.select("user_id"), "user_id", "left_semi").cache()
        cached.append(fit)

        # the videos' popularity without the held-out views
        hl = popularity_half_life_days
        if hl is None:
            hl = pipeline.popularity_half_life(prep, p)
        viewed = ~F.coalesce(F.col("skipped"), F.lit(False))
        held_views = held_rows.groupBy("video_id").agg(
            F.sum(
                F.when(viewed, half_life_decay(F.col("evidence_age_days"), hl)).otherwise(0.0)
            ).alias("_hv")
        )
        vf = (
            video_features.join(held_views, "video_id", "left")
            .withColumn(
                "popularity",
                F.log1p(
                    F.greatest(F.lit(0.0), F.expm1("popularity") - F.coalesce("_hv", F.lit(0.0)))
                ),
            )
            .drop("_hv")
        )
        # the item-item neighbours without the held-out positives (EASE: refit, cheap)
        nb = neighbours
        if p.item_model != "cosine":
            held_keys = held_rows.select("user_id", "video_id", "event_time")
            rest = prep.events.join(held_keys, ["user_id", "video_id", "event_time"], "left_anti")
            recent_all = cowatch.recent_positives(
                rest, p.cowatch_min_completion, p.cowatch_history, completion="completion"
            )
            ready = features.ready_videos(prep.videos).select("video_id")
            max_items = p.ease_max_items if p.item_model == "auto" else 10**9
            refit, _ = ease.ease_neighbours(
                recent_all, ready, p.cowatch_neighbours, max_items=max_items, seed=p.seed
            )
            if refit is not None:
                nb = refit
        cat = catalogue.build_catalog(vf, video_emb, None, None, p.embedding_dim, nb)
        if lists is None:
            tags, sounds, creators = features.key_top_lists(
                video_features, prep.videos, p.list_size
            )
            lists = {
                "hashtag_top": tags,
                "sound_top": sounds,
                "creator_top": creators,
                "trending": features.trending(video_features, p.list_size),
            }
        src_lists = catalogue.build_lists(
            cat, lists["hashtag_top"], lists["sound_top"], lists["creator_top"], lists["trending"]
        )
        # the users' side from the remaining history only
        spark = fit.sparkSession
        user_emb = embeddings.user_embeddings(fit, video_emb, p.embedding_dim)
        aff = features.user_affinities(fit, prep.videos, p.affinity_top_k)
        recent = cowatch.recent_positives(
            fit, p.cowatch_min_completion, p.cowatch_history, completion="completion"
        )
        no_assign = spark.createDataFrame([], "user_id bigint, video_id bigint, score double")
        rows = candidates.candidate_inputs(
            prep.users.join(labels.select("user_id"), "user_id", "left_semi"),
            fit,
            user_emb,
            prep.follows,
            aff,
            no_assign,
            cowatch.user_history(recent),
            fatigue_since_epoch=_fatigue_since(prep, p),
        ).join(labels, "user_id")
        scored = _score_grid(rows, cat, src_lists, p, grid).toPandas()
    finally:
        for df in cached:
            df.unpersist()
    if len(scored) == 0:
        out.update(blend_weights=fallback, blend_source="prior", blend_note="no candidates")
        return out
    table = scored.pivot_table(index="user_id", columns="cell", values="ndcg").fillna(0.0)
    means = {c: float(table[c].mean()) for c in table.columns}
    best = max(means, key=lambda c: (means[c], -c))
    diff = table[best] - table[0]
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0
    name = lambda c: f"{grid[c][0]:g}/{grid[c][1]:g}"  # noqa: E731
    out.update(
        blend_weights={"w_popularity": grid[best][0], "w_cowatch": grid[best][1]},
        blend_source="validated",
        blend_users=len(table),
        blend_ndcg={name(c): round(v, 5) for c, v in sorted(means.items())},
        blend_ndcg_prior=round(means.get(0, 0.0), 5),
        blend_ndcg_best=round(means[best], 5),
        blend_gain_over_prior=round(float(diff.mean()), 5),
        blend_gain_over_prior_se=round(se, 5),
        blend_seconds=round(time.monotonic() - t0, 1),
    )
    logger.info(
        "hybrid blend (%s hold-out, %d users): w_popularity %g, w_cowatch %g (nDCG@%d %.4f; "
        "prior %.4f; by pop/cw: %s)",
        kind,
        len(table),
        grid[best][0],
        grid[best][1],
        NDCG_K,
        means[best],
        means.get(0, 0.0),
        out["blend_ndcg"],
    )
    return out


def _fatigue_since(prep: Any, p: RecParams) -> float:
    from jobs.recsys.common import as_of_epoch

    return as_of_epoch(prep.ds) - p.fatigue_window_days * 86_400.0


def _score_grid(
    rows: DataFrame,
    cat: catalogue.Catalog,
    lists: catalogue.SourceLists,
    p: RecParams,
    grid: list[tuple[float, float]],
) -> DataFrame:
    """user_id, cell, ndcg: nDCG@10 of each grid cell's personalised list per user (rows:
    ``candidate_inputs`` with ``held``, the user's held-out positive video ids)."""
    ccfg = candidates.CandidateConfig.from_params(p)
    cfg = ranking.RankConfig.from_params(with_prior(p).replace(w_cowatch=1.0), ranker=HYBRID)
    dim = p.embedding_dim
    bc = rows.sparkSession.sparkContext.broadcast((cat, lists))

    def kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        c, lst = bc.value
        for batch in batches:
            if batch.num_rows:
                yield grid_batch(batch, c, lst, ccfg, cfg, dim, grid)

    return rows.mapInArrow(kernel, _OUT)


def grid_batch(
    batch: pa.RecordBatch,
    cat: catalogue.Catalog,
    lists: catalogue.SourceLists,
    ccfg: candidates.CandidateConfig,
    cfg: ranking.RankConfig,
    dim: int,
    grid: list[tuple[float, float]],
    block_users: int = 256,
) -> pa.RecordBatch:
    """The nDCG@10 of every grid cell for every user row of ``batch`` (see ``_score_grid``)."""
    uid, n_eng, _seg, uvec, fat_row, fat_c, fat_n, _w_off, _watched, hist = ranking._user_side(
        batch, cat, dim
    )
    n = len(uid)
    h_off, _, h_vals = catalogue.list_column(batch, "held")
    held_ids = np.asarray(h_vals.to_numpy(zero_copy_only=False), np.int64)
    n_rel = np.diff(h_off)
    held_idx = cat.index(held_ids)
    held_row = np.repeat(np.arange(n, dtype=np.int64), n_rel)
    known = held_idx >= 0
    held_key = np.sort(held_row[known] * (1 << 40) + held_idx[known])
    row, cidx, src, _cscore, _mask = candidates.generate_batch(batch, cat, lists, ccfg, dim)
    ok = (cidx >= 0) & (n_eng[row] >= cfg.cold_start_min)
    ctx = ranking.CandidateContext(n, row, cidx, fat_row, fat_c, fat_n, cat, cfg, hist, ok)
    disc = 1.0 / np.log2(np.arange(2, NDCG_K + 2))
    idcg = np.cumsum(disc)[np.clip(n_rel, 1, NDCG_K) - 1]
    base = np.asarray(cfg.weights, np.float64)
    ws = []
    for a, b in grid:
        w = base.copy()
        w[4], w[6] = a, b
        ws.append(w)
    out_u, out_c, out_v = [], [], []
    for lo in range(0, n, block_users):
        hi = min(n, lo + block_users)
        a, b = ctx.bounds[lo], ctx.bounds[hi]
        sl = np.arange(a, b)[ok[a:b]]
        if len(sl) == 0:
            continue
        cw = None if ctx.cand_cw is None else ctx.cand_cw[sl]
        x = ranking.feature_matrix(
            cat,
            cidx[sl],
            row[sl] - lo,
            uvec[lo:hi],
            src[sl],
            ctx.fatigue[sl],
            cw,
            cfg.cowatch_scale,
        )
        users = np.unique(row[sl])
        for g, w in enumerate(ws):
            order, _adj, pos = ranking.rank_block(
                cat,
                cidx[sl],
                row[sl] - lo,
                hi - lo,
                uvec[lo:hi],
                src[sl],
                ctx.fatigue[sl],
                cfg,
                keep=NDCG_K,
                cowatch=cw,
                log_score=x @ w,
            )
            r = row[sl][order]
            key = r.astype(np.int64) * (1 << 40) + cidx[sl][order]
            hit = np.isin(key, held_key)
            dcg = np.bincount(
                r - lo, weights=hit * disc[np.minimum(pos, NDCG_K - 1)], minlength=hi - lo
            )
            out_u.append(uid[users])
            out_c.append(np.full(len(users), g, np.int32))
            out_v.append(dcg[users - lo] / idcg[users])
    cc = lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt)  # noqa: E731
    return pa.RecordBatch.from_arrays(
        [
            pa.array(cc(out_u, np.int64), pa.int64()),
            pa.array(cc(out_c, np.int32), pa.int32()),
            pa.array(cc(out_v, np.float64), pa.float64()),
        ],
        schema=pa.schema([("user_id", pa.int64()), ("cell", pa.int32()), ("ndcg", pa.float64())]),
    )
