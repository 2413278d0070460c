"""New-video exploration: a Thompson-sampling bandit on completion, and the predicted audience.

Every ready video younger than ``window_days`` is in the pool. Its completion posterior is
``Beta(alpha0 + sum(completion), beta0 + impressions - sum(completion))`` (fractional Bernoulli
updates: a full watch counts 1, a skip almost 0), recomputed from the lake each run, so the state
is reproducible from the table versions. The reference is the completion rate of established
videos. Each run, per video:

* ``warmup``    fewer than ``min_impressions``: guaranteed exposure up to ``min_impressions``;
* ``graduated`` ``max_impressions`` reached: leaves the pool and competes on its own features;
* ``faded``     ``P(theta > reference) < fade_probability``: the evidence says it is worse;
* otherwise a **Thompson draw** ``theta ~ Beta(alpha, beta)`` (seeded by seed, ds, video):
  ``boost`` if ``theta >= reference`` (exposure target doubles, capped at ``max_impressions``),
  else ``hold`` (no new exposure this run; a later draw may still win).

So a good video keeps winning draws and climbs to graduation in a few runs, a poor one wins
rarely and fades as its posterior concentrates, and an uncertain one keeps being sampled: no
fixed completion threshold. ``simulate_discovery`` replays the policy against known per-video
completion rates to report how fast good new videos are found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.recsys.common import list_values

STATES = ("warmup", "boost", "hold", "faded", "graduated")


def pool_stats(
    events: DataFrame,
    features: DataFrame,
    *,
    window_days: float,
    prior_alpha: float,
    prior_beta: float,
) -> DataFrame:
    """Posterior of every ready video younger than ``window_days``:
    video_id, created_at, impressions, completion_sum, alpha, beta.
    ``events`` need ``completion``; ``features`` need status, created_at, age_days."""
    new = features.where(
        (F.col("status") == "ready") & (F.col("age_days") <= F.lit(float(window_days)))
    ).select("video_id", "created_at")
    seen = (
        events.join(new.select("video_id"), "video_id", "left_semi")
        .groupBy("video_id")
        .agg(F.count(F.lit(1)).alias("impressions"), F.sum("completion").alias("completion_sum"))
    )
    return (
        new.join(seen, "video_id", "left")
        .fillna(0, subset=["impressions"])
        .fillna(0.0, subset=["completion_sum"])
        .withColumn("alpha", F.lit(float(prior_alpha)) + F.col("completion_sum"))
        .withColumn(
            "beta", F.lit(float(prior_beta)) + F.col("impressions") - F.col("completion_sum")
        )
    )


def reference_completion(events: DataFrame, pool: DataFrame, default: float) -> DataFrame:
    """One row, column ``reference``: completion rate of impressions of videos not in the pool."""
    est = events.join(pool.select("video_id"), "video_id", "left_anti").agg(
        (F.sum("completion") / F.count(F.lit(1))).alias("reference")
    )
    return est.select(F.coalesce("reference", F.lit(float(default))).alias("reference"))


@F.pandas_udf(T.DoubleType())
def _beta_ppf(a: pd.Series, b: pd.Series, u: pd.Series) -> pd.Series:
    from scipy.special import betaincinv

    return pd.Series(betaincinv(a.to_numpy(), b.to_numpy(), u.to_numpy()))


@F.pandas_udf(T.DoubleType())
def _beta_sf(a: pd.Series, b: pd.Series, x: pd.Series) -> pd.Series:
    from scipy.special import betainc

    return pd.Series(1.0 - betainc(a.to_numpy(), b.to_numpy(), x.to_numpy()))


def seeded_uniform(seed: int, ds: dt.date, key: str) -> F.Column:
    """A uniform in (0, 1) per row, fixed by (seed, ds, key): reproducible draws."""
    h = F.xxhash64(F.lit(int(seed)), F.lit(ds.isoformat()), F.col(key)).bitwiseAND(
        F.lit((1 << 52) - 1)
    )
    return (h.cast("double") + F.lit(0.5)) / F.lit(float(1 << 52))


def thompson_decide(
    pool: DataFrame,
    reference: DataFrame,
    *,
    seed: int,
    ds: dt.date,
    min_impressions: int,
    max_impressions: int,
    fade_probability: float,
) -> DataFrame:
    """Add reference, p_better, sampled, state and target_impressions (see the module doc)."""
    imp = F.col("impressions")
    df = (
        pool.crossJoin(F.broadcast(reference))
        .withColumn("p_better", _beta_sf("alpha", "beta", "reference"))
        .withColumn("sampled", _beta_ppf("alpha", "beta", seeded_uniform(seed, ds, "video_id")))
    )
    state = (
        F.when(imp >= max_impressions, "graduated")
        .when(imp < min_impressions, "warmup")
        .when(F.col("p_better") < F.lit(float(fade_probability)), "faded")
        .when(F.col("sampled") >= F.col("reference"), "boost")
        .otherwise("hold")
    )
    target = (
        F.when(F.col("state") == "warmup", F.lit(int(min_impressions)).cast("long"))
        .when(F.col("state") == "boost", F.least(F.lit(int(max_impressions)).cast("long"), imp * 2))
        .otherwise(imp)
    )
    return df.withColumn("state", state).withColumn("target_impressions", target)


def assign_audience(
    decided: DataFrame,
    video_emb: DataFrame,
    user_emb: DataFrame,
    watched: DataFrame,
    *,
    per_user_cap: int,
    dim: int,
    block: int = 1024,
) -> DataFrame:
    """The predicted audience of every pool video that needs exposure: the users whose vectors
    are nearest the video's (its vector is content-driven while it has few views), excluding
    users who already saw it, ``target - impressions`` users per video, and no user gets more
    than ``per_user_cap`` new videos per run. Returns user_id, video_id, score."""
    spark = user_emb.sparkSession
    need = (
        decided.where(F.col("target_impressions") > F.col("impressions"))
        .select(
            "video_id",
            "impressions",
            (F.col("target_impressions") - F.col("impressions")).alias("need"),
        )
        .join(video_emb.select("video_id", "embedding"), "video_id")
        .toPandas()
    )
    schema = T.StructType(
        [
            T.StructField("user_id", T.LongType()),
            T.StructField("video_id", T.LongType()),
            T.StructField("score", T.DoubleType()),
        ]
    )
    if need.empty:
        return spark.createDataFrame([], schema)
    vids = need["video_id"].to_numpy(np.int64)
    # over-select by the users who may already have seen it (removed below)
    k_local = (need["need"] + need["impressions"]).to_numpy(np.int64)
    mat = np.vstack(need["embedding"].to_numpy()).astype(np.float32)
    bc = spark.sparkContext.broadcast((vids, k_local, mat))

    def nearest(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        v, k, m = bc.value
        users, vecs = [], []
        for batch in batches:
            if batch.num_rows:
                users.append(batch.column(0).to_numpy(zero_copy_only=False))
                vecs.append(list_values(batch.column(1), dim).astype(np.float32))
        if not users:
            return
        u_ids, u = np.concatenate(users), np.vstack(vecs)
        for lo in range(0, len(v), block):
            s = u @ m[lo : lo + block].T  # (users, videos)
            for j in range(s.shape[1]):
                kj = int(min(k[lo + j], len(u_ids)))
                top = (
                    np.argpartition(-s[:, j], kj - 1)[:kj]
                    if kj < len(u_ids)
                    else np.arange(len(u_ids))
                )
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(u_ids[top], pa.int64()),
                        pa.array(np.full(len(top), v[lo + j]), pa.int64()),
                        pa.array(s[top, j].astype(np.float64), pa.float64()),
                    ],
                    names=["user_id", "video_id", "score"],
                )

    local = user_emb.select("user_id", "embedding").mapInArrow(nearest, schema)
    needs = spark.createDataFrame(need[["video_id", "need"]])
    per_video = Window.partitionBy("video_id").orderBy(F.col("score").desc(), F.col("user_id"))
    per_user = Window.partitionBy("user_id").orderBy(F.col("score").desc(), F.col("video_id"))
    return (
        local.join(watched.select("user_id", "video_id"), ["user_id", "video_id"], "left_anti")
        .join(F.broadcast(needs), "video_id")
        .withColumn("_r", F.row_number().over(per_video))
        .where(F.col("_r") <= F.col("need"))
        .withColumn("_u", F.row_number().over(per_user))
        .where(F.col("_u") <= per_user_cap)
        .select("user_id", "video_id", "score")
    )


# --- offline replay ------------------------------------------------------------------------------


def simulate_discovery(
    true_rates: np.ndarray,
    reference: float,
    *,
    rounds: int,
    min_impressions: int,
    max_impressions: int,
    prior_alpha: float,
    prior_beta: float,
    fade_probability: float,
    seed: int,
    policy: str = "thompson",
    good_quantile: float = 0.8,
) -> dict[str, float]:
    """Replay the exploration policy on videos with known completion rates.

    Each round is one nightly run: a video's new impressions are ``target - impressions`` and
    each completes with its true rate. ``policy="threshold"`` is the fixed-threshold baseline
    (after ``min_impressions``, boost while the posterior mean beats the reference, else fade for
    good). Reports, for "good" videos (true rate in the top ``1 - good_quantile`` and above the
    reference), the share graduated and the median rounds/impressions until graduation, and the
    impressions spent on videos worse than the reference.
    """
    from scipy.special import betainc, betaincinv

    rng = np.random.default_rng(seed)
    p = np.asarray(true_rates, dtype=np.float64)
    n = len(p)
    imp = np.zeros(n, np.int64)
    succ = np.zeros(n, np.float64)
    faded = np.zeros(n, bool)
    grad_round = np.full(n, -1, np.int64)
    for r in range(rounds):
        a, b = prior_alpha + succ, prior_beta + imp - succ
        target = imp.copy()
        active = (~faded) & (imp < max_impressions)
        warm = active & (imp < min_impressions)
        target[warm] = min_impressions
        rest = active & ~warm
        if policy == "thompson":
            p_better = 1.0 - betainc(a, b, reference)
            fade_now = rest & (p_better < fade_probability)
            theta = betaincinv(a, b, rng.random(n))
            boost = rest & ~fade_now & (theta >= reference)
        else:
            mean = a / (a + b)
            fade_now = rest & (mean < reference)
            boost = rest & ~fade_now
        faded |= fade_now
        target[boost] = np.minimum(max_impressions, 2 * imp[boost])
        new = target - imp
        succ += rng.binomial(np.maximum(new, 0), p)
        imp = target
        just = (imp >= max_impressions) & (grad_round < 0)
        grad_round[just] = r + 1
    good = (p >= np.quantile(p, good_quantile)) & (p > reference) if n else np.zeros(0, bool)
    bad = p < reference
    g_rounds = grad_round[good & (grad_round > 0)]
    return {
        "videos": float(n),
        "good_videos": float(good.sum()),
        "good_graduated_share": float((grad_round[good] > 0).mean()) if good.any() else 0.0,
        "good_median_rounds_to_graduate": float(np.median(g_rounds))
        if len(g_rounds)
        else float("nan"),
        "bad_graduated_share": float((grad_round[bad] > 0).mean()) if bad.any() else 0.0,
        "bad_faded_share": float(faded[bad].mean()) if bad.any() else 0.0,
        "impressions_on_bad_share": float(imp[bad].sum() / max(1, imp.sum())),
        "impressions_total": float(imp.sum()),
    }
