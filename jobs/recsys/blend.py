"""The hybrid ranker's blend weights, chosen per run by validation on a held-out slice.

The hybrid score multiplies the design's product by ``(1 + popularity) ** w_pop`` and
``(1 + scale x co-engagement) ** w_cw``. Which blend suits a deployment depends on what it is
asked to predict: the next videos a user engages with (the nightly, the time hold-out) favour
popularity and recency; the gaps of a random slice (``fyp evaluate --holdout random``) favour
item co-occurrence (EASE's own ordering). The creator-fatigue factor
(``fatigue_decay ** recent impressions of the creator``) is the same kind of choice: on a
deployment whose users come back to the creators they like it only pushes down what they
want next (on a generated world's random hold-out the fixed 0.9 cost the engine's
co-engagement order 0.03 nDCG@10); and so is how much the design's own exponents weigh
inside the hybrid score (``w_design_scale``). So, like the popularity half-life and EASE's
lambda, these four (``BLEND_KEYS``) are chosen each run (``rec_weight_popularity`` /
``rec_weight_cowatch`` / ``rec_fatigue_decay`` / ``rec_weight_design_scale`` unset; a value set
in the environment or the config file is kept):

1. a seeded sample of at most ``rec_blend_users`` users the personalised ranking serves
   (at least ``cold_start_min`` impressions) has a slice of its impressions held out, of the
   same kind as the deployment's target (``rec_blend_holdout``: each user's latest
   ``BLEND_FRACTION`` by time -- the nightly's future --, or a seeded random ``BLEND_FRACTION``
   -- the random hold-out's gaps). The held-out positives a user had not otherwise seen are
   the labels;
2. what the held-out slice would leak is rebuilt without it: the users' histories, vectors,
   affinities and watched sets, the videos' features (quality rates, creator scores and
   popularity recomputed from every impression outside the slice, one Spark pass) and, with
   the EASE item model, the item-item neighbours (EASE refit on the remaining positives of
   every user), and the ALS video vectors (refit without the slice, one more ALS fit;
   ``rec_blend_refit_embeddings`` off keeps the served vectors, which carry the slice and
   flatter the similarity factor on a sparse log);
3. candidates are generated once for the sample exactly as the nightly generates them (the
   users' inputs collected in one Spark action; the catalogue's vectors and features collected
   once, its EASE neighbours patched on the driver: EASE refit at the lambda
   the run's own fit chose, ``ease.chosen_lambda``), and each weight pair orders them through
   the rank kernel's own ``rank_block`` (diversity included) on the driver;
4. coarse to fine (``_Grid.search``): the prior, a coarse grid (``COARSE_POPULARITY`` x
   ``COARSE_COWATCH``), then the best pair's neighbours on the fine ladders (``POPULARITY_GRID``
   x ``COWATCH_GRID``), a ladder extended past an end the best lies on (``BLEND_EXTEND`` rungs),
   until the best's neighbourhood is scored, at each rung of the fatigue ladder
   (``FATIGUE_GRID``, 1 = off) x the design-scale ladder (``DESIGN_SCALE_GRID``); the best mean
   nDCG@10 wins (ties: the earlier cell, the prior first).

Too few validation users (``BLEND_MIN_USERS``) keeps the prior (``PRIOR``, the former fixed
defaults). The choice and every pair's score are reported (``blend_report``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.recsys import candidates, catalogue, cowatch, ease, embeddings, features, ranking
from jobs.recsys.common import held_out_flags
from jobs.recsys.params import HYBRID, RecParams

logger = logging.getLogger(__name__)

#: (w_popularity, w_cowatch) when validation cannot run: the former fixed defaults.
PRIOR = (3.0, 3.0)
#: The creator-fatigue factor per recent impression when validation cannot run (the former
#: fixed default), and the ladder validation tries it on (1 = off). Each rung gets the whole
#: pair search: scoring is cheap next to building the candidates.
FATIGUE_PRIOR = 0.9
FATIGUE_GRID = (0.9, 1.0, 0.95, 0.8, 0.6)
#: The scale of the design's exponents (similarity, quality, creator, freshness) inside the
#: hybrid score when validation cannot run, and its ladder (0 = co-engagement and popularity
#: alone order the personalised list).
DESIGN_SCALE_PRIOR = 1.0
DESIGN_SCALE_GRID = (1.0, 0.5, 0.25, 0.0)
#: Creator diversity when validation cannot run (the former fixed defaults): at most
#: ``max_per_creator`` videos of a creator in the top window, the j-th one's score times
#: ``decay ** j``. Its ladders: a cap of ``None`` is the window itself (no cap). Diversity is
#: a product choice as much as an accuracy one, so validation keeps the most diverse rung
#: (smallest cap, then strongest decay) whose nDCG is within ``DIVERSITY_SE`` paired
#: standard errors of the best rung's.
DIVERSITY_PRIOR = (2, 0.8)
CAP_GRID = (2, 3, 5, None)
DIVERSITY_DECAY_GRID = (0.8, 0.9, 1.0)
DIVERSITY_SE = 1.0
#: The ladders the search walks (fine), and the coarse grid it starts from.
POPULARITY_GRID = (0.0, 0.5, 1.0, 2.0, 3.0, 6.0, 10.0)
COWATCH_GRID = (1.0, 3.0, 6.0, 10.0, 20.0, 40.0)
COARSE_POPULARITY = (0.0, 1.0, 3.0, 10.0)
COARSE_COWATCH = (1.0, 3.0, 10.0, 40.0)
#: Rungs past a ladder's end, added one at a time while the best pair lies on that end
#: (``BLEND_EXTEND`` each at most; popularity 0 = off is a hard end).
BLEND_EXTEND = 3
POPULARITY_UP = (16.0, 25.0, 40.0)[:BLEND_EXTEND]
COWATCH_UP = (80.0, 160.0, 320.0)[:BLEND_EXTEND]
COWATCH_DOWN = (0.5, 0.25, 0.0)[:BLEND_EXTEND]
#: At most this many pairs scored per validation.
BLEND_MAX_PAIRS = 40
#: Share of each sampled user's impressions held out.
BLEND_FRACTION = 0.2
#: Fewer validation users with a held-out positive than this keeps the prior.
BLEND_MIN_USERS = 30
NDCG_K = 10


#: The validated parameters (``RecParams`` fields), in the order of a search cell.
BLEND_KEYS = (
    "w_popularity",
    "w_cowatch",
    "fatigue_decay",
    "w_design_scale",
    "diversity_max_per_creator",
    "diversity_decay",
)


def needs_validation(p: RecParams) -> bool:
    return any(getattr(p, k) is None for k in BLEND_KEYS)


def with_prior(p: RecParams) -> RecParams:
    """``p`` with any unset blend weight at the prior."""
    return p.replace(
        w_popularity=PRIOR[0] if p.w_popularity is None else p.w_popularity,
        w_cowatch=PRIOR[1] if p.w_cowatch is None else p.w_cowatch,
        fatigue_decay=FATIGUE_PRIOR if p.fatigue_decay is None else p.fatigue_decay,
        w_design_scale=DESIGN_SCALE_PRIOR if p.w_design_scale is None else p.w_design_scale,
        diversity_max_per_creator=DIVERSITY_PRIOR[0]
        if p.diversity_max_per_creator is None
        else p.diversity_max_per_creator,
        diversity_decay=DIVERSITY_PRIOR[1] if p.diversity_decay is None else p.diversity_decay,
    )


def _weights(p: RecParams) -> dict[str, float | None]:
    return {k: getattr(p, k) for k in BLEND_KEYS}


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
            report["blend_weights"] = _weights(p)
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
    return p.replace(**res["blend_weights"])


def _sample_ids(prep: Any, p: RecParams) -> np.ndarray:
    """A seeded sample of at most ``blend_users`` of the users the personalised ranking serves
    (at least ``cold_start_min`` impressions, and two): one collect of their ids."""
    n_eng = prep.events.groupBy("user_id").agg(F.count(F.lit(1)).alias("n"))
    users = (
        n_eng.where(F.col("n") >= F.lit(max(2, p.cold_start_min)))
        .join(prep.users.select("user_id"), "user_id", "left_semi")
        .select("user_id")
    )
    ids = np.sort(np.asarray(users.toArrow().column("user_id").to_numpy(), np.int64))
    if len(ids) > p.blend_users:
        rng = np.random.default_rng(p.seed + 29)
        ids = np.sort(rng.choice(ids, p.blend_users, replace=False))
    return ids


def _ids_frame(spark: Any, ids: np.ndarray) -> DataFrame:
    return spark.createDataFrame(pa.table({"user_id": pa.array(ids, pa.int64())}))


_LIST_KEYS = {"hashtag_top": "hashtag", "sound_top": "sound_id", "creator_top": "creator_id"}


def _collect_lists(cat: catalogue.Catalog, lists: dict[str, DataFrame]) -> catalogue.SourceLists:
    """``catalogue.build_lists`` in one collect (the four lists unioned)."""
    df = None
    for name in ("hashtag_top", "sound_top", "creator_top", "trending"):
        k = F.col(_LIST_KEYS[name]).cast("string") if name in _LIST_KEYS else F.lit("0")
        part = lists[name].select(
            F.lit(name).alias("_l"),
            k.alias("k"),
            F.col("rank").cast("long").alias("rank"),
            F.col("video_id").cast("long").alias("video_id"),
            F.col("score").cast("double").alias("score"),
        )
        df = part if df is None else df.unionByName(part)
    pdf = df.toPandas()
    by = {name: pdf[pdf["_l"] == name].drop(columns="_l") for name in lists}
    creators = by["creator_top"].assign(k=by["creator_top"]["k"].astype(np.int64))
    trend = catalogue._keyed_lists(cat, by["trending"].assign(k=0), "k")
    return catalogue.SourceLists(
        hashtag=catalogue._keyed_lists(cat, by["hashtag_top"], "k"),
        sound=catalogue._keyed_lists(cat, by["sound_top"], "k"),
        creator={int(k): v for k, v in catalogue._keyed_lists(cat, creators, "k").items()},
        trending=trend.get(0, (np.zeros(0, np.int64), np.zeros(0))),
    )


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
    """Validate the blend (see the module docstring). Returns the ``blend_*`` report:
    blend_weights (chosen), blend_source (validated / prior), blend_holdout, blend_users,
    blend_ndcg ({"pop/cw": nDCG@10} of every pair scored), blend_ndcg_prior, blend_ndcg_best
    and its paired SE, blend_seconds and blend_phase_seconds (where they went)."""
    from jobs.recsys import pipeline  # (pipeline imports this module)

    t0 = time.monotonic()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        now = time.monotonic()
        phases[name] = round(now - t0 - sum(phases.values()), 2)

    kind = p.blend_holdout
    out: dict[str, Any] = {"blend_holdout": kind, "blend_users": 0}
    prior = with_prior(p)
    fallback = _weights(prior)
    spark = prep.events.sparkSession
    cached: list[DataFrame] = []
    try:
        ids = _sample_ids(prep, p)
        lap("sample")
        tagged = held_out_flags(
            prep.events.join(_ids_frame(spark, ids), "user_id", "left_semi"),
            kind,
            p.seed + 31,
            BLEND_FRACTION,
        ).withColumn("_pos", cowatch.is_positive(p.cowatch_min_completion, "completion"))
        tagged = tagged.cache()
        cached.append(tagged)
        ev = tagged.select(
            "user_id",
            "video_id",
            F.col("event_time").cast("double").alias("t"),
            "_held",
            "_pos",
        ).toArrow()
        ev_u = np.asarray(ev.column("user_id").to_numpy(), np.int64)
        ev_v = np.asarray(ev.column("video_id").to_numpy(), np.int64)
        ev_t = np.asarray(ev.column("t").to_numpy(zero_copy_only=False), np.float64)
        held = np.asarray(ev.column("_held").to_numpy(zero_copy_only=False), bool)
        pos = np.asarray(ev.column("_pos").fill_null(False).to_numpy(zero_copy_only=False), bool)
        # labels: held-out positives the user did not otherwise see (key = user x video)
        key = ev_u * (1 << 32) + ev_v
        seen = np.unique(key[~held])
        lab = np.unique(key[held & pos])
        lab = lab[~np.isin(lab, seen)]
        lab_u, lab_v = lab >> 32, lab & ((1 << 32) - 1)
        val_ids = np.unique(lab_u)
        out["blend_users"] = len(val_ids)
        lap("holdout")
        if len(val_ids) < BLEND_MIN_USERS:
            out.update(blend_weights=fallback, blend_source="prior")
            out["blend_note"] = f"{len(val_ids)} validation users < {BLEND_MIN_USERS}"
            return out

        # the catalogue once, its features (quality, creator score, popularity) recomputed
        # without the held-out slice: each held-out engagement would otherwise lift its own
        # video's rates and its creator's track record, which flatters those factors
        hl = popularity_half_life_days
        if hl is None:
            hl = pipeline.popularity_half_life(prep, p)
        held_rows = tagged.where(F.col("_held")).select("user_id", "video_id", "event_time")
        fit_events = prep.events.join(held_rows, ["user_id", "video_id", "event_time"], "left_anti")
        fit_features = pipeline.video_features_of(prep, p, fit_events, hl).cache()
        cached.append(fit_features)
        video_features = fit_features
        if p.blend_refit_embeddings:
            video_emb = pipeline.video_embeddings_of(prep, p, fit_events).cache()
            cached.append(video_emb)
            lap("embeddings")
        cat = catalogue.build_catalog(fit_features, video_emb, None, None, p.embedding_dim)
        lap("catalogue")
        # the item-item neighbours without the held-out positives (EASE refit, one lambda)
        nb_info = _refit_neighbours(prep, p, cat, ev_u, ev_v, ev_t, held, pos, ids)
        if nb_info is None and neighbours is not None:
            catalogue._add_neighbours(cat, neighbours)
        out["blend_item_model"] = nb_info or {"model": "as served"}
        lap("neighbours")
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
        src_lists = _collect_lists(cat, lists)
        lap("lists")
        # the users' side from the remaining history only, collected once
        fit = tagged.where(~F.col("_held")).drop("_held", "_pos")
        user_emb = embeddings.user_embeddings(fit, video_emb, p.embedding_dim)
        aff = features.user_affinities(fit, prep.videos, p.affinity_top_k)
        recent = cowatch.recent_positives(
            fit, p.cowatch_min_completion, p.cowatch_history, completion="completion"
        )
        no_assign = spark.createDataFrame([], "user_id bigint, video_id bigint, score double")
        rows = candidates.candidate_inputs(
            prep.users.join(_ids_frame(spark, val_ids), "user_id", "left_semi"),
            fit,
            user_emb,
            prep.follows,
            aff,
            no_assign,
            cowatch.user_history(recent),
            fatigue_since_epoch=_fatigue_since(prep, p),
        ).toArrow()
        lap("user_inputs")
    finally:
        for df in cached:
            df.unpersist()
    grid = _Grid(rows, lab_u, lab_v, cat, src_lists, p)
    lap("candidates")
    scores, best = grid.search(p)
    lap("search")
    if not scores:
        out.update(blend_weights=fallback, blend_source="prior", blend_note="no candidates")
        return out
    cells = list(scores)  # in the order scored: the prior first
    means = {c: float(v.mean()) for c, v in scores.items()}
    ref = cells[0]
    diff = scores[best] - scores[ref]
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0
    name = lambda c: "/".join(f"{x:g}" for x in c)  # noqa: E731 (cap None = window)
    out.update(
        blend_weights=_cell_weights(best),
        blend_diversity=grid.diversity_report,
        blend_source="validated",
        blend_users=len(diff),
        blend_ndcg={name(c): round(means[c], 5) for c in sorted(cells)},
        blend_ndcg_prior=round(means[ref], 5),
        blend_ndcg_best=round(means[best], 5),
        blend_gain_over_prior=round(float(diff.mean()), 5),
        blend_gain_over_prior_se=round(se, 5),
        blend_seconds=round(time.monotonic() - t0, 1),
        blend_phase_seconds=phases,
    )
    logger.info(
        "hybrid blend (%s hold-out, %d users, %d cells, %.1fs): %s (nDCG@%d %.4f; prior %.4f; "
        "by %s: %s; seconds: %s)",
        kind,
        len(diff),
        len(cells),
        out["blend_seconds"],
        out["blend_weights"],
        NDCG_K,
        means[best],
        means[ref],
        "/".join(BLEND_KEYS),
        out["blend_ndcg"],
        phases,
    )
    return out


def _cell_weights(cell: tuple[float, ...]) -> dict[str, Any]:
    """A search cell as ``RecParams`` fields (the creator cap an int)."""
    w: dict[str, Any] = dict(zip(BLEND_KEYS, cell, strict=True))
    w["diversity_max_per_creator"] = int(w["diversity_max_per_creator"])
    return w


def _refit_neighbours(
    prep: Any,
    p: RecParams,
    cat: catalogue.Catalog,
    ev_u: np.ndarray,
    ev_v: np.ndarray,
    ev_t: np.ndarray,
    held: np.ndarray,
    pos: np.ndarray,
    sample: np.ndarray,
) -> dict[str, Any] | None:
    """EASE refit on every user's recent positives with the sample's held-out slice taken out,
    put straight into ``cat`` (no Spark round trip), at the lambda the run's own fit chose
    (``ease.chosen_lambda``; a lambda search only when this process did not fit it, e.g. the
    nightly rank job reading gold.video_neighbours). None: keep the served neighbours
    (cosine item model, or a catalogue above EASE's limits)."""
    from jobs.recsys import pipeline  # (pipeline imports this module)

    if p.item_model == "cosine":
        return None
    recent_all = pipeline.recent_positives(prep, p)
    lam = ease.chosen_lambda(recent_all)
    tab = recent_all.select("user_id", "video_id", F.col("t").cast("double").alias("t")).toArrow()
    ru = np.asarray(tab.column("user_id").to_numpy(), np.int64)
    rv = np.asarray(tab.column("video_id").to_numpy(), np.int64)
    rt = np.asarray(tab.column("t").to_numpy(zero_copy_only=False), np.float64)
    # the sample's recent positives from its remaining impressions only
    keep = ~np.isin(ru, sample)
    f = ~held & pos
    fu, fv, ft = ev_u[f], ev_v[f], ev_t[f]
    order = np.lexsort((-ft, fv, fu))  # per (user, video) the latest first
    fu, fv, ft = fu[order], fv[order], ft[order]
    first = np.r_[True, (fu[1:] != fu[:-1]) | (fv[1:] != fv[:-1])]
    fu, fv, ft = fu[first], fv[first], ft[first]
    order = np.lexsort((fv, -ft, fu))  # per user: latest first, ties by video id
    fu, fv, ft = fu[order], fv[order], ft[order]
    starts = np.searchsorted(fu, fu, side="left")
    within = np.arange(len(fu)) - starts < p.cowatch_history
    user = np.r_[ru[keep], fu[within]]
    vid = np.r_[rv[keep], fv[within]]
    t = np.r_[rt[keep], ft[within]]
    max_items = p.ease_max_items if p.item_model == "auto" else 10**9
    item_ids, item = np.unique(vid, return_inverse=True)
    if len(item_ids) == 0 or len(item_ids) > max_items or len(user) > ease.EASE_MAX_PAIRS:
        return None
    allowed = np.isin(item_ids, cat.ids)
    src, nb, w, info = ease.neighbour_weights(
        user,
        item,
        t,
        len(item_ids),
        allowed,
        p.ease_neighbours,
        fraction=0.2,
        seed=p.seed,
        lam=lam,
    )
    idx = cat.index(item_ids[nb])
    ok = idx >= 0
    src, idx, w = src[ok], idx[ok], w[ok]
    keys, counts = np.unique(item_ids[src], return_counts=True)
    cat.nb_keys = keys
    cat.nb_ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    cat.nb_idx = idx.astype(np.int64)
    cat.nb_sim = w.astype(np.float64)
    return {
        "model": "ease",
        "lambda": round(float(info["lambda"]), 4),
        "lambda_from": "the run's fit" if lam is not None else "searched",
    }


def _fatigue_since(prep: Any, p: RecParams) -> float:
    from jobs.recsys.common import as_of_epoch

    return as_of_epoch(prep.ds) - p.fatigue_window_days * 86_400.0


class _Grid:
    """The validation users' candidates and feature matrices, built once on the driver; each
    weight pair then costs one ``rank_block`` pass per block of users (``ndcg``)."""

    def __init__(
        self,
        rows: pa.Table,
        lab_u: np.ndarray,
        lab_v: np.ndarray,
        cat: catalogue.Catalog,
        lists: catalogue.SourceLists,
        p: RecParams,
        block_users: int = 256,
    ):
        self.cat = cat
        self.prior = with_prior(p)
        # the kernel's config: a nonzero co-engagement weight, so the context computes the
        # co-engagement scores every cell reads (the cells bring their own weights)
        self.cfg = ranking.RankConfig.from_params(
            self.prior.replace(w_cowatch=1.0, w_design_scale=1.0), ranker=HYBRID
        )
        self.blocks: list[tuple] = []
        self.n_users = 0
        #: {"cap/decay": (shortfall below the best rung, its SE), "kept": "cap/decay"}
        self.diversity_report: dict[str, Any] = {}
        batches = rows.combine_chunks().to_batches() if rows.num_rows else []
        if not batches:
            return
        batch = pa.RecordBatch.from_struct_array(
            pa.concat_arrays([b.to_struct_array() for b in batches])
        )
        uid, n_eng, _seg, uvec, fat_row, fat_c, fat_n, _w_off, _watched, hist = ranking._user_side(
            batch, cat, p.embedding_dim
        )
        n = len(uid)
        order = np.argsort(uid)
        at = np.searchsorted(uid[order], lab_u)
        found = (at < n) & (uid[order][np.minimum(at, n - 1)] == lab_u)
        held_row = order[np.minimum(at, n - 1)][found]
        held_idx = cat.index(lab_v[found])
        n_rel = np.bincount(held_row, minlength=n)
        known = held_idx >= 0
        held_key = np.sort(held_row[known].astype(np.int64) * (1 << 40) + held_idx[known])
        ccfg = candidates.CandidateConfig.from_params(p)
        row, cidx, src, _cscore, _mask = candidates.generate_batch(
            batch, cat, lists, ccfg, p.embedding_dim
        )
        ok = (cidx >= 0) & (n_eng[row] >= self.cfg.cold_start_min)
        ctx = ranking.CandidateContext(n, row, cidx, fat_row, fat_c, fat_n, cat, self.cfg, hist, ok)
        disc = 1.0 / np.log2(np.arange(2, NDCG_K + 2))
        self.disc = disc
        idcg = np.cumsum(disc)[np.clip(n_rel, 1, NDCG_K) - 1]
        for lo, hi, sl, cw in ctx.blocks(ok, block_users):
            r = row[sl] - lo
            x = ranking.feature_matrix(
                cat, cidx[sl], r, uvec[lo:hi], src[sl], ctx.fatigue[sl], cw, self.cfg.cowatch_scale
            )
            users = np.unique(r)
            self.blocks.append(
                (lo, hi, cidx[sl], r, uvec[lo:hi], src[sl], ctx.fatigue[sl], cw, x, users, held_key)
            )
            self.n_users += len(users)
        self.idcg = idcg

    def ndcg(self, *cell: float) -> np.ndarray:
        """nDCG@10 per validation user (with a candidate) of the personalised lists of a search
        cell (values of ``BLEND_KEYS``; the trailing ones default to the priors)."""
        params = self.prior.replace(**_cell_weights(self.full_cell(cell)))
        w = np.asarray(ranking.design_weights(params, HYBRID), np.float64)
        cfg = dataclasses.replace(
            self.cfg,
            max_per_creator=params.diversity_max_per_creator,
            diversity_decay=params.diversity_decay,
        )
        out = []
        for lo, hi, cidx, r, uvec, src, fat, cw, x, users, held_key in self.blocks:
            order, _adj, pos = ranking.rank_block(
                self.cat, cidx, r, hi - lo, uvec, src, fat, cfg,
                keep=NDCG_K, cowatch=cw, log_score=x @ w,
            )  # fmt: skip
            rr = r[order]
            key = (rr + lo).astype(np.int64) * (1 << 40) + cidx[order]
            hit = np.isin(key, held_key)
            dcg = np.bincount(
                rr, weights=hit * self.disc[np.minimum(pos, NDCG_K - 1)], minlength=hi - lo
            )
            out.append(dcg[users] / self.idcg[users + lo])
        return np.concatenate(out) if out else np.zeros(0)

    def full_cell(self, cell: tuple[float, ...]) -> tuple[float, ...]:
        """``cell`` with its missing trailing values at the prior's."""
        prior = [getattr(self.prior, k) for k in BLEND_KEYS]
        return tuple(cell) + tuple(prior[len(cell) :])

    def search(self, p: RecParams) -> tuple[dict[tuple[float, ...], np.ndarray], tuple]:
        """Three steps, coordinate-wise (the full product of every ladder would cost ~80 pair
        searches):

        1. the pair search (``pair_search``) at each rung of the fatigue ladder
           (``FATIGUE_GRID``) x the design-scale ladder (``DESIGN_SCALE_GRID``), the priors
           first, at the prior creator diversity;
        2. at the best cell, every rung of the diversity ladders (``CAP_GRID`` x
           ``DIVERSITY_DECAY_GRID``); the most diverse rung within ``DIVERSITY_SE`` standard
           errors of the best rung's nDCG is kept;
        3. if that is not the prior diversity, the pair search again at it.

        A configured value is its ladder's only rung. Returns ({cell: nDCG per user}, in the
        order scored: the prior first; the chosen cell), a cell being the values of
        ``BLEND_KEYS``: the best mean among the cells at the kept diversity (ties: the earlier).
        """
        scored: dict[tuple[float, ...], np.ndarray] = {}
        if not self.blocks:
            return scored, ()
        prior = self.full_cell(())
        div0 = prior[4:]
        fatigues = [p.fatigue_decay] if p.fatigue_decay is not None else list(FATIGUE_GRID)
        scales = [p.w_design_scale] if p.w_design_scale is not None else list(DESIGN_SCALE_GRID)

        def pairs(f: float, d: float, div: tuple[float, ...]) -> None:
            for (a, b), v in self.pair_search(p, f, d, div).items():
                scored.setdefault((a, b, f, d, *div), v)

        def best_of(cells: list[tuple[float, ...]]) -> tuple[float, ...]:
            order = list(scored)
            return max(cells, key=lambda c: (float(scored[c].mean()), -order.index(c)))

        for f in fatigues:
            for d in scales:
                pairs(f, d, div0)
        top = best_of(list(scored))
        rungs = sorted(set(self.diversity_rungs(p)))  # most diverse first
        if rungs != [div0]:
            for div in rungs:
                c = (*top[:4], *div)
                if c not in scored:
                    scored[c] = self.ndcg(*c)
            at = [(*top[:4], *div) for div in rungs]
            best = best_of(at)
            keep = next(c for c in at if _within(scored[c], scored[best], DIVERSITY_SE))
            self.diversity_report = {
                "/".join(f"{x:g}" for x in c[4:]): _gap(scored[c], scored[best]) for c in at
            } | {"kept": "/".join(f"{x:g}" for x in keep[4:])}
            if keep[4:] != div0:
                pairs(top[2], top[3], keep[4:])
            top = best_of([c for c in scored if c[4:] == keep[4:]])
        return scored, top

    def diversity_rungs(self, p: RecParams) -> list[tuple[float, float]]:
        """(cap, decay) rungs to validate; a cap of ``None`` (no cap) is the window itself."""
        window = self.cfg.diversity_window
        caps = (
            [p.diversity_max_per_creator]
            if p.diversity_max_per_creator is not None
            else [min(window, c) if c is not None else window for c in CAP_GRID]
        )
        decays = [p.diversity_decay] if p.diversity_decay is not None else DIVERSITY_DECAY_GRID
        return [(float(c), float(y)) for c in caps for y in decays]

    def pair_search(
        self,
        p: RecParams,
        fatigue: float,
        design_scale: float,
        diversity: tuple[float, ...] = (),
    ) -> dict[tuple[float, float], np.ndarray]:
        """Coarse to fine: the prior, the coarse grid, then the best pair's neighbours on the
        full ladders (each ladder extended past an end the best lies on, ``BLEND_EXTEND``
        rungs at most) until the best pair's neighbourhood is all scored (``BLEND_MAX_PAIRS``
        at most). An explicitly set weight is pinned. Returns {pair: nDCG per user}, in the
        order scored (the prior first)."""
        scored: dict[tuple[float, float], np.ndarray] = {}
        if not self.blocks:
            return scored
        pin_a, pin_b = p.w_popularity, p.w_cowatch
        pops = [pin_a] if pin_a is not None else list(POPULARITY_GRID)
        cws = [pin_b] if pin_b is not None else list(COWATCH_GRID)
        up_a = [] if pin_a is not None else list(POPULARITY_UP)
        up_b = [] if pin_b is not None else list(COWATCH_UP)
        down_b = [] if pin_b is not None else list(COWATCH_DOWN)

        def score(cells: list[tuple[float, float]]) -> None:
            for c in cells:
                if c not in scored and len(scored) < BLEND_MAX_PAIRS:
                    scored[c] = self.ndcg(*c, fatigue, design_scale, *diversity)

        prior = (pin_a if pin_a is not None else PRIOR[0], pin_b if pin_b is not None else PRIOR[1])
        score([prior])
        coarse_a = [a for a in pops if pin_a is not None or a in COARSE_POPULARITY]
        coarse_b = [b for b in cws if pin_b is not None or b in COARSE_COWATCH]
        score([(a, b) for a in coarse_a for b in coarse_b])
        while len(scored) < BLEND_MAX_PAIRS:
            cells = list(scored)
            best = max(cells, key=lambda c: (float(scored[c].mean()), -cells.index(c)))
            i, j = pops.index(best[0]), cws.index(best[1])
            if i == len(pops) - 1 and up_a:
                pops.append(up_a.pop(0))
            if j == len(cws) - 1 and up_b:
                cws.append(up_b.pop(0))
            if j == 0 and down_b:
                cws.insert(0, down_b.pop(0))
                j += 1
            near = [
                (pops[x], cws[y])
                for x in range(max(0, i - 1), min(len(pops), i + 2))
                for y in range(max(0, j - 1), min(len(cws), j + 2))
            ]
            new = [c for c in near if c not in scored]
            if not new:
                break
            score(new)
        return scored


def _gap(a: np.ndarray, best: np.ndarray) -> tuple[float, float]:
    """(mean, standard error) of the paired per-user shortfall of ``a`` below ``best``."""
    diff = best - a
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return round(float(diff.mean()), 5), round(se, 5)


def _within(a: np.ndarray, best: np.ndarray, n_se: float) -> bool:
    """Whether per-user scores ``a`` are within ``n_se`` paired standard errors of ``best``."""
    diff = best - a
    if len(diff) < 2:
        return bool(diff.mean() <= 0)
    return bool(diff.mean() <= n_se * diff.std(ddof=1) / math.sqrt(len(diff)))
