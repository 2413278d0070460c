"""Helpers shared by the transforms: as-of time, decay, top-k per key, vector aggregation."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

DAY_S = 86_400.0


def as_of_epoch(ds: dt.date) -> float:
    """End of the data interval ``ds`` (next midnight, UTC) as epoch seconds: "now" for a run."""
    end = dt.datetime(ds.year, ds.month, ds.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    return end.timestamp()


def age_days(ts: Column | str, now_epoch: float) -> Column:
    """Days between a timestamp and the run's "now" (never negative)."""
    col = F.col(ts) if isinstance(ts, str) else ts
    return F.greatest(F.lit(0.0), (F.lit(now_epoch) - col.cast("double")) / F.lit(DAY_S))


def half_life_decay(age: Column, half_life_days: float) -> Column:
    """2 ** (-age / half_life): 1 now, 0.5 one half-life ago."""
    return F.pow(F.lit(2.0), -age / F.lit(float(half_life_days)))


def top_per_key(
    df: DataFrame, keys: list[str], score: str, n: int, tie: str = "video_id", rank: str = "rank"
) -> DataFrame:
    """The ``n`` best rows per key by ``score`` (ties: smaller ``tie`` first), ranked from 1."""
    w = Window.partitionBy(*keys).orderBy(F.col(score).desc(), F.col(tie).asc())
    return df.withColumn(rank, F.row_number().over(w)).where(F.col(rank) <= n)


def array_scale(arr: Column | str, factor: Column) -> Column:
    col = F.col(arr) if isinstance(arr, str) else arr
    return F.transform(col, lambda x: (x * factor).cast("float"))


def array_norm(arr: Column | str) -> Column:
    col = F.col(arr) if isinstance(arr, str) else arr
    return F.sqrt(F.aggregate(col, F.lit(0.0), lambda acc, x: acc + x.cast("double") * x))


def array_normalize(arr: Column | str) -> Column:
    """Unit-length copy of a float array (a zero vector stays zero)."""
    col = F.col(arr) if isinstance(arr, str) else arr
    norm = array_norm(col)
    return array_scale(col, F.when(norm > 0, F.lit(1.0) / norm).otherwise(F.lit(0.0)))


def array_add(a: Column, b: Column) -> Column:
    return F.zip_with(a, b, lambda x, y: (x + y).cast("float"))


def zeros(dim: int) -> Column:
    return F.array_repeat(F.lit(0.0).cast("float"), dim)


def sign_vector(token: Column, dim: int, seed: int) -> Column:
    """A deterministic +-1/sqrt(dim) vector per token (sparse random projection by hashing)."""
    scale = 1.0 / math.sqrt(dim)
    return F.transform(
        F.sequence(F.lit(0), F.lit(dim - 1)),
        lambda i: (
            F.when(F.xxhash64(token, i, F.lit(seed)).bitwiseAND(F.lit(1)) == 0, F.lit(scale))
            .otherwise(F.lit(-scale))
            .cast("float")
        ),
    )


def weighted_vector_sum(
    df: DataFrame,
    key: str,
    vec: str,
    weight: str,
    dim: int,
    key_type: str = "bigint",
    shrink: float | None = None,
    normalize: bool = False,
) -> DataFrame:
    """Per ``key``: ``sum(weight * vec)`` (float array), ``sum(|weight|)`` and the row count.

    ``shrink`` divides the sum by ``sum(|weight|) + shrink`` (a shrunk weighted mean);
    ``normalize`` scales it to unit length (zero stays zero).

    Vectorised: rows are hash-partitioned and sorted by key, then each partition is reduced with
    numpy (``np.add.reduceat``) inside ``mapInArrow``; a key split across Arrow batches is carried
    over, so the result is exact. Much cheaper than exploding vectors into rows.
    """
    out_schema = T.StructType(
        [
            T.StructField(key, T.StringType() if key_type == "string" else T.LongType()),
            T.StructField(vec, T.ArrayType(T.FloatType())),
            T.StructField("weight_sum", T.DoubleType()),
            T.StructField("rows", T.LongType()),
        ]
    )
    src = (
        df.select(F.col(key), F.col(vec), F.col(weight).cast("double").alias("_w"))
        .where(F.col(vec).isNotNull() & (F.size(vec) == dim))
        .repartition(key)
        .sortWithinPartitions(key)
    )

    def reduce(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        carry_key, carry_sum, carry_w, carry_n = None, None, 0.0, 0
        out_k: list = []
        out_v: list[np.ndarray] = []
        out_w: list[float] = []
        out_n: list[int] = []
        for batch in batches:
            if batch.num_rows == 0:
                continue
            keys = batch.column(0).to_numpy(zero_copy_only=False)
            vals = list_values(batch.column(1), dim).astype(np.float64)
            w = batch.column(2).to_numpy(zero_copy_only=False).astype(np.float64)
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            sums = np.add.reduceat(vals * w[:, None], starts, axis=0)
            wsum = np.add.reduceat(np.abs(w), starts)
            cnt = np.diff(np.r_[starts, len(keys)])
            ukeys = keys[starts]
            for i in range(len(starts)):
                k = ukeys[i]
                if carry_key is not None and k == carry_key:
                    carry_sum = carry_sum + sums[i]
                    carry_w += float(wsum[i])
                    carry_n += int(cnt[i])
                    continue
                if carry_key is not None:
                    out_k.append(carry_key)
                    out_v.append(carry_sum)
                    out_w.append(carry_w)
                    out_n.append(carry_n)
                carry_key, carry_sum, carry_w, carry_n = k, sums[i], float(wsum[i]), int(cnt[i])
            if len(out_k) >= 4096:
                yield _vector_batch(out_schema, out_k, out_v, out_w, out_n, dim, shrink, normalize)
                out_k, out_v, out_w, out_n = [], [], [], []
        if carry_key is not None:
            out_k.append(carry_key)
            out_v.append(carry_sum)
            out_w.append(carry_w)
            out_n.append(carry_n)
        if out_k:
            yield _vector_batch(out_schema, out_k, out_v, out_w, out_n, dim, shrink, normalize)

    return src.mapInArrow(reduce, out_schema)


def list_values(arr: pa.Array, dim: int) -> np.ndarray:
    """A ListArray of fixed-length float lists -> (n, dim) numpy array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(len(arr), dim)


def vectors_to_arrow(mat: np.ndarray) -> pa.Array:
    n, dim = mat.shape
    offsets = pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(mat.astype(np.float32).ravel()))


def unit_rows(mat: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norm = np.linalg.norm(mat, axis=1, keepdims=True)
    return np.divide(mat, norm, out=np.zeros_like(mat), where=norm > 0)


def _vector_batch(schema, keys, vecs, wsums, counts, dim, shrink=None, normalize=False):
    mat = np.vstack(vecs) if vecs else np.zeros((0, dim))
    if shrink is not None:
        mat = mat / (np.asarray(wsums, np.float64)[:, None] + shrink)
    if normalize:
        mat = unit_rows(mat)
    key_type = pa.string() if isinstance(schema[0].dataType, T.StringType) else pa.int64()
    return pa.RecordBatch.from_arrays(
        [
            pa.array(keys, key_type),
            vectors_to_arrow(mat),
            pa.array(wsums, pa.float64()),
            pa.array(counts, pa.int64()),
        ],
        names=[f.name for f in schema.fields],
    )


def held_out_flags(events: DataFrame, kind: str, seed: int, fraction: float) -> DataFrame:
    """``events`` with ``_held``: each user's latest ``fraction`` of impressions (time; users
    with two or more) or a seeded random ``fraction`` (random). The validations that choose a
    setting per run (the blend, the cold-start prior) hold out the kind the run predicts."""
    if kind == "time":
        by_user = Window.partitionBy("user_id")
        latest = by_user.orderBy(F.col("event_time").desc(), F.col("video_id"))
        n = F.count(F.lit(1)).over(by_user)
        held_n = F.when(n >= 2, F.greatest(F.lit(1), F.floor(n * F.lit(fraction)))).otherwise(0)
        return events.withColumn("_held", F.row_number().over(latest) <= held_n)
    if kind == "random":
        u = F.xxhash64(
            F.lit(int(seed)), "user_id", "video_id", F.col("event_time").cast("long")
        ).bitwiseAND(F.lit((1 << 52) - 1)) / F.lit(float(1 << 52))
        return events.withColumn("_held", u < F.lit(fraction))
    raise ValueError(f"rec_blend_holdout must be 'time' or 'random', got {kind!r}")
