"""The broadcast side of the numpy kernels: ready videos (features + vectors) and the lists.

Candidate generation and ranking run per batch of users inside ``mapInArrow``; what every user
needs (the ready catalogue's vectors and features, the per-hashtag/sound/creator lists, trending,
the cold-start pools) is collected once on the driver and broadcast. That is the "modest
catalogue" assumption (tens to hundreds of thousands of ready videos: 128 floats each); a
catalogue of many millions would shard the matrix by video instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

IdxScore = tuple[np.ndarray, np.ndarray]


@dataclass(eq=False)
class Catalog:
    """Ready videos indexed by position in ``ids`` (sorted); -1 = not in the catalogue."""

    ids: np.ndarray  # int64, sorted
    emb: np.ndarray  # (n, dim) float32, unit rows
    log_quality: np.ndarray
    log_creator: np.ndarray
    log_freshness: np.ndarray
    log1p_pop: np.ndarray
    creator: np.ndarray  # int64
    pool_scores: dict[str, IdxScore] = field(default_factory=dict)  # segment -> popular list
    diverse: IdxScore = field(default_factory=lambda: (np.zeros(0, np.int64), np.zeros(0)))
    # co-engagement neighbours (CSR): source video ids (sorted) -> catalogue positions, sims
    nb_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    nb_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    nb_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    nb_sim: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))

    def cowatch(self, history: np.ndarray) -> IdxScore:
        """(catalogue positions, co-engagement score) of the videos co-engaged with the
        ``history`` video ids: per video, the sum of its similarity to each history video."""
        history = np.asarray(history, np.int64)
        if len(self.nb_keys) == 0 or len(history) == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        pos = np.minimum(np.searchsorted(self.nb_keys, history), len(self.nb_keys) - 1)
        pos = pos[self.nb_keys[pos] == history]
        if len(pos) == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        lo, hi = self.nb_ptr[pos], self.nb_ptr[pos + 1]
        lens = hi - lo
        sel = np.repeat(lo - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
        idx, inv = np.unique(self.nb_idx[sel], return_inverse=True)
        return idx, np.bincount(inv, weights=self.nb_sim[sel], minlength=len(idx))

    def index(self, video_ids: np.ndarray) -> np.ndarray:
        """Catalogue positions of ``video_ids``; -1 where a video is not (ready) in it."""
        video_ids = np.asarray(video_ids, np.int64)
        if len(self.ids) == 0:
            return np.full(len(video_ids), -1, np.int64)
        pos = np.minimum(np.searchsorted(self.ids, video_ids), len(self.ids) - 1)
        return np.where(self.ids[pos] == video_ids, pos, -1)


@dataclass
class SourceLists:
    """Per-key candidate lists (catalogue positions, best first) and trending."""

    hashtag: dict[str, IdxScore] = field(default_factory=dict)
    sound: dict[str, IdxScore] = field(default_factory=dict)
    creator: dict[int, IdxScore] = field(default_factory=dict)
    trending: IdxScore = field(default_factory=lambda: (np.zeros(0, np.int64), np.zeros(0)))


def segment_key(age_band: object, country: object, language: object) -> str:
    return f"{age_band or 'unknown'}|{country or 'unknown'}|{language or 'unknown'}"


def segment_col() -> F.Column:
    """The same key as ``segment_key``, as a Column over age_band, country, language."""
    return F.concat_ws(
        "|", *[F.coalesce(F.col(c), F.lit("unknown")) for c in ("age_band", "country", "language")]
    )


def build_catalog(
    features: DataFrame,
    video_emb: DataFrame,
    pools: DataFrame | None,
    diverse: DataFrame | None,
    dim: int,
    neighbours: DataFrame | None = None,
) -> Catalog:
    """Collect the ready videos' features and vectors, and (if given) the cold-start lists
    and the co-engagement neighbours."""
    feats = (
        features.where(F.col("status") == "ready")
        .join(video_emb.select("video_id", "embedding"), "video_id", "left")
        .select(
            "video_id",
            "creator_id",
            "quality",
            "creator_score",
            "freshness",
            "popularity",
            "embedding",
        )
        .orderBy("video_id")
        .toPandas()
    )
    ids = feats["video_id"].to_numpy(np.int64)
    emb = np.zeros((len(ids), dim), np.float32)
    for i, v in enumerate(feats["embedding"].to_numpy()):
        if v is not None and len(v) == dim:
            emb[i] = v
    log = lambda s: np.log(np.clip(feats[s].to_numpy(np.float64), 1e-6, None))  # noqa: E731
    cat = Catalog(
        ids=ids,
        emb=emb,
        log_quality=log("quality"),
        log_creator=log("creator_score"),
        log_freshness=log("freshness"),
        log1p_pop=np.log1p(feats["popularity"].to_numpy(np.float64)),
        creator=creator_keys(feats["creator_id"], ids),
    )
    if neighbours is not None:
        _add_neighbours(cat, neighbours)
    if pools is None or diverse is None:
        return cat
    pl = pools.select("age_band", "country", "language", "rank", "video_id", "score").toPandas()
    if len(pl):
        pl["segment"] = [
            segment_key(a, c, lg)
            for a, c, lg in zip(pl["age_band"], pl["country"], pl["language"], strict=True)
        ]
        cat.pool_scores = _keyed_lists(cat, pl, "segment")
    dv = diverse.select("rank", "video_id", "score").toPandas()
    if len(dv):
        dv["k"] = 0
        cat.diverse = _keyed_lists(cat, dv, "k").get(0, cat.diverse)
    return cat


def _add_neighbours(cat: Catalog, neighbours: DataFrame) -> None:
    nb = neighbours.select("video_id", "neighbour_id", "rank", "sim").toPandas()
    if len(nb) == 0:
        return
    nb = nb.assign(idx=cat.index(nb["neighbour_id"].to_numpy(np.int64)))
    nb = nb[nb["idx"] >= 0].sort_values(["video_id", "rank"], kind="stable")
    keys, counts = np.unique(nb["video_id"].to_numpy(np.int64), return_counts=True)
    cat.nb_keys = keys
    cat.nb_ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    cat.nb_idx = nb["idx"].to_numpy(np.int64)
    cat.nb_sim = nb["sim"].to_numpy(np.float64)


def build_lists(
    cat: Catalog,
    hashtag_top: DataFrame,
    sound_top: DataFrame,
    creator_top: DataFrame,
    trending: DataFrame,
) -> SourceLists:
    """Collect the per-key lists as catalogue positions (not-ready videos drop out)."""
    tags = hashtag_top.select(F.col("hashtag").alias("k"), "rank", "video_id", "score").toPandas()
    sounds = sound_top.select(
        F.col("sound_id").cast("string").alias("k"), "rank", "video_id", "score"
    ).toPandas()
    creators = creator_top.select(
        F.col("creator_id").alias("k"), "rank", "video_id", "score"
    ).toPandas()
    trend = trending.select("rank", "video_id", "score").toPandas()
    trend["k"] = 0
    return SourceLists(
        hashtag=_keyed_lists(cat, tags, "k"),
        sound=_keyed_lists(cat, sounds, "k"),
        creator={int(k): v for k, v in _keyed_lists(cat, creators, "k").items()},
        trending=_keyed_lists(cat, trend, "k").get(0, (np.zeros(0, np.int64), np.zeros(0))),
    )


def _keyed_lists(cat: Catalog, pdf, key: str) -> dict:
    out = {}
    if len(pdf) == 0:
        return out
    pdf = pdf.sort_values([key, "rank"], kind="stable")
    idx = cat.index(pdf["video_id"].to_numpy(np.int64))
    score = pdf["score"].to_numpy(np.float64)
    keys = pdf[key].to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    for a, b in zip(starts, ends, strict=True):
        sel = idx[a:b] >= 0
        out[keys[a]] = (idx[a:b][sel], score[a:b][sel])
    return out


def list_column(batch: pa.RecordBatch, name: str) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(offsets from 0, validity, flat values) of a list column of a record batch."""
    arr = batch.column(batch.schema.get_field_index(name))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = np.asarray(arr.offsets.to_numpy(), np.int64)
    valid = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False))
    values = arr.values.slice(offsets[0], offsets[-1] - offsets[0])
    return offsets - offsets[0], valid, values


def column(batch: pa.RecordBatch, name: str) -> np.ndarray:
    return batch.column(batch.schema.get_field_index(name)).to_numpy(zero_copy_only=False)


def creator_keys(creator_id, ids: np.ndarray) -> np.ndarray:  # noqa: ANN001 - a pandas Series
    """Each video's creator as int64; a video without a creator (an imported item) gets a key
    of its own, ``-(video_id + 1)``, so creator diversity counts it alone, never as one shared
    creator, and no user's creator fatigue or affinity can match it."""
    missing = creator_id.isna().to_numpy()
    known = creator_id.fillna(-1).to_numpy(np.int64)
    return np.where(missing, -(ids + 1), known)


def field_values(values: pa.Array, name: str, dtype) -> np.ndarray:
    """A struct field of a flat list-values array as numpy."""
    if len(values) == 0:
        return np.zeros(0, dtype)
    return np.asarray(values.field(name).to_numpy(zero_copy_only=False)).astype(dtype)


def user_vectors(batch: pa.RecordBatch, name: str, dim: int) -> np.ndarray:
    """(rows, dim) float32; zero rows where the vector is null or has another length."""
    off, valid, vals = list_column(batch, name)
    out = np.zeros((batch.num_rows, dim), np.float32)
    if len(vals):
        flat = np.asarray(vals.to_numpy(zero_copy_only=False), np.float32)
        ok = valid & (np.diff(off) == dim)
        if ok.any():
            rows = np.flatnonzero(ok)
            gather = off[rows][:, None] + np.arange(dim)[None, :]
            out[rows] = flat[gather]
    return out
