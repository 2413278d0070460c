"""128-d video and user embeddings.

Video vector = two blocks, concatenated and scaled to unit length:

* a **collaborative block** of ``als_rank`` dims: Spark ML ALS with implicit feedback, the
  rating of a (user, video) pair being the summed decayed engagement weight (completion, like,
  comment and share raise it; a skip makes it negative, which implicit ALS reads as "not
  preferred, with confidence"), blended per video with a **content vector in the same space**:
  each content token (hashtag, sound, creator, language, title word; IDF-weighted) gets the
  confidence-weighted mean ALS vector of the videos carrying it, and a video's content vector is
  the weighted mean of its tokens' vectors. The blend weight of ALS is ``n / (n + shrink)`` for a
  video with ``n`` impressions, so a brand-new video with no views sits exactly where videos with
  its hashtags, sound and creator sit;
* a **hashed content block** of the remaining ``dim - als_rank`` dims: a sparse random
  projection of the same IDF-weighted tokens (deterministic +-1 per token), which keeps content
  overlap meaningful even for tokens no watched video carried yet. It holds
  ``content_hash_weight`` of the squared norm.

Why ALS rank < 128: ALS cost grows with rank^2-rank^3 per iteration and a rank of a few dozen
captures the co-watch structure of a catalogue this size; the hashed block fills the rest of the
contract's 128 dims with information the factorisation cannot have (unseen tokens).

User vector = the decayed, engagement-weighted mean of the vectors of the videos the user
watched (skips weigh negatively), normalised; half-life from configuration.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.recsys.common import (
    list_values,
    sign_vector,
    unit_rows,
    vectors_to_arrow,
    weighted_vector_sum,
    zeros,
)

logger = logging.getLogger(__name__)

#: Base weight of each content token kind (multiplied by the token's IDF).
TOKEN_WEIGHTS = {"tag": 1.0, "sound": 1.0, "creator": 1.0, "lang": 0.5, "word": 0.3}


def ratings(events: DataFrame) -> DataFrame:
    """(user_id, video_id, rating = summed decayed engagement weight, impressions)."""
    return events.groupBy("user_id", "video_id").agg(
        F.sum("weight").alias("rating"), F.count(F.lit(1)).alias("impressions")
    )


#: ALS is fitted only when at least this many users, and this many videos, have a positive
#: rating. With one user every video's factor is a multiple of that user's (implicit ALS puts item
#: factors in the span of the user factors, and vice versa), so all rated videos point the same
#: way: a collaborative block that says "all alike" is worse than none. Same with one video.
ALS_MIN_SIDE = 2


def als_item_factors(
    pairs: DataFrame, *, rank: int, max_iter: int, reg: float, alpha: float, seed: int
) -> DataFrame:
    """ALS (implicit) item factors: (video_id, cf array<float> of ``rank``) for every rated
    video; none at all when there is too little to factorise (logged, see ``ALS_MIN_SIDE``).

    Why the fit needs care on small or stale worlds: Spark's implicit ALS solves, per user, the
    normal equations ``(Y'Y + Y'(C_u - I)Y + reg * n_u * I) x_u = Y'C_u p_u`` by Cholesky, where
    ``n_u`` counts the user's *positive* ratings (and the same per video). A user with no positive
    rating (only skips, or weights that decayed to 0.0) loses the ridge term, and ``Y'Y`` has
    rank at most the number of videos with a non-zero factor: on a catalogue with fewer of those
    than ``rank`` the matrix is singular and the whole job dies (``SingularMatrixException``).
    Such a user's (or video's) solution is the zero vector anyway (its right-hand side is 0), so
    the fit keeps only the users and videos with a positive rating - then every system has
    ``reg * n >= reg > 0`` on its diagonal and is positive definite whatever the catalogue size -
    and a video rated only non-positively gets that zero vector directly. Positivity is judged
    on the float rating ALS reads. The rank is capped at min(users, videos) of the fit (the
    preference matrix has no more independent directions; the factors are zero-padded to
    ``rank``, which cosine ignores).
    """
    from pyspark.ml.recommendation import ALS

    if reg <= 0:
        raise ValueError(f"ALS needs a positive regularisation (rec_als_reg), got {reg}")
    spark = pairs.sparkSession
    empty = spark.createDataFrame([], "video_id bigint, cf array<float>")
    rated = pairs.select("user_id", "video_id", F.col("rating").cast("float").alias("rating"))
    positive = rated.where(F.col("rating") > 0)
    n_users, n_videos = positive.agg(
        F.countDistinct("user_id"), F.countDistinct("video_id")
    ).first()
    if min(n_users, n_videos) < ALS_MIN_SIDE:
        logger.warning(
            "ALS skipped: %d user(s) and %d video(s) with a positive rating, it needs at least "
            "%d of each; video vectors are content-only (cf_weight 0) until there is more "
            "engagement",
            n_users,
            n_videos,
            ALS_MIN_SIDE,
        )
        return empty
    k = min(rank, n_users, n_videos)
    if k < rank:
        logger.info(
            "ALS rank %d instead of %d: only %d users and %d videos with a positive rating",
            k,
            rank,
            n_users,
            n_videos,
        )
    users = positive.select("user_id").distinct()
    videos = positive.select("video_id").distinct()
    fit = rated.join(users, "user_id", "left_semi").join(videos, "video_id", "left_semi")
    blocks = max(2, min(8, spark.sparkContext.defaultParallelism))
    als = ALS(
        rank=k,
        maxIter=max_iter,
        regParam=reg,
        alpha=alpha,
        implicitPrefs=True,
        userCol="user_id",
        itemCol="video_id",
        ratingCol="rating",
        seed=seed,
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        intermediateStorageLevel="MEMORY_AND_DISK",
        finalStorageLevel="MEMORY_AND_DISK",
    )
    model = als.fit(fit)
    cf = F.concat("features", zeros(rank - k)) if k < rank else F.col("features")
    factors = model.itemFactors.select(F.col("id").cast("bigint").alias("video_id"), cf.alias("cf"))
    never_positive = (
        rated.select("video_id")
        .distinct()
        .join(videos, "video_id", "left_anti")
        .select("video_id", zeros(rank).alias("cf"))
    )
    return factors.unionByName(never_positive)


def video_tokens(videos: DataFrame) -> DataFrame:
    """(video_id, token, tw): content tokens with weight = kind weight x IDF."""
    words = F.filter(
        F.split(F.lower(F.coalesce("title", F.lit(""))), "[^a-z]+"), lambda w: F.length(w) >= 3
    )
    tok = F.struct  # (token, base weight)
    entries = F.flatten(
        F.array(
            F.transform(
                F.coalesce("hashtags", F.array().cast("array<string>")),
                lambda h: tok(
                    F.concat(F.lit("tag:"), F.lower(h)).alias("t"),
                    F.lit(TOKEN_WEIGHTS["tag"]).alias("b"),
                ),
            ),
            F.when(
                F.col("sound_id").isNotNull(),
                F.array(
                    tok(
                        F.concat(F.lit("sound:"), F.col("sound_id").cast("string")).alias("t"),
                        F.lit(TOKEN_WEIGHTS["sound"]).alias("b"),
                    )
                ),
            ).otherwise(F.array().cast("array<struct<t:string,b:double>>")),
            F.array(
                tok(
                    F.concat(F.lit("creator:"), F.col("creator_id").cast("string")).alias("t"),
                    F.lit(TOKEN_WEIGHTS["creator"]).alias("b"),
                ),
                tok(
                    F.concat(F.lit("lang:"), F.coalesce("language", F.lit("unknown"))).alias("t"),
                    F.lit(TOKEN_WEIGHTS["lang"]).alias("b"),
                ),
            ),
            F.transform(
                words,
                lambda w: tok(
                    F.concat(F.lit("word:"), w).alias("t"), F.lit(TOKEN_WEIGHTS["word"]).alias("b")
                ),
            ),
        )
    )
    raw = (
        videos.select("video_id", F.explode(entries).alias("e"))
        .select("video_id", F.col("e.t").alias("token"), F.col("e.b").alias("b"))
        .where(F.col("token").isNotNull())  # no creator (an imported item): no creator token
        .dropDuplicates(["video_id", "token"])
    )
    n_docs = videos.select(F.count(F.lit(1)).alias("_n"))
    df = raw.groupBy("token").agg(F.count(F.lit(1)).alias("_df"))
    idf = df.crossJoin(F.broadcast(n_docs)).select(
        "token", F.log((F.col("_n") + 1.0) / (F.col("_df") + 1.0)).alias("idf")
    )
    return (
        raw.join(idf, "token")
        .select("video_id", "token", (F.col("b") * F.col("idf")).alias("tw"))
        .where(F.col("tw") > 0)
    )


def video_embeddings(
    videos: DataFrame,
    pairs: DataFrame,
    *,
    dim: int,
    als_rank: int,
    max_iter: int,
    reg: float,
    alpha: float,
    content_shrink: float,
    content_hash_weight: float,
    seed: int,
    item_factors: DataFrame | None = None,
) -> DataFrame:
    """(video_id, embedding array<float> of ``dim``, cf_weight) for every row of ``videos``.

    ``pairs`` is ``ratings(events)``; ``item_factors`` may be given to skip ALS (tests).
    """
    if not 0 < als_rank <= dim:
        raise ValueError(f"als_rank must be in 1..{dim}, got {als_rank}")
    hash_dim = dim - als_rank
    cf = item_factors
    if cf is None:
        cf = als_item_factors(
            pairs, rank=als_rank, max_iter=max_iter, reg=reg, alpha=alpha, seed=seed
        )
    counts = pairs.groupBy("video_id").agg(F.sum("impressions").alias("n"))
    cf = (
        cf.join(counts, "video_id", "left")
        .fillna(0, subset=["n"])
        .select(
            "video_id",
            "cf",
            (F.col("n") / (F.col("n") + F.lit(content_shrink))).alias("lam"),
        )
    ).cache()
    tokens = video_tokens(videos).cache()
    # token vectors in ALS space: confidence-weighted mean of the (unit) ALS vectors carrying
    # the token, shrunk towards zero for rare tokens (+1 pseudo-weight)
    cf_unit = unit_vectors(cf.select("video_id", "cf", "lam"), "cf", als_rank)
    tok_vec = weighted_vector_sum(
        tokens.join(cf_unit, "video_id").select(
            "token", "cf", (F.col("tw") * F.col("lam")).alias("w")
        ),
        key="token",
        vec="cf",
        weight="w",
        dim=als_rank,
        key_type="string",
        shrink=1.0,
    ).select("token", F.col("cf").alias("tv"))
    zero_cf = F.array_repeat(F.lit(0.0).cast("float"), als_rank)
    tok_full = tokens.join(tok_vec, "token", "left").withColumn("tv", F.coalesce("tv", zero_cf))
    if hash_dim > 0:
        tok_full = tok_full.withColumn(
            "tv", F.concat("tv", sign_vector(F.col("token"), hash_dim, seed))
        )
    content = weighted_vector_sum(
        tok_full.select("video_id", "tv", "tw"), key="video_id", vec="tv", weight="tw", dim=dim
    ).select("video_id", F.col("tv").alias("content"))
    joined = (
        videos.select("video_id")
        .join(cf_unit, "video_id", "left")
        .join(content, "video_id", "left")
    )
    return blend_vectors(joined, als_rank=als_rank, dim=dim, hash_weight=content_hash_weight)


def unit_vectors(df: DataFrame, col: str, dim: int) -> DataFrame:
    """``df`` with ``col`` (a float array of ``dim``) scaled to unit length, in numpy."""
    schema = df.schema
    idx = schema.fieldNames().index(col)

    def scale(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            arrays = list(b.columns)
            arrays[idx] = vectors_to_arrow(unit_rows(list_values(b.column(idx), dim)))
            yield pa.RecordBatch.from_arrays(arrays, names=b.schema.names)

    return df.where(F.col(col).isNotNull()).mapInArrow(scale, schema)


def blend_vectors(df: DataFrame, *, als_rank: int, dim: int, hash_weight: float) -> DataFrame:
    """(video_id, cf|null (unit), lam|null, content|null) -> (video_id, embedding, cf_weight).

    collaborative block = unit(lam * cf + (1 - lam) * unit(content[:als_rank]));
    embedding = unit([sqrt(1 - h) * block, sqrt(h) * unit(content[als_rank:])]).
    """
    hash_dim = dim - als_rank
    schema = T.StructType(
        [
            T.StructField("video_id", T.LongType()),
            T.StructField("embedding", T.ArrayType(T.FloatType())),
            T.StructField("cf_weight", T.DoubleType()),
        ]
    )
    src = df.select("video_id", "cf", "lam", "content")

    def vectors(col: pa.Array, n: int, width: int) -> np.ndarray:
        out = np.zeros((n, width), np.float64)
        valid = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False))
        if valid.any():
            out[valid] = list_values(col.filter(pa.array(valid)), width)
        return out

    def blend(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            n = b.num_rows
            if n == 0:
                continue
            cf = vectors(b.column(1), n, als_rank)
            has_cf = ~np.asarray(b.column(1).is_null().to_numpy(zero_copy_only=False))
            lam = np.where(
                has_cf,
                np.nan_to_num(b.column(2).to_numpy(zero_copy_only=False).astype(np.float64)),
                0.0,
            )
            content = vectors(b.column(3), n, dim)
            block = unit_rows(
                lam[:, None] * cf + (1.0 - lam[:, None]) * unit_rows(content[:, :als_rank])
            )
            if hash_dim > 0:
                emb = np.hstack(
                    [
                        math.sqrt(1.0 - hash_weight) * block,
                        math.sqrt(hash_weight) * unit_rows(content[:, als_rank:]),
                    ]
                )
            else:
                emb = block
            yield pa.RecordBatch.from_arrays(
                [b.column(0), vectors_to_arrow(unit_rows(emb)), pa.array(lam, pa.float64())],
                names=["video_id", "embedding", "cf_weight"],
            )

    return src.mapInArrow(blend, schema)


def user_embeddings(events: DataFrame, video_emb: DataFrame, dim: int) -> DataFrame:
    """(user_id, embedding, engagements): normalised sum of weight x video vector over the user's
    impressions (``weight`` = decayed engagement, negative for skips)."""
    joined = events.select("user_id", "video_id", "weight").join(
        video_emb.select("video_id", "embedding"), "video_id"
    )
    sums = weighted_vector_sum(
        joined, key="user_id", vec="embedding", weight="weight", dim=dim, normalize=True
    )
    return sums.where(F.col("weight_sum") > 0).select(
        "user_id", "embedding", F.col("rows").alias("engagements")
    )
