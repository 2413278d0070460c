"""Candidate generation (design, Phase 1): per-source lists with quotas, filters and dedupe.

Sources: videos of followed creators (200), of the hashtags the user engaged with (300), of the
sounds the user engaged with (200), trending (300), the embedding nearest neighbours (200), the
co-engagement neighbours of the user's recent positives (200, ``cowatch``, see
``jobs.recsys.cowatch``) and the user's new-video exploration assignments (no quota). Per user:

1. every source proposes up to ``ceil(quota * overfetch)`` videos (the surplus absorbs the
   filtering): followed creators' top lists, merged by score; for hashtags and sounds, the
   quota is shared among the user's keys in proportion to affinity (a key with share ``s``
   contributes its ``ceil(fetch * s)`` best videos, candidate score ``s * list score``); the
   global trending list; the nearest ready videos by cosine; the videos with the highest
   co-engagement score; the exploration assignments;
2. videos that are not ready (not in the ready catalogue) or that the user already watched are
   dropped;
3. each source is cut to its quota, best score first;
4. duplicates across sources are merged: the candidate keeps the first source in the priority
   order (and its score) and lists every source that produced it.

It runs as a numpy kernel per Arrow batch of users inside ``mapInArrow`` (the lists and the
catalogue are broadcast), so the per-user candidate lists (about a thousand per user) are never
shuffled as rows unless asked for: ``generate_candidates`` returns them as rows (the
gold.candidates table); ``ranking.recommend`` feeds them straight into the ranking kernel.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

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
    COWATCH,
    EMBEDDING,
    EXPLORATION,
    FOLLOWED,
    HASHTAG,
    SOUND,
    SOURCE_CODE,
    SOURCES,
    TRENDING,
    RecParams,
)

CANDIDATE_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.LongType()),
        T.StructField("video_id", T.LongType()),
        T.StructField("source", T.StringType()),
        T.StructField("score", T.DoubleType()),
        T.StructField("sources", T.ArrayType(T.StringType())),
    ]
)


@dataclass(frozen=True)
class CandidateConfig:
    """Quotas, overfetch and source priority, from ``RecParams`` (``from_params``): no defaults
    here, the values live in ``fyplake.config`` only."""

    quotas: dict[str, int]
    overfetch: float
    priority: tuple[str, ...]

    @classmethod
    def from_params(cls, p: RecParams) -> CandidateConfig:
        return cls(quotas=dict(p.quotas), overfetch=p.overfetch, priority=tuple(p.source_priority))

    def fetch(self, source: str) -> int:
        return fetch_size(self.quotas.get(source, 0), self.overfetch)

    @property
    def quota_by_code(self) -> np.ndarray:
        """Quota per source code; -1 = unlimited."""
        return np.array([self.quotas.get(s, -1) for s in SOURCES], np.int64)

    @property
    def priority_by_code(self) -> np.ndarray:
        order = {s: i for i, s in enumerate(self.priority)}
        return np.array([order.get(s, len(order)) for s in SOURCES], np.int64)


def fetch_size(quota: int, overfetch: float) -> int:
    return int(math.ceil(quota * max(1.0, overfetch)))


# --- Spark side: one input row per user -------------------------------------------------------


def candidate_inputs(
    users: DataFrame,
    events: DataFrame,
    user_emb: DataFrame,
    follows: DataFrame,
    affinities: DataFrame,
    assignments: DataFrame,
    history: DataFrame,
    *,
    fatigue_since_epoch: float,
) -> DataFrame:
    """One row per user with everything candidate generation and ranking need:
    user_id, segment, n_eng (impressions so far), embedding, followed (creator ids),
    hashtags/sounds (affinity key, score), explore (video_id, score), watched (video ids),
    fatigue (creator_id, recent impressions), history (recent positive video ids,
    ``cowatch.user_history``)."""
    counts = events.groupBy("user_id").agg(
        F.count(F.lit(1)).alias("n_eng"), F.collect_set("video_id").alias("watched")
    )
    fat = (
        events.where(F.col("event_time").cast("double") >= F.lit(fatigue_since_epoch))
        .groupBy("user_id", "creator_id")
        .agg(F.count(F.lit(1)).cast("double").alias("impressions"))
        .groupBy("user_id")
        .agg(F.collect_list(F.struct("creator_id", "impressions")).alias("fatigue"))
    )
    fol = follows.groupBy(F.col("follower_id").alias("user_id")).agg(
        F.collect_set("creator_id").alias("followed")
    )
    aff = affinities.groupBy("user_id").agg(
        F.collect_list(
            F.when(
                F.col("kind") == "hashtag",
                F.struct("key", F.col("score").cast("double").alias("score")),
            )
        ).alias("hashtags"),
        F.collect_list(
            F.when(
                F.col("kind") == "sound",
                F.struct("key", F.col("score").cast("double").alias("score")),
            )
        ).alias("sounds"),
    )
    exp = assignments.groupBy("user_id").agg(
        F.collect_list(F.struct("video_id", F.col("score").cast("double").alias("score"))).alias(
            "explore"
        )
    )
    kv = "array<struct<key:string,score:double>>"
    return (
        users.select("user_id", segment_col().alias("segment"))
        .join(counts, "user_id", "left")
        .join(user_emb.select("user_id", "embedding"), "user_id", "left")
        .join(fol, "user_id", "left")
        .join(aff, "user_id", "left")
        .join(exp, "user_id", "left")
        .join(fat, "user_id", "left")
        .join(history, "user_id", "left")
        .select(
            "user_id",
            "segment",
            F.coalesce("n_eng", F.lit(0)).alias("n_eng"),
            "embedding",
            F.coalesce("followed", F.array().cast("array<bigint>")).alias("followed"),
            F.coalesce("hashtags", F.array().cast(kv)).alias("hashtags"),
            F.coalesce("sounds", F.array().cast(kv)).alias("sounds"),
            F.coalesce(
                "explore", F.array().cast("array<struct<video_id:bigint,score:double>>")
            ).alias("explore"),
            F.coalesce("watched", F.array().cast("array<bigint>")).alias("watched"),
            F.coalesce(
                "fatigue", F.array().cast("array<struct<creator_id:bigint,impressions:double>>")
            ).alias("fatigue"),
            F.coalesce("history", F.array().cast("array<bigint>")).alias("history"),
        )
    )


def candidate_sample(users: DataFrame, n: int) -> DataFrame:
    """The users whose candidates gold.candidates keeps: the ``n`` with the smallest hash of
    their id, so the same users night after night (a new user joins when its hash is small
    enough); every user when ``n`` < 0. Only a sorted id column reaches the driver's limit."""
    if n < 0:
        return users
    ids = users.select("user_id").orderBy(F.xxhash64("user_id"), "user_id").limit(n)
    return users.join(F.broadcast(ids), "user_id", "left_semi")


# --- numpy kernel ------------------------------------------------------------------------------

_EMPTY_I = np.zeros(0, np.int64)
_EMPTY_F = np.zeros(0, np.float64)


def best_unique(idx: np.ndarray, score: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct video its best score; the ``k`` best videos (ties: lower position first)."""
    if len(idx) == 0 or k <= 0:
        return _EMPTY_I, _EMPTY_F
    order = np.lexsort((-score, idx))
    idx, score = idx[order], score[order]
    first = np.r_[True, idx[1:] != idx[:-1]]
    idx, score = idx[first], score[first]
    top = np.lexsort((idx, -score))[:k]
    return idx[top], score[top]


def followed_source(creators: np.ndarray, lists: SourceLists, fetch: int):
    parts = [lists.creator[int(c)] for c in creators if int(c) in lists.creator]
    if not parts:
        return _EMPTY_I, _EMPTY_F
    idx = np.concatenate([p[0][:fetch] for p in parts])
    score = np.concatenate([p[1][:fetch] for p in parts])
    return best_unique(idx, score, fetch)


def keyed_source(keys: Sequence[str], weights: np.ndarray, lists: dict, fetch: int):
    """The quota shared among the user's keys by affinity share (see the module doc)."""
    total = float(np.sum(weights))
    if total <= 0 or fetch <= 0:
        return _EMPTY_I, _EMPTY_F
    idx_parts, score_parts = [], []
    for key, w in zip(keys, weights, strict=True):
        lst = lists.get(key)
        if lst is None or w <= 0:
            continue
        share = float(w) / total
        slots = int(math.ceil(share * fetch - 1e-9))
        idx_parts.append(lst[0][:slots])
        score_parts.append(share * lst[1][:slots])
    if not idx_parts:
        return _EMPTY_I, _EMPTY_F
    return best_unique(np.concatenate(idx_parts), np.concatenate(score_parts), fetch)


def combine(
    parts: Sequence[tuple[int, np.ndarray, np.ndarray]],
    watched: np.ndarray,
    quota_by_code: np.ndarray,
    priority_by_code: np.ndarray,
    seen: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Filter (ready = catalogue position >= 0, not watched), cut each source to its quota,
    dedupe by priority. Returns (idx, source code, score, source bitmask), best first by
    (priority, score)."""
    if not parts:
        return _EMPTY_I, _EMPTY_I, _EMPTY_F, _EMPTY_I
    src = np.concatenate([np.full(len(i), c, np.int64) for c, i, _ in parts])
    idx = np.concatenate([i for _, i, _ in parts]).astype(np.int64)
    score = np.concatenate([s for _, _, s in parts]).astype(np.float64)
    ok = idx >= 0
    if len(watched):
        if seen is not None:  # a catalogue-sized scratch mask: O(n) instead of a sort
            w = watched[watched >= 0]
            seen[w] = True
            ok &= ~seen[np.maximum(idx, 0)]
            seen[w] = False
        else:
            ok &= ~np.isin(idx, watched)
    src, idx, score = src[ok], idx[ok], score[ok]
    # quota per source: rank within source by score (ties: lower position first)
    order = np.lexsort((idx, -score, src))
    s_sorted = src[order]
    start = np.searchsorted(s_sorted, s_sorted, side="left")
    rank = np.arange(len(order)) - start
    q = quota_by_code[s_sorted]
    keep = order[(q < 0) | (rank < q)]
    src, idx, score = src[keep], idx[keep], score[keep]
    # dedupe: first by source priority, then best score
    prio = priority_by_code[src]
    order = np.lexsort((-score, prio, idx))
    src, idx, score, prio = src[order], idx[order], score[order], prio[order]
    first = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]]) if len(idx) else _EMPTY_I
    mask = np.bitwise_or.reduceat(np.left_shift(1, src), first) if len(first) else _EMPTY_I
    src, idx, score, prio = src[first], idx[first], score[first], prio[first]
    out = np.lexsort((idx, -score, prio))
    return idx[out], src[out], score[out], mask[out]


def generate_batch(
    batch: pa.RecordBatch,
    cat: Catalog,
    lists: SourceLists,
    cfg: CandidateConfig,
    dim: int,
    block: int = 256,
    full: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of every user row of ``batch``: (row, idx, source code, score, mask), grouped
    by row in row order. Rows where ``full`` is False only get their exploration assignments
    (ranking skips the personalised list of users wholly in cold start)."""
    n = batch.num_rows
    uvec = user_vectors(batch, "embedding", dim)
    has_vec = np.abs(uvec).sum(axis=1) > 0
    f_off, _, f_vals = list_column(batch, "followed")
    followed = (
        np.asarray(f_vals.to_numpy(zero_copy_only=False), np.int64) if len(f_vals) else _EMPTY_I
    )
    h_off, _, h_vals = list_column(batch, "hashtags")
    h_keys = h_vals.field("key").to_pylist() if len(h_vals) else []
    h_w = field_values(h_vals, "score", np.float64)
    s_off, _, s_vals = list_column(batch, "sounds")
    s_keys = s_vals.field("key").to_pylist() if len(s_vals) else []
    s_w = field_values(s_vals, "score", np.float64)
    e_off, _, e_vals = list_column(batch, "explore")
    e_idx = cat.index(field_values(e_vals, "video_id", np.int64))
    e_score = field_values(e_vals, "score", np.float64)
    w_off, _, w_vals = list_column(batch, "watched")
    watched = (
        cat.index(np.asarray(w_vals.to_numpy(zero_copy_only=False), np.int64))
        if len(w_vals)
        else _EMPTY_I
    )
    hist_off, history = history_column(batch)
    quota, prio = cfg.quota_by_code, cfg.priority_by_code
    f_fol, f_tag, f_snd = cfg.fetch(FOLLOWED), cfg.fetch(HASHTAG), cfg.fetch(SOUND)
    f_trd, f_emb = cfg.fetch(TRENDING), min(cfg.fetch(EMBEDDING), len(cat.ids))
    f_cow = cfg.fetch(COWATCH)
    trend = (lists.trending[0][:f_trd], lists.trending[1][:f_trd])
    seen = np.zeros(len(cat.ids), bool)
    rows, out_idx, out_src, out_score, out_mask = [], [], [], [], []
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        nn_idx = nn_score = None
        want = has_vec[lo:hi] if full is None else has_vec[lo:hi] & full[lo:hi]
        if f_emb > 0 and want.any():
            sims = uvec[lo:hi] @ cat.emb.T
            if f_emb < sims.shape[1]:
                nn_idx = np.argpartition(-sims, f_emb - 1, axis=1)[:, :f_emb]
            else:
                nn_idx = np.tile(np.arange(sims.shape[1]), (hi - lo, 1))
            nn_score = np.take_along_axis(sims, nn_idx, axis=1).astype(np.float64)
        for i in range(lo, hi):
            if full is not None and not full[i]:
                idx, src, score, mask = combine(
                    [
                        (
                            SOURCE_CODE[EXPLORATION],
                            e_idx[e_off[i] : e_off[i + 1]],
                            e_score[e_off[i] : e_off[i + 1]],
                        )
                    ],
                    watched[w_off[i] : w_off[i + 1]],
                    quota,
                    prio,
                    seen,
                )
                rows.append(np.full(len(idx), i, np.int64))
                out_idx.append(idx)
                out_src.append(src)
                out_score.append(score)
                out_mask.append(mask)
                continue
            parts = [
                (
                    SOURCE_CODE[FOLLOWED],
                    *followed_source(followed[f_off[i] : f_off[i + 1]], lists, f_fol),
                ),
                (
                    SOURCE_CODE[HASHTAG],
                    *keyed_source(
                        h_keys[h_off[i] : h_off[i + 1]],
                        h_w[h_off[i] : h_off[i + 1]],
                        lists.hashtag,
                        f_tag,
                    ),
                ),
                (
                    SOURCE_CODE[SOUND],
                    *keyed_source(
                        s_keys[s_off[i] : s_off[i + 1]],
                        s_w[s_off[i] : s_off[i + 1]],
                        lists.sound,
                        f_snd,
                    ),
                ),
                (SOURCE_CODE[TRENDING], *trend),
                (
                    SOURCE_CODE[EXPLORATION],
                    e_idx[e_off[i] : e_off[i + 1]],
                    e_score[e_off[i] : e_off[i + 1]],
                ),
            ]
            if nn_idx is not None and has_vec[i]:
                parts.append((SOURCE_CODE[EMBEDDING], nn_idx[i - lo], nn_score[i - lo]))
            if f_cow > 0 and hist_off[i + 1] > hist_off[i]:
                c_idx, c_score = cat.cowatch(history[hist_off[i] : hist_off[i + 1]])
                top = np.lexsort((c_idx, -c_score))[:f_cow]
                parts.append((SOURCE_CODE[COWATCH], c_idx[top], c_score[top]))
            idx, src, score, mask = combine(
                parts, watched[w_off[i] : w_off[i + 1]], quota, prio, seen
            )
            rows.append(np.full(len(idx), i, np.int64))
            out_idx.append(idx)
            out_src.append(src)
            out_score.append(score)
            out_mask.append(mask)
    cat_ = lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt)  # noqa: E731
    return (
        cat_(rows, np.int64),
        cat_(out_idx, np.int64),
        cat_(out_src, np.int64),
        cat_(out_score, np.float64),
        cat_(out_mask, np.int64),
    )


def history_column(batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, flat video ids) of the ``history`` list column (zero offsets if absent)."""
    if batch.schema.get_field_index("history") < 0:
        return np.zeros(batch.num_rows + 1, np.int64), _EMPTY_I
    off, _, vals = list_column(batch, "history")
    flat = np.asarray(vals.to_numpy(zero_copy_only=False), np.int64) if len(vals) else _EMPTY_I
    return off, flat


def sources_array(mask: np.ndarray) -> pa.Array:
    """Bitmask of source codes -> list<string> of source names (in ``SOURCES`` order)."""
    bits = (mask[:, None] >> np.arange(len(SOURCES))[None, :]) & 1
    counts = bits.sum(axis=1)
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int32)
    _, which = np.nonzero(bits)
    names = pa.array(list(SOURCES), pa.string()).take(pa.array(which, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets), names)


def generate_candidates(
    rows: DataFrame, cat: Catalog, lists: SourceLists, cfg: CandidateConfig, dim: int
) -> DataFrame:
    """``candidate_inputs`` rows -> user_id, video_id, source, score, sources (one row per
    candidate)."""
    bc = rows.sparkSession.sparkContext.broadcast((cat, lists))
    names = pa.array(list(SOURCES), pa.string())

    def kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        c, lst = bc.value
        for batch in batches:
            if batch.num_rows == 0:
                continue
            r, idx, src, score, mask = generate_batch(batch, c, lst, cfg, dim)
            uid = np.asarray(column(batch, "user_id"), np.int64)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(uid[r], pa.int64()),
                    pa.array(c.ids[idx], pa.int64()),
                    names.take(pa.array(src, pa.int64())),
                    pa.array(score, pa.float64()),
                    sources_array(mask),
                ],
                names=[f.name for f in CANDIDATE_SCHEMA.fields],
            )

    return rows.mapInArrow(kernel, CANDIDATE_SCHEMA)
