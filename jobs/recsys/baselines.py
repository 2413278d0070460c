"""Textbook baselines of the offline evaluation, each fit on the evaluation's training split.

Every baseline is a function of training frames (nothing from the held-out part) to a frame of
``user_id, video_id, rank`` (1 = first) ``, score``: the top ``k`` ready videos per evaluated
user, never one the user already watched in training. The evaluation scores them on the same
held-out positives as the engine (``jobs.recsys.offline``).

* ``most_popular``: the ready videos most users engaged with in training.
* ``item_cooccurrence``: item-kNN, the cosine of co-engagement (users(i and j) / sqrt(users(i)
  users(j)) over each user's recent positives, each video's best neighbours), summed over the
  user's history; the engine's ``cowatch`` score on its own.
* ``als``: implicit ALS alone (Spark ML, ``implicitPrefs``; Hu, Koren and Volinsky 2008), fit on
  the training positives with confidence 1 + alpha x (positive impressions + likes + shares +
  comments); a user's ranking is the dot product of the user's factors with every ready video's
  factors, computed as blocked matrix products over Arrow batches of users on the executors
  (the item factors are broadcast), not per pair.
* ``ease``: EASE (Steck 2019, "Embarrassingly shallow autoencoders"): ``B = I - P / diag(P)``,
  ``P = (X'X + lambda I)^-1`` over the binary user x video matrix of training positives, scores
  ``x_u B``. lambda is chosen per run by a validation search inside the training split (see
  ``ease``). A dense n x n solve on the driver is EASE's nature: bounded to ``max_items`` videos
  (20,000: about 6 GB of float32 at the peak) and ``max_pairs`` training pairs; above either it
  is skipped, and says so.
* ``backfill``: a personalised baseline's list topped up to k with the popular list, so a user
  the model cannot score (no training positive) gets what any deployment of it would show.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.recsys import cowatch
from jobs.recsys.catalogue import column, list_column, user_vectors
from jobs.recsys.ease import (
    EASE_MAX_ITEMS,
    EASE_MAX_PAIRS,
    choose_lambda,
    ease_scores_top_k,
    ease_weights,
    top_k_masked,
    validation_key,
)

logger = logging.getLogger(__name__)

RECS_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.LongType()),
        T.StructField("video_id", T.LongType()),
        T.StructField("rank", T.IntegerType()),
        T.StructField("score", T.DoubleType()),
    ]
)


@dataclass
class Baseline:
    """A baseline's recommendations (None when it could not run) and what it chose or why not."""

    recs: DataFrame | None
    info: dict[str, Any] = field(default_factory=dict)


# --- training frames --------------------------------------------------------------------------


def positive_pairs(events: DataFrame, min_completion: float) -> DataFrame:
    """user_id, video_id, t (epoch seconds of the latest positive impression), rating (positive
    impressions + likes + shares + comments): every (user, video) the user engaged with
    (``cowatch.is_positive``) in ``events`` (silver watch-history columns)."""
    flag = lambda c: F.coalesce(F.col(c), F.lit(False)).cast("double")  # noqa: E731
    return (
        events.where(cowatch.is_positive(min_completion))
        .groupBy("user_id", "video_id")
        .agg(
            F.max(F.col("event_time").cast("double")).alias("t"),
            F.sum(F.lit(1.0) + flag("liked") + flag("shared") + flag("commented")).alias("rating"),
        )
    )


# --- most popular, item-kNN --------------------------------------------------------------------


def most_popular(
    train_pos: DataFrame,
    users: DataFrame,
    watched: DataFrame,
    ready: DataFrame,
    k: int,
    extra: int = 100,
) -> DataFrame:
    """The ready videos with the most engaged users in ``train_pos`` (user_id, video_id), minus
    what each of ``users`` watched; a user who watched more than ``extra`` of the top
    ``k + extra`` gets fewer than k."""
    pop = (
        train_pos.join(ready.select("video_id"), "video_id", "left_semi")
        .groupBy("video_id")
        .agg(F.count(F.lit(1)).cast("double").alias("score"))
    )
    top = pop.withColumn(
        "_r", F.row_number().over(Window.orderBy(F.col("score").desc(), F.col("video_id")))
    ).where(F.col("_r") <= k + extra)
    cands = (
        users.select("user_id")
        .crossJoin(F.broadcast(top.select("video_id", "score")))
        .join(watched, ["user_id", "video_id"], "left_anti")
    )
    return _top(cands, k)


def item_cooccurrence(
    recent: DataFrame, neighbours: DataFrame, watched: DataFrame, k: int
) -> DataFrame:
    """Item-kNN: a user's score for video j is the sum of the cosine sim(i, j) over the user's
    recent engaged videos i (``cowatch.recent_positives``), with ``neighbours`` from
    ``cowatch.item_neighbours`` of the same training data (each video's best ready neighbours)."""
    scores = cowatch.user_scores(recent, neighbours).join(
        watched, ["user_id", "video_id"], "left_anti"
    )
    return _top(scores, k)


def _top(scores: DataFrame, k: int) -> DataFrame:
    """The ``k`` best (user_id, video_id, score) per user (ties: smaller video id first)."""
    w = Window.partitionBy("user_id").orderBy(F.col("score").desc(), F.col("video_id"))
    return (
        scores.withColumn("rank", F.row_number().over(w))
        .where(F.col("rank") <= k)
        .select("user_id", "video_id", "rank", F.col("score").cast("double").alias("score"))
    )


def backfill(recs: DataFrame, popular: DataFrame, k: int) -> DataFrame:
    """``recs`` topped up to ``k`` per user with ``popular``'s list (each video once, the
    model's own videos first): a user missing from ``recs`` gets the popular list."""
    both = recs.select("user_id", "video_id", "rank", "score").unionByName(
        popular.select(
            "user_id",
            "video_id",
            (F.col("rank") + F.lit(k)).alias("rank"),
            F.lit(None).cast("double").alias("score"),
        )
    )
    best = both.groupBy("user_id", "video_id").agg(
        F.min("rank").alias("_r"), F.max("score").alias("score")
    )
    w = Window.partitionBy("user_id").orderBy(F.col("_r"), F.col("video_id"))
    return (
        best.withColumn("rank", F.row_number().over(w))
        .where(F.col("rank") <= k)
        .select("user_id", "video_id", "rank", "score")
    )


# --- shared: recommendation rows ------------------------------------------------------------


def _rows_arrays(
    user_ids: np.ndarray, idx: np.ndarray, sc: np.ndarray, item_ids: np.ndarray
) -> list[pa.Array]:
    """(users x k) top-k positions -> user_id, video_id, rank, score columns (gaps dropped)."""
    ok = idx >= 0
    rows, pos = np.nonzero(ok)
    return [
        pa.array(np.asarray(user_ids, np.int64)[rows], pa.int64()),
        pa.array(item_ids[idx[ok]], pa.int64()),
        pa.array((pos + 1).astype(np.int32), pa.int32()),
        pa.array(sc[ok], pa.float64()),
    ]


# --- ALS ------------------------------------------------------------------------------------------


def als(
    pairs: DataFrame,
    users: DataFrame,
    watched: DataFrame,
    ready: DataFrame,
    k: int,
    *,
    rank: int,
    max_iter: int,
    reg: float,
    alpha: float,
    seed: int,
    block: int = 512,
) -> Baseline:
    """Implicit ALS alone. ``pairs``: ``positive_pairs`` of the training split (its ``rating``
    is the confidence count); ``users``: whom to recommend to; ``watched``: (user_id, video_id)
    training impressions to exclude; ``ready``: video_id of recommendable videos.

    Ids are re-indexed densely (Spark ML ALS takes 32-bit ids; upload video ids start at
    10^12). The rank is capped at min(users, videos) of the fit; a user with no training positive
    has no factors and gets nothing (``backfill`` tops the list up)."""
    from pyspark.ml.recommendation import ALS

    spark = pairs.sparkSession
    rated = pairs.where(F.col("rating") > 0).select("user_id", "video_id", "rating")
    n_users, n_items = rated.agg(F.countDistinct("user_id"), F.countDistinct("video_id")).first()
    if min(n_users, n_items) < 2:
        return Baseline(None, {"skipped": f"{n_users} user(s), {n_items} video(s) with a positive"})
    r = min(rank, n_users, n_items)
    idx_u = (
        rated.select("user_id")
        .distinct()
        .withColumn("_u", (F.row_number().over(Window.orderBy("user_id")) - 1).cast("int"))
    )
    idx_i = (
        rated.select("video_id")
        .distinct()
        .withColumn("_i", (F.row_number().over(Window.orderBy("video_id")) - 1).cast("int"))
    )
    fit = (
        rated.join(idx_u, "user_id")
        .join(idx_i, "video_id")
        .select("_u", "_i", F.col("rating").cast("float").alias("rating"))
    )
    blocks = max(2, min(8, spark.sparkContext.defaultParallelism))
    model = ALS(
        rank=r,
        maxIter=max_iter,
        regParam=reg,
        alpha=alpha,
        implicitPrefs=True,
        userCol="_u",
        itemCol="_i",
        ratingCol="rating",
        seed=seed,
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        intermediateStorageLevel="MEMORY_AND_DISK",
        finalStorageLevel="MEMORY_AND_DISK",
    ).fit(fit)
    items = (
        model.itemFactors.join(idx_i, F.col("id") == F.col("_i"))
        .join(ready.select("video_id"), "video_id", "left_semi")
        .select("video_id", "features")
        .orderBy("video_id")
        .toArrow()
    )
    item_ids = np.asarray(items.column("video_id").to_numpy(), np.int64)
    if len(item_ids) == 0:
        return Baseline(None, {"skipped": "no ready video has ALS factors", "rank": r})
    flat = items.column("features").combine_chunks().flatten()
    vecs = np.asarray(flat.to_numpy(zero_copy_only=False), np.float32).reshape(len(item_ids), r)
    seen = (
        watched.join(users.select("user_id"), "user_id", "left_semi")
        .groupBy("user_id")
        .agg(F.collect_list("video_id").alias("watched"))
    )
    rows = (
        model.userFactors.join(idx_u, F.col("id") == F.col("_u"))
        .join(users.select("user_id"), "user_id", "left_semi")
        .join(seen, "user_id", "left")
        .select(
            "user_id",
            "features",
            F.coalesce("watched", F.array().cast("array<bigint>")).alias("watched"),
        )
    )
    bc = spark.sparkContext.broadcast((item_ids, vecs))

    def kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        ids, mat = bc.value
        for batch in batches:
            if batch.num_rows:
                yield from _dot_top_k(batch, ids, mat, k, block)

    recs = rows.mapInArrow(kernel, RECS_SCHEMA)
    return Baseline(
        recs,
        {
            "rank": r,
            "users_fit": n_users,
            "videos_fit": n_items,
            "reg": reg,
            "alpha": alpha,
            "iterations": max_iter,
        },
    )


def _dot_top_k(
    batch: pa.RecordBatch, item_ids: np.ndarray, mat: np.ndarray, k: int, block: int
) -> Iterator[pa.RecordBatch]:
    """One Arrow batch of (user_id, features, watched): top-k of features x mat' per user,
    block by block of users (one matrix product per block)."""
    n = batch.num_rows
    uid = np.asarray(column(batch, "user_id"), np.int64)
    u = user_vectors(batch, "features", mat.shape[1])
    off, _, vals = list_column(batch, "watched")
    wv = np.asarray(vals.to_numpy(zero_copy_only=False) if len(vals) else [], np.int64)
    pos = np.minimum(np.searchsorted(item_ids, wv), len(item_ids) - 1)
    hit = item_ids[pos] == wv if len(wv) else np.zeros(0, bool)
    row_of = np.repeat(np.arange(n), np.diff(off))
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        sel = hit & (row_of >= lo) & (row_of < hi)
        idx, sc = top_k_masked(u[lo:hi] @ mat.T, row_of[sel] - lo, pos[sel], k)
        yield pa.RecordBatch.from_arrays(
            _rows_arrays(uid[lo:hi], idx, sc, item_ids), names=RECS_SCHEMA.fieldNames()
        )


# --- EASE -------------------------------------------------------------------------------------


def ease(
    pairs: DataFrame,
    users: DataFrame,
    watched: DataFrame,
    ready: DataFrame,
    k: int,
    *,
    validation: str,
    fraction: float,
    seed: int,
    lam: float | None = None,
    max_items: int = EASE_MAX_ITEMS,
    max_pairs: int = EASE_MAX_PAIRS,
) -> Baseline:
    """EASE on the driver. ``pairs``: ``positive_pairs`` of the training split (binary: the
    rating is ignored); ``validation``: "time" (each user's latest positives) or "random" (a
    seeded draw) for the lambda search; ``lam`` given skips the search.

    Bounded: skipped (``recs`` None, ``info["skipped"]`` says why) when more than ``max_items``
    videos have a training positive or there are more than ``max_pairs`` training pairs. What
    comes to the driver: the training pairs (user, video, time) and the evaluated users'
    watched pairs; the peak is about three n x n matrices (float64 up to 5,000 videos, float32
    above)."""
    from scipy import sparse

    spark = pairs.sparkSession
    n_items, n_pairs = pairs.agg(F.countDistinct("video_id"), F.count(F.lit(1))).first()
    info: dict[str, Any] = {"items": int(n_items), "pairs": int(n_pairs)}
    if n_items == 0:
        return Baseline(None, {**info, "skipped": "no training positive"})
    if n_items > max_items:
        return Baseline(
            None,
            {**info, "limit": "items", "skipped": f"catalogue of {n_items} videos > {max_items}"},
        )
    if n_pairs > max_pairs:
        return Baseline(
            None, {**info, "limit": "pairs", "skipped": f"{n_pairs} training pairs > {max_pairs}"}
        )
    dtype = np.float64 if n_items <= 5_000 else np.float32
    tab = pairs.select("user_id", "video_id", "t").toArrow()
    user = np.asarray(tab.column("user_id").to_numpy(), np.int64)
    vid = np.asarray(tab.column("video_id").to_numpy(), np.int64)
    item_ids, item = np.unique(vid, return_inverse=True)
    ready_ids = np.asarray(
        ready.select("video_id").distinct().toArrow().column(0).to_numpy(), np.int64
    )
    allowed = np.isin(item_ids, ready_ids)
    if not allowed.any():
        return Baseline(None, {**info, "skipped": "no ready video has a training positive"})
    if lam is None:
        key = validation_key(tab.column("t").to_numpy(zero_copy_only=False), validation, seed)
        lam, grid = choose_lambda(
            user, item, key, len(item_ids), allowed, k, fraction=fraction, seed=seed, dtype=dtype
        )
        info["validation_ndcg"] = {round(x, 4): round(v, 5) for x, v in sorted(grid.items())}
    info["lambda"] = float(lam)
    users_all, u_idx = np.unique(user, return_inverse=True)
    x = sparse.csr_matrix(
        (np.ones(len(user)), (u_idx, item)), shape=(len(users_all), len(item_ids))
    )
    b = ease_weights((x.T @ x).toarray().astype(dtype), float(lam))
    # the evaluated users that have a training positive, and what they watched
    want = np.asarray(users.select("user_id").distinct().toArrow().column(0).to_numpy(), np.int64)
    want = np.intersect1d(want, users_all)
    rows = np.searchsorted(users_all, want)
    seen = (
        watched.join(users.select("user_id"), "user_id", "left_semi")
        .select("user_id", "video_id")
        .toArrow()
    )
    su = np.asarray(seen.column("user_id").to_numpy(), np.int64)
    sv = np.asarray(seen.column("video_id").to_numpy(), np.int64)
    pos = np.minimum(np.searchsorted(item_ids, sv), len(item_ids) - 1)
    r = np.searchsorted(want, su)
    ok = (item_ids[pos] == sv) & (r < len(want))
    ok[ok] &= want[r[ok]] == su[ok]
    excl = sparse.csr_matrix(
        (np.ones(int(ok.sum())), (r[ok], pos[ok])), shape=(len(want), len(item_ids))
    )
    excl = excl + x[rows]  # training positives are watched too; explicit for safety
    idx, sc = ease_scores_top_k(x[rows], b, excl, allowed, k)
    del b
    table = pa.Table.from_arrays(
        _rows_arrays(want, idx, sc, item_ids), names=RECS_SCHEMA.fieldNames()
    )
    recs = spark.createDataFrame(table if table.num_rows else [], RECS_SCHEMA)
    return Baseline(recs, info)
