"""Ranking: the design's product score, creator diversity, fatigue, cold-start mix, exploration.

Per candidate (design, Phase 2)::

    score = sim ** w_sim * quality ** w_q * creator ** w_c * freshness ** w_f
            * (1 + popularity) ** w_pop * (1 + scale * cowatch / n_hist ** norm) ** w_cw
            * fatigue_decay ** recent_impressions_of_creator

with ``sim = max(cosine(user, video), 0.001)`` (the design's cosine; a dissimilar video keeps a
tiny positive similarity so that a better quality can never lift it above a similar one) and
``cowatch`` the user's co-engagement score of the video (``jobs.recsys.cowatch``), damped by the
length of the user's history (``n_hist ** norm``) so that it sharpens thin histories more than it
overrides rich ones. The default
ranker, ``hybrid``, uses every factor; ``design`` sets ``w_pop = w_cw = 0`` (the design's formula
exactly). The score is log-linear in the features ``FEATURES``, so other weights (e.g. learned
from engagement labels) plug into the same kernel.

Then, per user:

* **creator diversity**: the j-th best video of a creator (j = 0, 1, ...) is multiplied by
  ``diversity_decay ** j``, and at most ``max_per_creator`` videos of one creator may sit in the
  top ``window`` positions (greedy: the excess moves just below the window);
* **cold start** (``cold_start_share``): a user with fewer than ``cold_start_min`` impressions
  gets ``cold_popular_share`` (70%) demographic-popular and the rest (30%) diverse exploration;
  from ``cold_start_min`` to ``cold_start_full`` the personalised share rises linearly to 100%.
  Lists are interleaved deterministically (largest deficit first), duplicates and watched videos
  skipped;
* **exploration slots**: the user's new-video assignments (source ``exploration``) take every
  ``explore_every``-th position, at most ``explore_slots``; an assignment that the personalised
  ranking itself puts above its slot keeps that place (pushing the best new video down to a
  slot would hide exactly what the user is likely to want).

Each feed row says what put it there: ``source`` is the candidate source kept by the dedupe
priority (or the cold-start list), ``ranked_by`` the ranker that ordered it (``RANKED_BY``):
the personalised list's ranker (``learned``, ``hybrid``, ``design``), or ``coldstart_popular``,
``coldstart_diverse``, ``exploration`` for the mixed-in slots. Those lists score on scales of
their own, so the mixed feed's raw scores are not ordered; ``raw_score`` keeps each list's own
score and ``score`` is a display score of the position alone (``display_score``), so sorting
by ``score`` gives the served order.

All of it runs in one vectorised numpy kernel per Arrow batch of users (``mapInArrow``); the
catalogue (features + embeddings of ready videos, cold-start lists) is broadcast.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.recsys.candidates import CandidateConfig, generate_batch, history_column
from jobs.recsys.catalogue import (
    Catalog,
    SourceLists,
    column,
    field_values,
    list_column,
    segment_col,
    user_vectors,
)
from jobs.recsys.params import (
    COLD_EXPLORE,
    COLD_POPULAR,
    DESIGN,
    EXPLORATION,
    HYBRID,
    LEARNED,
    OUT_SOURCES,
    SOURCE_CODE,
    SOURCES,
    TRENDING,
    RecParams,
)

#: The kernel's per-candidate features (log domain); the score is exp(features . weights).
FEATURES = (
    "log_sim",
    "log_quality",
    "log_creator",
    "log_freshness",
    "log1p_popularity",
    "fatigue_count",
    "log1p_cowatch",
    *[f"src_{s}" for s in SOURCES],
)
#: Position of the first source one-hot in ``FEATURES``.
SRC0 = FEATURES.index(f"src_{SOURCES[0]}")

#: Similarity floor: cosines below it (dissimilar or opposite) all count as this.
SIM_FLOOR = 1e-3

FEED_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.LongType()),
        T.StructField("rank", T.IntegerType()),
        T.StructField("video_id", T.LongType()),
        T.StructField("score", T.DoubleType()),
        T.StructField("source", T.StringType()),
        T.StructField("raw_score", T.DoubleType()),
        T.StructField("ranked_by", T.StringType()),
    ]
)
#: ``ranked_by`` of the mixed-in slots: the list (and its own order) that placed the item.
MIXED_IN = (COLD_POPULAR, COLD_EXPLORE, EXPLORATION)
#: Every ``ranked_by`` value: a ranker of the personalised list, or a mixed-in list.
RANKED_BY = (LEARNED, HYBRID, DESIGN, *MIXED_IN)


def display_score(rank: np.ndarray) -> np.ndarray:
    """``catalog.feed_display_score`` of each rank, vectorised: the published score of a feed
    position, so that score order is feed order whatever list an item came from."""
    return 1.0 / np.log2(1.0 + np.asarray(rank, np.float64))


@dataclass(frozen=True)
class RankConfig:
    """What the rank kernel reads, from ``RecParams`` (``from_params``): no defaults here, the
    values live in ``fyplake.config`` only."""

    top_n: int
    weights: tuple[float, ...]  # per FEATURES; empty = the design's formula
    diversity_decay: float
    diversity_window: int
    max_per_creator: int
    cold_start_min: int
    cold_start_full: int
    cold_popular_share: float
    explore_slots: int
    explore_every: int
    cowatch_scale: float
    cowatch_norm: float
    seed: int
    #: Score the personalised list with the learned model handed to the kernel (``weights``
    #: stay a formula's, ``design_weights``: the cold-start pool's order, and the score when
    #: no model is given).
    learned: bool = False
    #: The formula ``weights`` are (``ranked_by`` of the personalised rows it scores).
    formula: str = DESIGN

    @classmethod
    def from_params(
        cls, p: RecParams, learned: tuple[float, ...] | None = None, ranker: str | None = None
    ) -> RankConfig:
        from jobs.recsys.blend import with_prior  # unset blend settings: the prior

        ranker = ranker or p.ranker
        p = with_prior(p)
        return cls(
            learned=ranker == LEARNED,
            formula=LEARNED if learned else formula_name(p, ranker),
            top_n=p.top_n,
            weights=tuple(learned) if learned else design_weights(p, ranker),
            diversity_decay=p.diversity_decay,
            diversity_window=p.diversity_window,
            max_per_creator=p.diversity_max_per_creator,
            cold_start_min=p.cold_start_min,
            cold_start_full=p.cold_start_full,
            cold_popular_share=p.cold_popular_share,
            explore_slots=p.explore_slots,
            explore_every=p.explore_every,
            cowatch_scale=p.cowatch_scale,
            cowatch_norm=p.cowatch_norm,
            seed=p.seed,
        )


def formula_name(p: RecParams, ranker: str | None = None) -> str:
    """The formula ``design_weights`` builds for ``ranker``: itself, or for ``learned`` the
    formula its model boosts from (the fallback's when none)."""
    ranker = ranker or p.ranker
    if ranker == LEARNED:
        return p.ranker_base if p.ranker_base != "none" else p.ranker_fallback
    return ranker


def ranked_by_label(cfg: RankConfig, model=None) -> str:  # noqa: ANN001
    """``ranked_by`` of the personalised rows: the learned model when it scores, else the
    formula of ``cfg.weights``."""
    return LEARNED if model is not None and cfg.learned else cfg.formula


def design_weights(p: RecParams, ranker: str | None = None) -> tuple[float, ...]:
    """The product formula as weights of ``FEATURES`` (source one-hots weigh 0): the design's
    exactly for ``ranker="design"``; ``hybrid`` adds the popularity and co-engagement factors;
    ``learned`` gives the formula its model boosts from (``p.ranker_base``; the fallback's when
    none): what orders a blending user's cold-start pool, the model's prior."""
    from jobs.recsys.blend import with_prior  # unset blend weights: the prior (blend.resolve)

    design = formula_name(p, ranker) == DESIGN
    p = with_prior(p)
    k = 1.0 if design else p.w_design_scale
    return (
        k * p.w_similarity,
        k * p.w_quality,
        k * p.w_creator,
        k * p.w_freshness,
        0.0 if design else p.w_popularity,
        math.log(p.fatigue_decay) if p.fatigue_decay > 0 else -50.0,
        0.0 if design else p.w_cowatch,
        *([0.0] * len(SOURCES)),
    )


def cold_start_share(n: int, lo: int, hi: int) -> float:
    """Share of the feed that is personalised after ``n`` impressions (0 below ``lo``, 1 from
    ``hi``, linear between)."""
    if n < lo:
        return 0.0
    if n >= hi or hi <= lo:
        return 1.0
    return (n - lo) / (hi - lo)


def interleave(
    lists: list[tuple[np.ndarray, np.ndarray, int]],
    shares: list[float],
    n: int,
    skip: set[int] | None = None,
) -> tuple[list[int], list[float], list[int]]:
    """Deterministic mix of ranked lists by target shares: at each position take the next unused
    item of the list furthest below its share (ties: earlier list). Returns (items, scores,
    list index of each item)."""
    used = set(skip) if skip else set()
    k = len(lists)
    idxs = [lst[0].tolist() for lst in lists]
    scs = [lst[1] for lst in lists]
    lens = [len(x) for x in idxs]
    ptr = [0] * k
    taken = [0] * k
    items: list[int] = []
    scores: list[float] = []
    which: list[int] = []
    active = [i for i in range(k) if shares[i] > 0 and lens[i]]
    pos = 0
    while len(items) < n and active:
        pos += 1
        best = active[0]
        best_v = shares[best] * pos - taken[best]
        for i in active[1:]:
            v = shares[i] * pos - taken[i]
            if v > best_v + 1e-9:  # ties (up to rounding) go to the earlier list
                best, best_v = i, v
        lst, p, end = idxs[best], ptr[best], lens[best]
        while p < end and lst[p] in used:
            p += 1
        ptr[best] = p
        if p >= end:
            active.remove(best)
            pos -= 1
            continue
        item = lst[p]
        used.add(item)
        items.append(item)
        scores.append(float(scs[best][p]))
        which.append(best)
        ptr[best] = p + 1
        taken[best] += 1
    return items, scores, which


def similarity(cat: Catalog, idx: np.ndarray, seg: np.ndarray, user_vecs: np.ndarray) -> np.ndarray:
    """cosine(user, video) of each flat candidate (``seg`` = user row): for a small catalogue
    the whole (users x catalogue) product is one BLAS call and candidates pick from it;
    otherwise each candidate's vector is gathered."""
    if len(user_vecs) * len(cat.ids) <= 4 * len(idx):
        return (user_vecs @ cat.emb.T)[seg, idx]
    return np.einsum("nd,nd->n", cat.emb[idx], user_vecs[seg], dtype=np.float32)


def feature_matrix(
    cat: Catalog,
    idx: np.ndarray,
    seg: np.ndarray,
    user_vecs: np.ndarray,
    src: np.ndarray,
    fatigue: np.ndarray,
    cowatch: np.ndarray | None = None,
    cowatch_scale: float = 3.0,
) -> np.ndarray:
    """``FEATURES`` of each flat candidate, (n, len(FEATURES)) float64: the one place they are
    computed, for the formula (``log_scores``), the learned ranker's scoring and its training
    rows (``jobs.recsys.learned``), so training and serving features cannot drift apart.
    ``cowatch``: the user's co-engagement score of each candidate (``user_cowatch``)."""
    n = len(idx)
    x = np.zeros((n, len(FEATURES)), np.float64, order="F")
    if n == 0:
        return x
    x[:, 0] = np.log(np.clip(similarity(cat, idx, seg, user_vecs), SIM_FLOOR, 1.0))
    x[:, 1] = cat.log_quality[idx]
    x[:, 2] = cat.log_creator[idx]
    x[:, 3] = cat.log_freshness[idx]
    x[:, 4] = cat.log1p_pop[idx]
    x[:, 5] = fatigue
    if cowatch is not None:
        x[:, 6] = np.log1p(cowatch_scale * cowatch)
    x[np.arange(n), SRC0 + np.asarray(src, np.int64)] = 1.0
    return x


def log_scores(
    cat: Catalog,
    idx: np.ndarray,
    seg: np.ndarray,
    user_vecs: np.ndarray,
    src: np.ndarray,
    fatigue: np.ndarray,
    weights: tuple[float, ...],
    cowatch: np.ndarray | None = None,
    cowatch_scale: float = 3.0,
) -> np.ndarray:
    """The formula's log score: ``feature_matrix`` dotted with ``weights``."""
    x = feature_matrix(cat, idx, seg, user_vecs, src, fatigue, cowatch, cowatch_scale)
    return x @ np.asarray(weights, np.float64)


def static_log_score(cat: Catalog, weights: tuple[float, ...]) -> np.ndarray:
    """The user-independent part of every catalogue video's log score (cached per weights;
    the cold-start pool's order)."""
    key = tuple(weights[1:5])
    cached = getattr(cat, "_static", None)
    if cached is None or cached[0] != key:
        w = np.asarray(weights, np.float64)
        static = (
            w[1] * cat.log_quality
            + w[2] * cat.log_creator
            + w[3] * cat.log_freshness
            + w[4] * cat.log1p_pop
        )
        cached = (key, static)
        object.__setattr__(cat, "_static", cached)
    return cached[1]


def cowatch_log_factor(weight: float, scale: float, cowatch: np.ndarray) -> np.ndarray | float:
    """log of (1 + scale * cowatch) ** weight: the co-engagement factor of the hybrid score."""
    return weight * np.log1p(scale * cowatch) if weight != 0.0 else 0.0


#: Candidates per kernel step: the users whose candidates are scored, diversified and cut
#: together (rows of one matrix; about 32 users of 1,000 candidates).
BLOCK_CANDIDATES = 32_768
#: Candidate vectors gathered per batched dot product (float32 x dim each, in a reused buffer
#: that stays in cache: 4,096 x 128-d = 2 MiB).
GATHER_CANDIDATES = 4_096

_scratch = threading.local()


def _gather_buffer(rows: int, dim: int, dtype: np.dtype) -> np.ndarray:
    """A reused (rows, dim) buffer of this thread (the gather's target: no fresh pages)."""
    buf = getattr(_scratch, "buf", None)
    if buf is None or buf.shape[0] < rows or buf.shape[1] != dim or buf.dtype != dtype:
        buf = np.empty((rows, dim), dtype)
        _scratch.buf = buf
    return buf[:rows]


def creator_codes(cat: Catalog) -> np.ndarray:
    """Each video's creator as a dense code 0..n_creators-1 (cached on ``cat``): the kernel's
    creator groups, however large the creator keys are."""
    cached = getattr(cat, "_creator_codes", None)
    if cached is None or cached[0] is not cat.creator:
        codes = np.unique(cat.creator, return_inverse=True)[1].astype(np.int64).ravel()
        cached = (cat.creator, codes)
        object.__setattr__(cat, "_creator_codes", cached)
    return cached[1]


def rank_block(
    cat: Catalog,
    idx: np.ndarray,
    seg: np.ndarray,
    n_users: int,
    user_vecs: np.ndarray,
    src: np.ndarray,
    fatigue: np.ndarray,
    cfg: RankConfig,
    keep: int | None = None,
    cowatch: np.ndarray | None = None,
    log_score: np.ndarray | None = None,
    block_candidates: int = BLOCK_CANDIDATES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score, diversify and cut flat candidates of ``n_users`` users (``seg`` sorted or not).
    ``log_score``: the candidates' log scores when already computed (the learned ranker's
    prediction); otherwise the formula's (``cfg.weights`` over ``FEATURES``, as ``log_scores``).

    Vectorised over blocks of users (about ``block_candidates`` candidates each): one gather of
    the block's candidate vectors and one batched dot product, the other factors added per
    candidate, then per user (as rows of one matrix) the top candidates by ``argpartition``,
    creator diversity and the window over those only (``_diversify``), and the exact order of
    the kept ones. Ties break by input position, as a stable sort over each user's candidates.

    Returns (order, adjusted score, position-in-user) of the kept rows, ``order`` indexing the
    input arrays, sorted by (user, position).
    """
    keep = cfg.top_n if keep is None else keep
    e = np.zeros(0, np.int64)
    if len(idx) == 0 or keep <= 0:
        return e, np.zeros(0), e
    idx = np.asarray(idx, np.int64)
    seg = np.asarray(seg, np.int64)
    perm = None
    if len(seg) > 1 and np.any(seg[1:] < seg[:-1]):  # group by user, input order within
        perm = np.argsort(seg, kind="stable")
        idx, seg = idx[perm], seg[perm]
        src, fatigue = np.asarray(src)[perm], np.asarray(fatigue)[perm]
        cowatch = None if cowatch is None else np.asarray(cowatch)[perm]
        log_score = None if log_score is None else np.asarray(log_score)[perm]
    bounds = np.searchsorted(seg, np.arange(n_users + 1))
    codes = creator_codes(cat)
    # the whole (users x catalogue) product when the catalogue is small (as ``similarity``)
    full_sim = (
        user_vecs @ cat.emb.T
        if log_score is None and len(user_vecs) * len(cat.ids) <= 4 * len(idx)
        else None
    )
    out_o, out_a, out_p = [], [], []
    u0 = 0
    while u0 < n_users:
        u1 = int(np.searchsorted(bounds, bounds[u0] + block_candidates, "right")) - 1
        u1 = min(n_users, max(u1, u0 + 1))
        a, b = int(bounds[u0]), int(bounds[u1])
        if b > a:
            if log_score is None:
                ls = _block_log_score(
                    cat, idx, seg, bounds, u0, u1, user_vecs, src, fatigue, cfg, cowatch, full_sim
                )
            else:
                ls = log_score[a:b]
            # the learned model's raw prediction is unbounded: keep exp() finite and positive
            score = np.exp(np.clip(ls, -700.0, 700.0))
            order, adj, pos = _diversify(score, codes[idx[a:b]], bounds[u0 : u1 + 1] - a, keep, cfg)
            out_o.append(order + a)
            out_a.append(adj)
            out_p.append(pos)
        u0 = u1
    order = np.concatenate(out_o) if out_o else e
    if perm is not None:
        order = perm[order]
    return (
        order,
        np.concatenate(out_a) if out_a else np.zeros(0),
        np.concatenate(out_p) if out_p else e,
    )


def _block_log_score(
    cat: Catalog,
    idx: np.ndarray,
    seg: np.ndarray,
    bounds: np.ndarray,
    u0: int,
    u1: int,
    user_vecs: np.ndarray,
    src: np.ndarray,
    fatigue: np.ndarray,
    cfg: RankConfig,
    cowatch: np.ndarray | None,
    full_sim: np.ndarray | None,
) -> np.ndarray:
    """The formula's log score of the candidates of users ``u0:u1`` (flat ``bounds[u0]`` to
    ``bounds[u1]``): ``FEATURES`` x ``cfg.weights`` without building the feature matrix. The
    cosine is the same float32 dot as ``similarity``'s (one gather, one einsum)."""
    a, b = int(bounds[u0]), int(bounds[u1])
    ix = idx[a:b]
    if full_sim is not None:
        sim = full_sim[seg[a:b], ix]
    else:
        sim = _block_similarity(cat.emb, ix, seg[a:b], bounds[u0 : u1 + 1] - a, user_vecs, u0)
    w = cfg.weights
    ls = np.log(np.clip(sim, SIM_FLOOR, 1.0)).astype(np.float64)
    ls *= w[0]
    ls += static_log_score(cat, w)[ix]
    if w[5] != 0.0:
        ls += w[5] * np.asarray(fatigue[a:b], np.float64)
    wsrc = np.asarray(w[SRC0:], np.float64)
    if wsrc.any():
        ls += wsrc[np.asarray(src[a:b], np.int64)]
    if cowatch is not None and w[6] != 0.0:
        cw = cowatch[a:b]
        nz = np.flatnonzero(cw)  # log1p(0) = 0: only co-engaged candidates move
        ls[nz] += w[6] * np.log1p(cfg.cowatch_scale * cw[nz])
    return ls


def _block_similarity(
    emb: np.ndarray,
    ix: np.ndarray,
    seg: np.ndarray,
    offs: np.ndarray,
    user_vecs: np.ndarray,
    u0: int,
) -> np.ndarray:
    """cosine(user, video) of a block's flat candidates (``offs``: each user's offsets, user
    ``u0`` first): gathers of ``GATHER_CANDIDATES`` vectors into a reused buffer, each followed
    by its batched dot (the float32 einsum of ``similarity``, so the values are its values)."""
    n, dim = len(ix), emb.shape[1]
    sim = np.empty(n, np.float32)
    lens = np.diff(offs)
    if lens.min() == lens.max():  # every user as many candidates: (users, L, dim) x (users, dim)
        per = int(lens[0])
        step = max(1, GATHER_CANDIDATES // per)
        buf = _gather_buffer(step * per, dim, emb.dtype)
        for v in range(0, len(lens), step):
            w = min(len(lens), v + step)
            p, q = v * per, w * per
            vecs = np.take(emb, ix[p:q], axis=0, out=buf[: q - p])
            sim[p:q] = np.einsum(
                "bkd,bd->bk",
                vecs.reshape(w - v, per, dim),
                user_vecs[u0 + v : u0 + w],
                dtype=np.float32,
            ).ravel()
    else:
        buf = _gather_buffer(GATHER_CANDIDATES, dim, emb.dtype)
        for p in range(0, n, GATHER_CANDIDATES):
            q = min(n, p + GATHER_CANDIDATES)
            vecs = np.take(emb, ix[p:q], axis=0, out=buf[: q - p])
            sim[p:q] = np.einsum("nd,nd->n", vecs, user_vecs[seg[p:q]], dtype=np.float32)
    return sim


def _diversify(
    score: np.ndarray, creator: np.ndarray, offs: np.ndarray, keep: int, cfg: RankConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Creator diversity and the top ``keep`` of a block of users, each user a row of one
    matrix (``offs``: row offsets into the flat ``score``/``creator``; shorter rows padded).

    The j-th best video of a creator gets ``diversity_decay ** j``; a video below the best
    ``M`` by score (``argpartition``) can only lose, so the diversity and the window run over
    those ``M`` only. That is exact when the candidates whose adjusted score beats every
    cut-off score fill ``keep`` places and the window: they are a prefix of the full order.
    Rows where that does not hold are redone over all their candidates.
    """
    nu = len(offs) - 1
    lens = np.diff(offs)
    width = int(lens.max())
    if lens.min() == width:
        s2 = score.reshape(nu, width)
        c2 = creator.reshape(nu, width)
    else:
        rows = np.repeat(np.arange(nu), lens)
        cols = np.arange(len(score)) - offs[rows]
        s2 = np.full((nu, width), -np.inf)
        s2[rows, cols] = score
        c2 = np.zeros((nu, width), np.int64)
        c2[rows, cols] = creator
    stable = bool(np.isnan(score).any())  # NaN (a learned score): stable sorts, no cut-off
    m = width if stable else min(width, max(2 * keep, keep + cfg.diversity_window, 64))
    cols, adj, ok = _diversify_rows(s2, c2, lens, keep, m, cfg, stable)
    if not ok.all():  # a row whose cut-off may have hidden part of its answer: all candidates
        bad = np.flatnonzero(~ok)
        cols_b, adj_b, _ = _diversify_rows(s2[bad], c2[bad], lens[bad], keep, width, cfg, stable)
        cols[bad], adj[bad] = cols_b, adj_b
    pos = np.arange(cols.shape[1])
    kept = pos[None, :] < np.minimum(lens, keep)[:, None]
    order = (offs[:-1, None] + cols)[kept]
    return order, adj[kept], np.broadcast_to(pos, cols.shape)[kept]


def _argsort_desc(x: np.ndarray, stable: bool) -> np.ndarray:
    """Row-wise order of ``x`` descending, ties by column (a stable sort), via the fast
    unstable sort when no row has a tie (padding, -inf, may tie: it is never kept)."""
    if not stable:
        o = np.argsort(-x, axis=1)
        v = np.take(x, o + (np.arange(len(x)) * x.shape[1])[:, None])
        if not ((v[:, 1:] == v[:, :-1]) & (v[:, 1:] != -np.inf)).any():
            return o
    return np.argsort(-x, axis=1, kind="stable")


def _diversify_rows(
    s2: np.ndarray,
    c2: np.ndarray,
    lens: np.ndarray,
    keep: int,
    m: int,
    cfg: RankConfig,
    stable: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_diversify`` over the best ``m`` of each row: (columns, adjusted scores) of the first
    ``min(keep, m)`` places of each row, and whether each row's answer is exact. Rows are
    indexed flat (row offset + column) rather than with ``take_along_axis``."""
    nu, width = s2.shape
    padded = bool(lens.min() < width)
    s2, c2 = np.ascontiguousarray(s2), np.ascontiguousarray(c2)
    cols = None  # column of each kept candidate: its position when all are kept
    if m < width:
        # the best m by (score desc, column): ties at the cut-off go to the earlier columns
        part = np.partition(s2, (width - m - 1, width - m), axis=1)
        cut, below = part[:, width - m], part[:, width - m - 1]
        top = s2 >= cut[:, None]
        if (top.sum(axis=1) != m).any():
            gt = s2 > cut[:, None]
            eq = top & ~gt
            need = m - gt.sum(axis=1)
            top = gt | (eq & (np.cumsum(eq, axis=1) <= need[:, None]))
        flat = np.flatnonzero(top)  # row-major: each row's m columns in column order
        st = s2.reshape(-1)[flat].reshape(nu, m)
        ct = c2.reshape(-1)[flat].reshape(nu, m)
        cols = flat.reshape(nu, m) - (np.arange(nu) * width)[:, None]
    else:
        st, ct = s2, c2
        below = np.full(nu, -np.inf)
    row = (np.arange(nu) * m)[:, None]
    j = np.arange(m)
    # occurrence of the creator among the row's better-scored candidates: sort (creator,
    # score place) keys; a candidate's occurrence is its place within its creator's run
    o1 = _argsort_desc(st, stable) + row
    key = ct.reshape(-1)[o1] * m + j  # unique in a row
    key.sort(axis=1)
    grp = key // m
    first = np.ones((nu, m), bool)
    first[:, 1:] = grp[:, 1:] != grp[:, :-1]
    start = np.maximum.accumulate(np.where(first, j, 0), axis=1)
    occ = np.empty(nu * m, np.int64)
    occ[o1.reshape(-1)[(key - grp * m + row).reshape(-1)]] = (j - start).reshape(-1)
    occ = occ.reshape(nu, m)
    # decay ** occ from a table of the same powers
    with np.errstate(invalid="ignore"):  # padding (-inf) x 0 when the decay is 0
        adj = st * np.power(cfg.diversity_decay, np.arange(m))[occ]
    elig = occ < cfg.max_per_creator
    if padded:  # padding stays last whatever the decay, and never takes a window place
        pad = np.isneginf(st)
        adj[pad] = -np.inf
        elig &= ~pad
    # the top window admits at most max_per_creator per creator (greedy over adj order);
    # then the window's candidates, then the others, each in adj order
    o2 = _argsort_desc(adj, stable) + row
    e2 = elig.reshape(-1)[o2]
    in_window = e2 & (np.cumsum(e2, axis=1) <= cfg.diversity_window)
    cwin = np.cumsum(in_window, axis=1)
    place = np.where(in_window, cwin - 1, cwin[:, -1:] + j - cwin)
    k = min(keep, m)
    sel = place < k
    dest = (place + (np.arange(nu) * k)[:, None])[sel]
    src = o2[sel]
    # each row has exactly k selected places, in row order
    out_cols = np.empty(nu * k, np.int64)
    if cols is None:
        out_cols[dest] = src - np.repeat(np.arange(nu) * m, k)
    else:
        out_cols[dest] = cols.reshape(-1)[src]
    out_adj = np.empty(nu * k)
    out_adj[dest] = adj.reshape(-1)[src]
    # exact when every cut candidate (score <= below) is beaten by keep places and the window
    sure = adj > below[:, None]
    ok = (lens <= m) | (
        (sure.sum(axis=1) >= keep) & ((sure & elig).sum(axis=1) >= cfg.diversity_window)
    )
    return out_cols.reshape(nu, k), out_adj.reshape(nu, k), ok


class CandidateContext:
    """What the score of a user's candidate depends on beyond the catalogue, computed once per
    batch of users: its fatigue (the user's recent impressions of its creator) and its
    co-engagement score (``user_cowatch``). The rank kernel and the learned ranker's training
    rows both build it, so their features come from the same arrays."""

    def __init__(
        self,
        n: int,
        cand_row: np.ndarray,
        cidx: np.ndarray,
        fat_row: np.ndarray,
        fat_creator: np.ndarray,
        fat_n: np.ndarray,
        cat: Catalog,
        cfg: RankConfig,
        history: tuple[np.ndarray, np.ndarray] | None,
        want: np.ndarray | None = None,
    ):
        self.bounds = np.searchsorted(cand_row, np.arange(n + 1))
        self.fatigue = np.zeros(len(cidx))
        real = fat_creator >= 0  # a null creator (its fatigue row) is nobody's
        fat_row, fat_creator, fat_n = fat_row[real], fat_creator[real], fat_n[real]
        if len(fat_creator) and (want is None or want.any()):
            key_f = fat_row.astype(np.int64) * (1 << 40) + fat_creator
            order_f = np.argsort(key_f)
            key_fs = key_f[order_f]
            creator = cat.creator[np.maximum(cidx, 0)]
            key_c = cand_row.astype(np.int64) * (1 << 40) + creator
            pos = np.minimum(np.searchsorted(key_fs, key_c), len(key_fs) - 1)
            hit = (key_fs[pos] == key_c) & (creator >= 0)  # no creator, no fatigue
            self.fatigue = np.where(hit, fat_n[order_f][pos], 0.0)
        self.user_cw, self.cand_cw = user_cowatch(n, self.bounds, cidx, history, cat, cfg)
        self.n = n

    def blocks(self, keep: np.ndarray, block_users: int):  # noqa: ANN201 - a generator
        """``(lo, hi, sl, cw)`` per block of ``block_users`` users with a kept candidate: the
        users ``[lo, hi)``, their kept candidates' positions ``sl`` and co-engagement ``cw``."""
        for lo in range(0, self.n, block_users):
            hi = min(self.n, lo + block_users)
            a, b = self.bounds[lo], self.bounds[hi]
            sl = np.arange(a, b)[keep[a:b]]
            if len(sl):
                yield lo, hi, sl, None if self.cand_cw is None else self.cand_cw[sl]


def rank_users(
    uid: np.ndarray,
    n_eng: np.ndarray,
    seg_keys: list[str],
    uvec: np.ndarray,
    cand_row: np.ndarray,
    cidx: np.ndarray,
    src: np.ndarray,
    cscore: np.ndarray,
    fat_row: np.ndarray,
    fat_creator: np.ndarray,
    fat_n: np.ndarray,
    w_off: np.ndarray,
    watched_idx: np.ndarray,
    cat: Catalog,
    cfg: RankConfig,
    block_users: int = 256,
    history: tuple[np.ndarray, np.ndarray] | None = None,
    model=None,  # noqa: ANN001 - a learned.BoundRanker; see its ``log_scores``
    extra: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Feeds of a batch of users from their flat candidates (grouped by row, in row order).
    ``history``: (offsets, video ids) of each user's recent positives (co-engagement).
    ``model`` (with ``cfg.learned``): the learned ranker scores the personalised list;
    ``extra``: what its features need beyond the formula's (``learned.batch_extra``).

    Returns flat (user_id, rank, video_id, score, source code) arrays.
    """
    n = len(uid)
    use_model = model is not None and cfg.learned
    # users still wholly in cold start never see their personalised list: skip scoring it
    warm = n_eng >= cfg.cold_start_min
    ok = cidx >= 0
    explore_mask = ok & (src == SOURCE_CODE[EXPLORATION])
    rank_mask = ok  # assigned new videos are scored too: one may earn a place above its slot
    ctx = CandidateContext(
        n,
        cand_row,
        cidx,
        fat_row,
        fat_creator,
        fat_n,
        cat,
        cfg if not use_model else _with_cowatch(cfg),
        history,
        rank_mask,
    )
    bounds, fatigue, user_cw, cand_cw = ctx.bounds, ctx.fatigue, ctx.user_cw, ctx.cand_cw
    codes = model.user_codes(n_eng, seg_keys, uvec, extra) if use_model else None
    out_u, out_r, out_v, out_s, out_src = [], [], [], [], []
    for lo in range(0, n, block_users):
        hi = min(n, lo + block_users)
        a, b = bounds[lo], bounds[hi]
        sl = np.arange(a, b)[rank_mask[a:b] & warm[cand_row[a:b]]]
        cw = None if cand_cw is None else cand_cw[sl]
        ls = None
        if use_model and len(sl):
            x = feature_matrix(
                cat,
                cidx[sl],
                cand_row[sl] - lo,
                uvec[lo:hi],
                src[sl],
                fatigue[sl],
                cw,
                cfg.cowatch_scale,
            )
            ls = model.log_scores(
                x,
                cat,
                cidx[sl],
                cand_row[sl],
                codes,
                cscore[sl],
                None if extra is None else extra["n_sources"][sl],
            )
        order, adj, _pos = rank_block(
            cat,
            cidx[sl],
            cand_row[sl] - lo,
            hi - lo,
            uvec[lo:hi],
            src[sl],
            fatigue[sl],
            cfg,
            cowatch=cw,
            log_score=ls,
        )
        rows = sl[order]
        rb = np.searchsorted(cand_row[rows], np.arange(lo, hi + 1))
        for i in range(lo, hi):
            p_rows = rows[rb[i - lo] : rb[i - lo + 1]]
            ex = np.arange(bounds[i], bounds[i + 1])
            ex = ex[explore_mask[ex]]
            items, scores, srcs = _assemble(
                uid[i],
                int(n_eng[i]),
                seg_keys[i],
                cidx[p_rows],
                adj[rb[i - lo] : rb[i - lo + 1]],
                src[p_rows],
                cidx[ex],
                cscore[ex],
                watched_idx[w_off[i] : w_off[i + 1]],
                cat,
                cfg,
                uvec[i],
                user_cw[i] if user_cw else None,
            )
            k = len(items)
            out_u.append(np.full(k, uid[i], np.int64))
            out_r.append(np.arange(1, k + 1, dtype=np.int32))
            out_v.append(cat.ids[np.asarray(items, np.int64)] if k else np.zeros(0, np.int64))
            out_s.append(np.asarray(scores, np.float64))
            out_src.append(np.asarray(srcs, np.int64))
    cc = lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt)  # noqa: E731
    return (
        cc(out_u, np.int64),
        cc(out_r, np.int32),
        cc(out_v, np.int64),
        cc(out_s, np.float64),
        cc(out_src, np.int64),
    )


def _with_cowatch(cfg: RankConfig) -> RankConfig:
    """``cfg`` with a nonzero co-engagement weight, so ``user_cowatch`` computes the scores
    (a learned model reads them as a feature whatever the fallback formula's weight)."""
    if cfg.weights and cfg.weights[6] != 0.0:
        return cfg
    w = list(cfg.weights)
    w[6] = 1.0
    return dataclasses.replace(cfg, weights=tuple(w))


def user_cowatch(
    n: int,
    bounds: np.ndarray,
    cidx: np.ndarray,
    history: tuple[np.ndarray, np.ndarray] | None,
    cat: Catalog,
    cfg: RankConfig,
) -> tuple[list | None, np.ndarray | None]:
    """Each user's co-engagement scores (``Catalog.cowatch`` of their history, divided by the
    history length ** ``cowatch_norm``) and the score of each flat candidate; (None, None) when
    the ranker ignores co-engagement."""
    if history is None or len(history[1]) == 0 or cfg.weights[6] == 0.0 or len(cat.nb_keys) == 0:
        return None, None
    off, flat = history
    per_user = []
    for i in range(n):
        idx, score = cat.cowatch(flat[off[i] : off[i + 1]])
        per_user.append((idx, score / max(1, off[i + 1] - off[i]) ** cfg.cowatch_norm))
    cand = np.zeros(len(cidx))
    scratch = np.zeros(len(cat.ids))
    for i, (idx, score) in enumerate(per_user):
        if len(idx) == 0:
            continue
        scratch[idx] = score
        c = cidx[bounds[i] : bounds[i + 1]]
        cand[bounds[i] : bounds[i + 1]] = np.where(c >= 0, scratch[np.maximum(c, 0)], 0.0)
        scratch[idx] = 0.0
    return per_user, cand


def _user_side(batch: pa.RecordBatch, cat: Catalog, dim: int):
    """The per-user columns both kernels read (see ``candidate_inputs``/``user_rows``)."""
    uid = np.asarray(column(batch, "user_id"), np.int64)
    n_eng = np.asarray(column(batch, "n_eng"), np.int64)
    seg_keys = batch.column(batch.schema.get_field_index("segment")).to_pylist()
    uvec = user_vectors(batch, "embedding", dim)
    f_off, _, f_vals = list_column(batch, "fatigue")
    fat_row = np.repeat(np.arange(batch.num_rows), np.diff(f_off))
    fat_c = field_values(f_vals, "creator_id", np.int64)
    fat_n = field_values(f_vals, "impressions", np.float64)
    w_off, _, w_vals = list_column(batch, "watched")
    watched = (
        cat.index(np.asarray(w_vals.to_numpy(zero_copy_only=False), np.int64))
        if len(w_vals)
        else np.zeros(0, np.int64)
    )
    return uid, n_eng, seg_keys, uvec, fat_row, fat_c, fat_n, w_off, watched, history_column(batch)


def _feed_batch(out: tuple, ranked_by: str) -> pa.RecordBatch:
    """``rank_users`` output -> ``FEED_SCHEMA`` rows: the list's own score becomes
    ``raw_score``, ``score`` the position's ``display_score``; ``ranked_by`` is ``ranked_by``
    for the personalised rows and the list's name for the mixed-in ones."""
    u, r, v, s, src = out
    codes = pa.array(src, pa.int64())
    names = pa.array(list(OUT_SOURCES), pa.string())
    rankers = pa.array([x if x in MIXED_IN else ranked_by for x in OUT_SOURCES], pa.string())
    return pa.RecordBatch.from_arrays(
        [
            pa.array(u, pa.int64()),
            pa.array(r, pa.int32()),
            pa.array(v, pa.int64()),
            pa.array(display_score(r), pa.float64()),
            names.take(codes),
            pa.array(s, pa.float64()),
            rankers.take(codes),
        ],
        names=[f.name for f in FEED_SCHEMA.fields],
    )


def affinity_lists(batch: pa.RecordBatch) -> tuple[np.ndarray, list, list, np.ndarray] | None:
    """(offsets, kinds, keys, shares) of the ``affinity`` list column (``with_affinity``), or
    None when the rows do not carry it."""
    if batch.schema.get_field_index("affinity") < 0:
        return None
    off, _, vals = list_column(batch, "affinity")
    if len(vals) == 0:
        return off, [], [], np.zeros(0)
    return (
        off,
        vals.field("kind").to_pylist(),
        vals.field("key").to_pylist(),
        field_values(vals, "share", np.float64),
    )


def n_sources(mask: np.ndarray) -> np.ndarray:
    """How many sources produced each candidate, from the candidate kernel's source bitmask."""
    bits = (np.asarray(mask, np.int64)[:, None] >> np.arange(len(SOURCES))[None, :]) & 1
    return bits.sum(axis=1).astype(np.float64)


def rank_batch(
    batch: pa.RecordBatch, cat: Catalog, cfg: RankConfig, dim: int, model=None
) -> pa.RecordBatch:  # noqa: ANN001
    """The ranking kernel over ``user_rows`` (candidates given in the ``cands`` column)."""
    uid, n_eng, seg_keys, uvec, fat_row, fat_c, fat_n, w_off, watched, hist = _user_side(
        batch, cat, dim
    )
    c_off, _, c_vals = list_column(batch, "cands")
    cand_row = np.repeat(np.arange(batch.num_rows), np.diff(c_off))
    cidx = cat.index(field_values(c_vals, "video_id", np.int64))
    names = c_vals.field("source").to_pylist() if len(c_vals) else []
    src = np.array([SOURCE_CODE.get(x, SOURCE_CODE[TRENDING]) for x in names], np.int64)
    cscore = field_values(c_vals, "score", np.float64)
    extra = None
    if model is not None and cfg.learned:
        has_n = len(c_vals) and c_vals.type.get_field_index("n_sources") >= 0
        extra = {
            "n_sources": field_values(c_vals, "n_sources", np.float64)
            if has_n
            else np.ones(len(cidx)),
            "affinity": affinity_lists(batch),
        }
    ranked_by = ranked_by_label(cfg, model)
    return _feed_batch(
        rank_users(
            uid,
            n_eng,
            seg_keys,
            uvec,
            cand_row,
            cidx,
            src,
            cscore,
            fat_row,
            fat_c,
            fat_n,
            w_off,
            watched,
            cat,
            cfg,
            history=hist,
            model=model,
            extra=extra,
        ),
        ranked_by,
    )


def recommend_batch(
    batch: pa.RecordBatch,
    cat: Catalog,
    lists: SourceLists,
    ccfg: CandidateConfig,
    cfg: RankConfig,
    dim: int,
    model=None,
) -> pa.RecordBatch:  # noqa: ANN001
    """Candidate generation and ranking fused over ``candidate_inputs`` rows."""
    return recommend_variants(batch, cat, lists, ccfg, {"": cfg}, dim, model)[""]


def recommend_variants(
    batch: pa.RecordBatch,
    cat: Catalog,
    lists: SourceLists,
    ccfg: CandidateConfig,
    cfgs: dict[str, RankConfig],
    dim: int,
    model=None,
) -> dict[str, pa.RecordBatch]:  # noqa: ANN001
    """One candidate generation, ranked by several configurations (offline comparison);
    ``model`` scores the configurations with ``learned`` set."""
    uid, n_eng, seg_keys, uvec, fat_row, fat_c, fat_n, w_off, watched, hist = _user_side(
        batch, cat, dim
    )
    lo_min = min(c.cold_start_min for c in cfgs.values())
    row, cidx, src, cscore, mask = generate_batch(
        batch, cat, lists, ccfg, dim, full=n_eng >= lo_min
    )
    extra = None
    if model is not None and any(c.learned for c in cfgs.values()):
        extra = {"n_sources": n_sources(mask), "affinity": affinity_lists(batch)}
    return {
        name: _feed_batch(
            rank_users(
                uid,
                n_eng,
                seg_keys,
                uvec,
                row,
                cidx,
                src,
                cscore,
                fat_row,
                fat_c,
                fat_n,
                w_off,
                watched,
                cat,
                cfg,
                history=hist,
                model=model if cfg.learned else None,
                extra=extra,
            ),
            ranked_by_label(cfg, model),
        )
        for name, cfg in cfgs.items()
    }


def _assemble(
    user_id: int,
    n_eng: int,
    segment: str,
    p_idx: np.ndarray,
    p_score: np.ndarray,
    p_src: np.ndarray,
    ex_idx: np.ndarray,
    ex_score: np.ndarray,
    watched: np.ndarray,
    cat: Catalog,
    cfg: RankConfig,
    uvec: np.ndarray | None = None,
    cowatch: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[list[int], list[float], list[int]]:
    """One user's feed: personalised list, cold-start mix, exploration slots.

    In the cold-start mix the popular share comes from the user's demographic pool; once the
    user has engaged with anything (a vector or co-engaged videos exist) the pool is ordered by
    the user's score, so the first impressions already steer which popular videos come first
    (pool order otherwise).
    """
    n = cfg.top_n
    n_slots = min(cfg.explore_slots, len(ex_idx), n // max(1, cfg.explore_every))
    if n_slots:
        order = np.argsort(-ex_score, kind="stable")[:n_slots]
        ex_idx, ex_score = ex_idx[order], ex_score[order]
    else:
        ex_idx, ex_score = ex_idx[:0], ex_score[:0]
    personal = cold_start_share(n_eng, cfg.cold_start_min, cfg.cold_start_full)
    # an assigned new video the ranker itself puts above its slot keeps the place it earned
    # (it gets its exploration impression there); the others take the slots
    at_rank = {int(v): r for r, v in enumerate(p_idx)} if personal >= 1.0 else {}
    slotted: list[int] = []
    for j in range(len(ex_idx)):
        slot = (len(slotted) + 1) * cfg.explore_every - 1
        if at_rank.get(int(ex_idx[j]), n) > slot:
            slotted.append(j)
    n_slots = len(slotted)
    ex_idx, ex_score = ex_idx[slotted], ex_score[slotted]
    skip = {int(x) for x in ex_idx}
    if personal >= 1.0:
        keep = [j for j in range(len(p_idx)) if int(p_idx[j]) not in skip][: n - n_slots]
        items = [int(p_idx[j]) for j in keep]
        scores = [float(p_score[j]) for j in keep]
        srcs = [int(p_src[j]) for j in keep]
    else:
        skip |= {int(x) for x in watched[watched >= 0]}
        pool = cat.pool_scores.get(segment)
        if pool is None:
            pool = (np.zeros(0, np.int64), np.zeros(0))
        elif len(pool[0]) and (
            (uvec is not None and np.any(uvec)) or (cowatch is not None and len(cowatch[0]))
        ):
            sim = cat.emb[pool[0]] @ uvec if uvec is not None else np.zeros(len(pool[0]))
            fit = cfg.weights[0] * np.log(np.clip(sim, SIM_FLOOR, 1.0))
            fit = fit + static_log_score(cat, cfg.weights)[pool[0]]
            if cowatch is not None and len(cowatch[0]):
                at = np.minimum(np.searchsorted(cowatch[0], pool[0]), len(cowatch[0]) - 1)
                cw = np.where(cowatch[0][at] == pool[0], cowatch[1][at], 0.0)
                fit = fit + cowatch_log_factor(cfg.weights[6], cfg.cowatch_scale, cw)
            order = np.argsort(-fit, kind="stable")
            pool = (pool[0][order], pool[1][order])
        d_idx, d_score = cat.diverse
        if len(d_idx):
            perm = np.random.default_rng([cfg.seed, int(user_id) & 0x7FFFFFFF]).permutation(
                len(d_idx)
            )
            d_idx, d_score = d_idx[perm], d_score[perm]
        lists = [
            (p_idx, p_score, 0),
            (pool[0], pool[1], 1),
            (d_idx, d_score, 2),
        ]
        shares = [
            personal,
            (1 - personal) * cfg.cold_popular_share,
            (1 - personal) * (1 - cfg.cold_popular_share),
        ]
        items, scores, which = interleave(lists, shares, n - n_slots, skip)
        src_of = {int(i): int(s) for i, s in zip(p_idx, p_src, strict=True)}
        srcs = [
            src_of[it] if w == 0 else len(SOURCES) + (w - 1)
            for it, w in zip(items, which, strict=True)
        ]
    # exploration slots: positions every, 2*every, ... (1-based)
    for j in range(n_slots):
        at = min(len(items), (j + 1) * cfg.explore_every - 1)
        items.insert(at, int(ex_idx[j]))
        scores.insert(at, float(ex_score[j]))
        srcs.insert(at, SOURCE_CODE[EXPLORATION])
    return items[:n], scores[:n], srcs[:n]


# --- Spark side --------------------------------------------------------------------------------


def user_rows(
    users: DataFrame,
    candidates: DataFrame,
    events: DataFrame,
    user_emb: DataFrame,
    history: DataFrame,
    *,
    fatigue_since_epoch: float,
    cold_start_full: int,
) -> DataFrame:
    """One row per user: user_id, segment, n_eng, embedding, cands (video_id, source, score),
    fatigue (creator_id, impressions in the look-back), watched (only for users still in the
    cold-start blend; others never need it), history (recent positives,
    ``cowatch.user_history``)."""
    counts = events.groupBy("user_id").agg(F.count(F.lit(1)).alias("n_eng"))
    base = (
        users.select("user_id", segment_col().alias("segment"))
        .join(counts, "user_id", "left")
        .fillna(0, subset=["n_eng"])
    )
    fields = ["video_id", "source", F.col("score").cast("double").alias("score")]
    if "sources" in candidates.columns:  # gold.candidates: how many sources produced it
        fields.append(F.greatest(F.size("sources"), F.lit(1)).cast("double").alias("n_sources"))
    cands = candidates.groupBy("user_id").agg(F.collect_list(F.struct(*fields)).alias("cands"))
    fat = (
        events.where(F.col("event_time").cast("double") >= F.lit(fatigue_since_epoch))
        .where(F.col("creator_id").isNotNull())  # videos without a creator tire no creator
        .groupBy("user_id", "creator_id")
        .agg(F.count(F.lit(1)).cast("double").alias("impressions"))
        .groupBy("user_id")
        .agg(F.collect_list(F.struct("creator_id", "impressions")).alias("fatigue"))
    )
    cold = base.where(F.col("n_eng") < cold_start_full).select("user_id")
    watched = (
        events.join(cold, "user_id", "left_semi")
        .groupBy("user_id")
        .agg(F.collect_set("video_id").alias("watched"))
    )
    empty_c = F.array().cast(
        "array<struct<video_id:bigint,source:string,score:double"
        + (",n_sources:double>>" if "sources" in candidates.columns else ">>")
    )
    empty_f = F.array().cast("array<struct<creator_id:bigint,impressions:double>>")
    return (
        base.join(user_emb.select("user_id", "embedding"), "user_id", "left")
        .join(cands, "user_id", "left")
        .join(fat, "user_id", "left")
        .join(watched, "user_id", "left")
        .join(history, "user_id", "left")
        .select(
            "user_id",
            "segment",
            "n_eng",
            "embedding",
            F.coalesce("cands", empty_c).alias("cands"),
            F.coalesce("fatigue", empty_f).alias("fatigue"),
            F.coalesce("watched", F.array().cast("array<bigint>")).alias("watched"),
            F.coalesce("history", F.array().cast("array<bigint>")).alias("history"),
        )
    )


def with_affinity(rows: DataFrame, affinities: DataFrame) -> DataFrame:
    """``rows`` (one per user) with ``affinity``: the user's hashtag/sound/creator affinities
    (gold.user_affinities) as (kind, key, share), share = score / the user's total of that
    kind, so a light and a heavy user's affinities compare (the learned ranker's features)."""
    tot = affinities.groupBy("user_id", "kind").agg(F.sum("score").alias("_tot"))
    aff = (
        affinities.join(tot, ["user_id", "kind"])
        .where(F.col("_tot") > 0)
        .groupBy("user_id")
        .agg(
            F.collect_list(
                F.struct(
                    "kind", "key", (F.col("score") / F.col("_tot")).cast("double").alias("share")
                )
            ).alias("affinity")
        )
    )
    empty = F.array().cast("array<struct<kind:string,key:string,share:double>>")
    return rows.join(aff, "user_id", "left").withColumn("affinity", F.coalesce("affinity", empty))


def rank_feeds(rows: DataFrame, cat: Catalog, cfg: RankConfig, dim: int, model=None) -> DataFrame:  # noqa: ANN001
    """Run the kernel over ``user_rows``: ``FEED_SCHEMA`` rows. ``model``
    (a ``learned.BoundRanker``, with ``cfg.learned``) is broadcast with the catalogue."""
    bc = rows.sparkSession.sparkContext.broadcast((cat, model))

    def kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        c, m = bc.value
        for batch in batches:
            if batch.num_rows:
                yield rank_batch(batch, c, cfg, dim, m)

    return rows.mapInArrow(kernel, FEED_SCHEMA)


def recommend(
    rows: DataFrame,
    cat: Catalog,
    lists: SourceLists,
    ccfg: CandidateConfig,
    cfg: RankConfig | dict[str, RankConfig],
    dim: int,
    model=None,  # noqa: ANN001
) -> DataFrame:
    """Candidates and feeds in one pass over ``candidates.candidate_inputs`` rows (no candidate
    rows are materialised): ``FEED_SCHEMA`` rows. Given a dict of
    configurations, the candidates are generated once and ranked by each; the output gets a
    ``model`` column naming the configuration. ``model``: the learned ranker of the
    configurations with ``learned`` set (rows need ``with_affinity``)."""
    bc = rows.sparkSession.sparkContext.broadcast((cat, lists, model))
    cfgs = cfg if isinstance(cfg, dict) else {"": cfg}
    multi = isinstance(cfg, dict)
    schema = (
        T.StructType([T.StructField("model", T.StringType()), *FEED_SCHEMA.fields])
        if multi
        else FEED_SCHEMA
    )

    def kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        c, lst, m = bc.value
        for batch in batches:
            if batch.num_rows == 0:
                continue
            out = recommend_variants(batch, c, lst, ccfg, cfgs, dim, m)
            for name, b in out.items():
                if multi:
                    b = pa.RecordBatch.from_arrays(
                        [pa.array([name] * b.num_rows, pa.string()), *b.columns],
                        names=["model", *b.schema.names],
                    )
                yield b

    return rows.mapInArrow(kernel, schema)
