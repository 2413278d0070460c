"""EASE (Steck 2019), the closed-form item-item model, and the numpy it shares with the baselines.

Two users: the ``ease`` baseline of ``fyp evaluate`` (``jobs.recsys.baselines``) and the engine's
item model (``ease_neighbours``): when the catalogue is small enough for a dense n x n solve, the
engine's item-item neighbours (gold.video_neighbours, the ``cowatch`` source and ranking factor)
are EASE's weights instead of cosine co-engagement. Lambda is chosen per deployment, by
validation inside the data the model is fit on (``choose_lambda``), never a constant.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

logger = logging.getLogger(__name__)

#: EASE is skipped above this many videos with a training positive (dense n x n solve).
EASE_MAX_ITEMS = 20_000
#: ... and above this many distinct training (user, video) positives (collected to the driver).
EASE_MAX_PAIRS = 20_000_000
#: lambda grid of the validation search, as multiples of the mean diagonal of X'X (the mean
#: number of users per video): scale-free, so the same grid suits a small and a large log. A
#: best value at either end extends the grid by one step that way (at most ``EASE_EXTEND``).
EASE_LAMBDA_GRID = (0.25, 1.0, 4.0, 16.0)
EASE_EXTEND = 3
#: Validation users scored per lambda (a seeded sample when there are more).
EASE_VALIDATION_USERS = 5_000
#: The lambda ``ease_neighbours`` chose, by the ``recent`` frame it was fit on (this process).
_CHOSEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def chosen_lambda(recent: DataFrame | None) -> float | None:
    """The lambda ``ease_neighbours`` chose when fit on ``recent`` in this process, or None."""
    return None if recent is None else _CHOSEN.get(recent)


def top_k_masked(
    scores: np.ndarray, excl_rows: np.ndarray, excl_cols: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``scores`` the ``k`` best columns, best first (ties: lower column first),
    never an excluded (row, column) pair; column -1 (score -inf) where a row has fewer than k
    allowed columns. ``scores`` is modified in place."""
    n_rows, n_cols = scores.shape
    kk = min(k, n_cols)
    if n_rows == 0 or kk == 0:
        return np.full((n_rows, k), -1, np.int64), np.full((n_rows, k), -np.inf)
    if len(excl_rows):
        scores[excl_rows, excl_cols] = -np.inf
    part = (
        np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        if kk < n_cols
        else np.tile(np.arange(n_cols), (n_rows, 1))
    )
    ps = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -ps), axis=1)
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    sc = np.take_along_axis(ps, order, axis=1).astype(np.float64)
    idx[~np.isfinite(sc)] = -1
    if kk < k:
        idx = np.pad(idx, ((0, 0), (0, k - kk)), constant_values=-1)
        sc = np.pad(sc, ((0, 0), (0, k - kk)), constant_values=-np.inf)
    return idx, sc


def ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    """EASE's closed form: B = I - P / diag(P) with P = (gram + lam I)^-1 (column j divided by
    P_jj), so diag(B) = 0. ``gram`` = X'X is consumed (overwritten) to keep the peak at two
    n x n matrices."""
    n = gram.shape[0]
    gram[np.diag_indices(n)] += lam
    p = np.linalg.inv(gram)
    del gram
    p /= -np.diag(p)[None, :]
    p[np.diag_indices(n)] = 0.0
    return p


def ease_scores_top_k(
    x: Any, b: np.ndarray, excl: Any, allowed: np.ndarray | None, k: int, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of x B per row (``x``: scipy CSR rows x n; ``excl``: CSR of the same shape
    whose non-zeros are excluded; ``allowed``: bool mask of recommendable columns)."""
    n_rows = x.shape[0]
    idx_out = np.full((n_rows, k), -1, np.int64)
    sc_out = np.full((n_rows, k), -np.inf)
    for lo in range(0, n_rows, block):
        hi = min(n_rows, lo + block)
        s = np.asarray(x[lo:hi] @ b, dtype=np.float64)
        if allowed is not None:
            s[:, ~allowed] = -np.inf
        ex = excl[lo:hi].tocoo()
        idx_out[lo:hi], sc_out[lo:hi] = top_k_masked(s, ex.row, ex.col, k)
    return idx_out, sc_out


def ndcg_at_k(top: np.ndarray, relevant: Any, k: int) -> np.ndarray:
    """Per row: binary-gain nDCG@k of the ``top`` positions (-1 = empty slot) against the
    non-zeros of ``relevant`` (CSR, same rows)."""
    rel = relevant.tocsr()
    n_rel = np.diff(rel.indptr)
    gains = np.zeros(top.shape, np.float64)
    for i in range(top.shape[0]):
        cols = rel.indices[rel.indptr[i] : rel.indptr[i + 1]]
        gains[i] = np.isin(top[i], cols) & (top[i] >= 0)
    disc = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = gains @ disc
    ideal = np.cumsum(disc)[np.minimum(np.maximum(n_rel, 1), top.shape[1]) - 1]
    return np.where(n_rel > 0, dcg / ideal, 0.0)


def validation_split(user: np.ndarray, key: np.ndarray, fraction: float) -> np.ndarray:
    """Bool per pair: held out for validation. Per user with at least 2 pairs, the
    max(1, floor(fraction x n)) pairs with the largest ``key`` (time: the latest; random: a
    seeded draw); ties: later position."""
    order = np.lexsort((np.arange(len(user)), key, user))
    u_sorted = user[order]
    start = np.searchsorted(u_sorted, u_sorted, side="left")
    end = np.searchsorted(u_sorted, u_sorted, side="right")
    n = end - start
    n_val = np.where(n >= 2, np.maximum(1, np.floor(n * fraction)), 0)
    from_end = end - 1 - np.arange(len(order))
    out = np.zeros(len(user), bool)
    out[order] = from_end < n_val
    return out


def validation_key(t: np.ndarray, validation: str, seed: int) -> np.ndarray:
    """The order ``validation_split`` holds out by: the positives' times (``time``: each user's
    latest) or a seeded uniform draw (``random``)."""
    if validation == "time":
        return np.asarray(t, np.float64)
    if validation == "random":
        return np.random.default_rng(seed).random(len(t))
    raise ValueError(f"validation must be 'time' or 'random', got {validation!r}")


def choose_lambda(
    user: np.ndarray,
    item: np.ndarray,
    key: np.ndarray,
    n_items: int,
    allowed: np.ndarray | None,
    k: int,
    *,
    fraction: float,
    seed: int,
    grid: Sequence[float] = EASE_LAMBDA_GRID,
    extend: int = EASE_EXTEND,
    max_users: int = EASE_VALIDATION_USERS,
    dtype=np.float64,
) -> tuple[float, dict[float, float]]:
    """EASE's lambda by validation inside the training split: hold out each user's last (or a
    random, by ``key``) ``fraction`` of positives, fit on the rest for each lambda of ``grid``
    (x the mean diagonal of the fit's X'X), score nDCG@k of the held-out part on at most
    ``max_users`` users. Returns (best lambda, {lambda: nDCG})."""
    from scipy import sparse

    val = validation_split(user, key, fraction)
    users, u_idx = np.unique(user, return_inverse=True)
    shape = (len(users), n_items)
    x_fit = sparse.csr_matrix((np.ones(int((~val).sum())), (u_idx[~val], item[~val])), shape=shape)
    x_val = sparse.csr_matrix((np.ones(int(val.sum())), (u_idx[val], item[val])), shape=shape)
    rows = np.flatnonzero(np.diff(x_val.indptr) > 0)
    if len(rows) == 0:
        return float(grid[0]), {}
    if len(rows) > max_users:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_users, replace=False))
    gram = (x_fit.T @ x_fit).toarray().astype(dtype)
    scale = max(float(np.mean(np.diag(gram))), 1e-9)
    results: dict[float, float] = {}

    def score(mult: float) -> float:
        lam = mult * scale
        b = ease_weights(gram.copy(), lam)
        top, _ = ease_scores_top_k(x_fit[rows], b, x_fit[rows], allowed, k)
        results[lam] = float(np.mean(ndcg_at_k(top, x_val[rows], k)))
        return results[lam]

    mults = list(grid)
    vals = [score(m) for m in mults]
    for _ in range(extend):
        best = int(np.argmax(vals))
        if best == 0:
            mults.insert(0, mults[0] / 4)
            vals.insert(0, score(mults[0]))
        elif best == len(mults) - 1:
            mults.append(mults[-1] * 4)
            vals.append(score(mults[-1]))
        else:
            break
    best = int(np.argmax(vals))
    return mults[best] * scale, results


def neighbour_weights(
    user: np.ndarray,
    item: np.ndarray,
    key: np.ndarray,
    n_items: int,
    allowed: np.ndarray,
    k: int,
    *,
    fraction: float,
    seed: int,
    lam: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Each item's ``k`` largest positive EASE weights to an ``allowed`` item: (source position,
    neighbour position, weight), plus what was chosen. The weights are put on the cosine scale
    the ranking's co-engagement factor reads (``scale``: mean best cosine / mean best EASE
    weight over the items that have both, from the same X'X), so swapping the item model does
    not silently re-weight that factor. ``lam``: fit at this lambda (no validation search; the
    hybrid blend's refit reuses the lambda the run's own fit chose)."""
    from scipy import sparse

    grid: dict[float, float] = {}
    if lam is None:
        lam, grid = choose_lambda(
            user, item, key, n_items, allowed, k=10, fraction=fraction, seed=seed
        )
    users, u_idx = np.unique(user, return_inverse=True)
    x = sparse.csr_matrix((np.ones(len(user)), (u_idx, item)), shape=(len(users), n_items))
    x.data[:] = 1.0  # binary even when a pair repeats
    gram = (x.T @ x).toarray()
    diag = np.sqrt(np.maximum(np.diag(gram), 1e-12))
    cos = gram / diag[:, None] / diag[None, :]
    np.fill_diagonal(cos, 0.0)
    cos[:, ~allowed] = 0.0
    b = ease_weights(gram, lam)
    b[:, ~allowed] = -np.inf
    np.fill_diagonal(b, -np.inf)
    idx, w = top_k_masked(b, np.zeros(0, np.int64), np.zeros(0, np.int64), k)
    del b
    best_w, best_cos = w[:, 0], cos.max(axis=1)
    both = (best_w > 0) & np.isfinite(best_w) & (best_cos > 0)
    scale = float(best_cos[both].mean() / best_w[both].mean()) if both.any() else 1.0
    keep = (idx >= 0) & np.isfinite(w) & (w > 0)
    rows = np.nonzero(keep)[0]
    info = {
        "model": "ease",
        "items": int(n_items),
        "lambda": float(lam),
        "scale": scale,
        "validation_ndcg": {round(a, 4): round(v, 5) for a, v in sorted(grid.items())},
    }
    return rows, idx[keep], w[keep] * scale, info


def ease_neighbours(
    recent: DataFrame,
    ready: DataFrame,
    k: int,
    *,
    max_items: int,
    max_pairs: int = EASE_MAX_PAIRS,
    fraction: float = 0.2,
    seed: int = 42,
    validation: str = "time",
) -> tuple[DataFrame | None, dict[str, Any]]:
    """gold.video_neighbours from EASE over the users' recent positives (``recent``:
    ``cowatch.recent_positives``), or (None, why) when the catalogue (videos with a positive)
    is above ``max_items`` or the pairs above ``max_pairs``: the caller falls back to cosine
    co-engagement. Lambda is validated on a held-out slice of the kind the run is asked to
    predict (``validation``: each user's latest positives, the nightly's future; or a seeded
    random draw, the gaps ``fyp evaluate --holdout random`` scores, as the EASE baseline
    validates its own): the two can want lambdas 4x apart, worth 0.02 nDCG@10 on a viral
    world's random hold-out."""
    spark = recent.sparkSession
    n_items, n_pairs = recent.agg(F.countDistinct("video_id"), F.count(F.lit(1))).first()
    if not n_items:
        return None, {"model": "cosine", "why": "no positive"}
    if n_items > max_items:
        return None, {"model": "cosine", "why": f"{n_items} videos > rec_ease_max_items"}
    if n_pairs > max_pairs:
        return None, {"model": "cosine", "why": f"{n_pairs} pairs > {max_pairs}"}
    tab = recent.select("user_id", "video_id", F.col("t").cast("double").alias("t")).toArrow()
    user = np.asarray(tab.column("user_id").to_numpy(), np.int64)
    vid = np.asarray(tab.column("video_id").to_numpy(), np.int64)
    key = validation_key(tab.column("t").to_numpy(zero_copy_only=False), validation, seed)
    item_ids, item = np.unique(vid, return_inverse=True)
    ready_ids = np.asarray(ready.toArrow().column("video_id").to_numpy(), np.int64)
    allowed = np.isin(item_ids, ready_ids)
    src, nb, w, info = neighbour_weights(
        user, item, key, len(item_ids), allowed, k, fraction=fraction, seed=seed
    )
    _CHOSEN[recent] = info["lambda"]
    counts = np.bincount(src, minlength=len(item_ids))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.arange(len(src)) - starts[src] + 1
    table = pa.table(
        {
            "video_id": pa.array(item_ids[src], pa.int64()),
            "neighbour_id": pa.array(item_ids[nb], pa.int64()),
            "rank": pa.array(rank, pa.int32()),
            "sim": pa.array(w, pa.float64()),
        }
    )
    logger.info(
        "item model: EASE over %d videos, lambda %.4g, %d neighbours",
        n_items,
        info["lambda"],
        len(src),
    )
    schema = "video_id bigint, neighbour_id bigint, rank int, sim double"
    return spark.createDataFrame(table if table.num_rows else [], schema), info
