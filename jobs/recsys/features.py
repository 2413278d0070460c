"""Features: smoothed per-video quality, creator score, freshness, popularity, user affinities.

Rates are smoothed with an empirical-Bayes prior: for a rate with per-impression values x
(completion in [0, 1], or a 0/1 like/comment/share), the global mean ``mu`` and the spread of the
true per-video rates (method of moments: observed variance of video rates minus the sampling
variance) give a prior worth ``m`` pseudo-impressions, and a video's rate is
``(sum x + m * mu) / (impressions + m)``. A video with 3 views therefore sits near the catalogue
mean, while one with 30,000 views shows its own rate. ``lift = rate / mu`` makes the rates
comparable; quality is the weighted mean of the lifts (weights from the design's signal table).
"""

from __future__ import annotations

import datetime as dt
import math

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.recsys.common import age_days, as_of_epoch, half_life_decay, top_per_key

#: (output rate, numerator, sum of squares, denominator) of the four engagement rates.
RATE_SPECS: tuple[tuple[str, str, str, str], ...] = (
    ("completion_rate", "completion_sum", "completion_sq", "impressions"),
    ("like_rate", "likes", "likes", "impressions"),
    ("comment_rate", "comments", "comments", "impressions"),
    ("share_rate", "shares", "shares", "impressions"),
)
#: Bounds of an estimated prior strength (pseudo-impressions).
PRIOR_MIN, PRIOR_MAX, PRIOR_FALLBACK = 1.0, 100_000.0, 100.0


def events_as_of(watch: DataFrame, ds: dt.date) -> DataFrame:
    """Impressions known at the end of ``ds``: event_date <= ds and event_time before midnight."""
    return watch.where(
        (F.col("event_date") <= F.lit(ds))
        & (F.col("event_time").cast("double") < F.lit(as_of_epoch(ds)))
    )


def decay_reference(events: DataFrame, now_epoch: float) -> float:
    """The instant engagement decays from: the latest impression of ``events`` (already cut at
    the as-of date), or ``now_epoch`` when there is none.

    Why not the as-of instant itself: ``2 ** -(age / half_life)`` of a log that ended long before
    the as-of date underflows for every impression at once (14-day half-life: below float's
    smallest value, which is what ALS reads, after about 5.7 years; below double's after about
    41), and every signal vanishes together. Measured from the latest impression, the freshest
    evidence weighs exactly 1, and every other weight keeps its ratio to it, so nothing the data
    can tell apart is lost. On a lake that is active up to the as-of date the two instants are
    at most a day apart. One aggregation (an action)."""
    latest = events.agg(F.max(F.col("event_time").cast("double"))).first()[0]
    return now_epoch if latest is None else min(now_epoch, float(latest))


def with_engagement(
    events: DataFrame,
    *,
    now_epoch: float,
    half_life_days: float,
    e_completion: float,
    e_like: float,
    e_comment: float,
    e_share: float,
    e_skip: float,
    decay_from_epoch: float | None = None,
) -> DataFrame:
    """Add ``completion`` (clipped to [0, 1]), ``engagement`` (completion, like, comment and share
    raise it, a skip lowers it), ``age_days`` (at ``now_epoch``), ``evidence_age_days`` (at
    ``decay_from_epoch``, default ``now_epoch``; see ``decay_reference``), ``decay`` (half-life
    of the latter) and ``weight`` = engagement x decay to every impression."""
    decay_from = now_epoch if decay_from_epoch is None else decay_from_epoch
    flag = lambda c: F.coalesce(F.col(c), F.lit(False)).cast("double")  # noqa: E731
    completion = F.least(
        F.lit(1.0), F.greatest(F.lit(0.0), F.coalesce("completion_rate", F.lit(0.0)))
    )
    engagement = (
        F.lit(e_completion) * F.col("completion")
        + F.lit(e_like) * flag("liked")
        + F.lit(e_comment) * flag("commented")
        + F.lit(e_share) * flag("shared")
        - F.lit(e_skip) * flag("skipped")
    )
    return (
        events.withColumn("completion", completion)
        .withColumn("engagement", engagement)
        .withColumn("age_days", age_days("event_time", now_epoch))
        .withColumn("evidence_age_days", age_days("event_time", decay_from))
        .withColumn("decay", half_life_decay(F.col("evidence_age_days"), half_life_days))
        .withColumn("weight", F.col("engagement") * F.col("decay"))
    )


def video_engagement(
    events: DataFrame, *, popularity_half_life_days: float, trending_half_life_days: float
) -> DataFrame:
    """Per video: impression counts and sums (needs ``with_engagement`` columns). Recent views
    and trending engagement decay with the age at the decay reference (``evidence_age_days``),
    so a log that ended long before the as-of date keeps its ordering."""
    viewed = ~F.coalesce(F.col("skipped"), F.lit(False))
    flag = lambda c: F.coalesce(F.col(c), F.lit(False)).cast("long")  # noqa: E731
    positive = F.greatest(F.col("engagement"), F.lit(0.0))
    return events.groupBy("video_id").agg(
        F.count(F.lit(1)).alias("impressions"),
        F.sum(viewed.cast("long")).alias("views"),
        F.sum("completion").alias("completion_sum"),
        F.sum(F.col("completion") * F.col("completion")).alias("completion_sq"),
        F.sum(flag("liked")).alias("likes"),
        F.sum(flag("commented")).alias("comments"),
        F.sum(flag("shared")).alias("shares"),
        F.sum(flag("skipped")).alias("skips"),
        F.sum(
            F.when(
                viewed, half_life_decay(F.col("evidence_age_days"), popularity_half_life_days)
            ).otherwise(0.0)
        ).alias("recent_views"),
        F.sum(
            positive * half_life_decay(F.col("evidence_age_days"), trending_half_life_days)
        ).alias("trending_engagement"),
    )


def smooth_rates(
    df: DataFrame,
    specs: tuple[tuple[str, str, str, str], ...] = RATE_SPECS,
    prior_strength: float | None = None,
    min_impressions: int = 5,
) -> DataFrame:
    """Add each smoothed rate and its ``<rate>_lift`` (= rate / global mean).

    ``prior_strength`` (pseudo-impressions) fixes ``m``; ``None`` estimates it per rate from the
    data (empirical Bayes, method of moments over rows with at least ``min_impressions``).
    """
    aggs = []
    for name, num, sq, den in specs:
        ok = F.col(den) >= min_impressions
        raw = F.col(num) / F.col(den)
        aggs += [
            F.sum(num).cast("double").alias(f"_{name}_x"),
            F.sum(sq).cast("double").alias(f"_{name}_xx"),
            F.sum(den).cast("double").alias(f"_{name}_n"),
            F.var_pop(F.when(ok, raw)).alias(f"_{name}_var"),
            F.avg(F.when(ok, 1.0 / F.col(den))).alias(f"_{name}_inv"),
        ]
    stats = df.agg(*aggs)
    cols = []
    for name, *_ in specs:
        mu = F.col(f"_{name}_x") / F.col(f"_{name}_n")
        sigma2 = F.greatest(F.col(f"_{name}_xx") / F.col(f"_{name}_n") - mu * mu, F.lit(1e-12))
        tau2 = F.col(f"_{name}_var") - sigma2 * F.col(f"_{name}_inv")
        if prior_strength is not None:
            m = F.lit(float(prior_strength))
        else:
            m = (
                F.when(F.col(f"_{name}_var").isNull(), F.lit(PRIOR_FALLBACK))
                .when(tau2 <= 0, F.lit(PRIOR_MAX))
                .otherwise(F.least(F.lit(PRIOR_MAX), F.greatest(F.lit(PRIOR_MIN), sigma2 / tau2)))
            )
        cols += [F.coalesce(mu, F.lit(0.0)).alias(f"_{name}_mu"), m.alias(f"_{name}_m")]
    priors = stats.select(*cols)
    out = df.crossJoin(F.broadcast(priors))
    for name, num, _sq, den in specs:
        mu, m = F.col(f"_{name}_mu"), F.col(f"_{name}_m")
        rate = (F.coalesce(F.col(num), F.lit(0)) + m * mu) / (F.coalesce(F.col(den), F.lit(0)) + m)
        out = out.withColumn(name, rate).withColumn(
            f"{name}_lift", F.when(mu > 0, F.col(name) / mu).otherwise(F.lit(1.0))
        )
    return out.drop(*[c for c in out.columns if c.startswith("_")])


def quality_from_lifts(df: DataFrame, weights: dict[str, float], out: str = "quality") -> DataFrame:
    """Weighted mean of the rate lifts (1.0 = an average video)."""
    total = sum(weights.values())
    expr = sum((F.lit(w) * F.col(f"{rate}_lift") for rate, w in weights.items()), F.lit(0.0))
    return df.withColumn(out, expr / F.lit(total))


def creator_scores(
    video_eng: DataFrame,
    videos: DataFrame,
    weights: dict[str, float],
    prior_strength: float | None = None,
) -> DataFrame:
    """Creator track record: the creator's pooled engagement over all their videos, smoothed the
    same way as a video's (a new creator scores 1.0, the average). Videos without a creator
    (imported items) are no creator's: they pool nothing and score 1.0 too."""
    sums = ["impressions", "completion_sum", "completion_sq", "likes", "comments", "shares"]
    per_creator = (
        video_eng.join(videos.select("video_id", "creator_id"), "video_id")
        .where(F.col("creator_id").isNotNull())
        .groupBy("creator_id")
        .agg(*[F.sum(c).alias(c) for c in sums])
    )
    return (
        per_creator.transform(lambda d: smooth_rates(d, prior_strength=prior_strength))
        .transform(lambda d: quality_from_lifts(d, weights, out="creator_score"))
        .select("creator_id", "creator_score")
    )


def video_features(
    videos: DataFrame,
    events: DataFrame,
    *,
    ds: dt.date,
    weights: dict[str, float],
    prior_strength: float | None,
    freshness_half_life_days: float,
    freshness_floor: float,
    trending_half_life_days: float,
    popularity_half_life_days: float,
    w_quality: float,
    w_creator: float,
    w_freshness: float,
) -> DataFrame:
    """One row per video known at ``ds`` (any status): the gold.video_features columns.

    ``events`` must carry the ``with_engagement`` columns. ``base_score`` (quality x creator x
    freshness x (1 + popularity), exponents as in ranking) orders the per-key candidate lists.
    """
    now = as_of_epoch(ds)
    known = videos.where(F.col("created_at").cast("double") < F.lit(now))
    eng = video_engagement(
        events,
        popularity_half_life_days=popularity_half_life_days,
        trending_half_life_days=trending_half_life_days,
    )
    smoothed = (
        known.select("video_id", "creator_id", "status", "created_at")
        .join(eng, "video_id", "left")
        .fillna(
            0,
            subset=[
                "impressions",
                "views",
                "completion_sum",
                "completion_sq",
                "likes",
                "comments",
                "shares",
                "skips",
                "recent_views",
                "trending_engagement",
            ],
        )
        .transform(lambda d: smooth_rates(d, prior_strength=prior_strength))
        .transform(lambda d: quality_from_lifts(d, weights))
    )
    creators = creator_scores(eng, known, weights, prior_strength)
    age = age_days("created_at", now)
    fresh = F.lit(freshness_floor) + F.lit(1.0 - freshness_floor) * half_life_decay(
        F.col("age_days"), freshness_half_life_days
    )
    out = (
        smoothed.join(creators, "creator_id", "left")
        .fillna(1.0, subset=["creator_score"])
        .withColumn("age_days", age)
        .withColumn("freshness", fresh)
        .withColumn("popularity", F.log1p("recent_views"))
        .withColumn("trending_score", F.col("trending_engagement") * F.col("quality"))
        .withColumn(
            "base_score",
            F.pow("quality", F.lit(w_quality))
            * F.pow("creator_score", F.lit(w_creator))
            * F.pow("freshness", F.lit(w_freshness))
            * (F.lit(1.0) + F.col("popularity")),
        )
        .withColumn("ds", F.lit(ds))
    )
    return out.select(
        "ds",
        "video_id",
        "creator_id",
        "status",
        "created_at",
        "age_days",
        "impressions",
        "views",
        "completion_rate",
        "like_rate",
        "comment_rate",
        "share_rate",
        "quality",
        "creator_score",
        "freshness",
        "popularity",
        "trending_score",
        "base_score",
    )


def user_affinities(events: DataFrame, videos: DataFrame, top_k: int) -> DataFrame:
    """Per user and kind (hashtag, sound, creator): the summed decayed engagement ``weight`` of
    the user's impressions, positive ones only, best ``top_k`` per kind (rank 1 = strongest)."""
    ev = events.select("user_id", "video_id", "weight")
    vids = videos.select("video_id", "creator_id", "sound_id", "hashtags")
    joined = ev.join(vids, "video_id")
    tags = joined.select(
        "user_id", F.lit("hashtag").alias("kind"), F.explode("hashtags").alias("key"), "weight"
    )
    sounds = joined.where(F.col("sound_id").isNotNull()).select(
        "user_id",
        F.lit("sound").alias("kind"),
        F.col("sound_id").cast("string").alias("key"),
        "weight",
    )
    creators = joined.where(F.col("creator_id").isNotNull()).select(
        "user_id",
        F.lit("creator").alias("kind"),
        F.col("creator_id").cast("string").alias("key"),
        "weight",
    )
    scored = (
        tags.unionByName(sounds)
        .unionByName(creators)
        .groupBy("user_id", "kind", "key")
        .agg(F.sum("weight").alias("score"))
        .where(F.col("score") > 0)
    )
    return top_per_key(scored, ["user_id", "kind"], "score", top_k, tie="key").select(
        "user_id", "kind", "key", "score", "rank"
    )


def ready_videos(features: DataFrame) -> DataFrame:
    return features.where(F.col("status") == "ready")


def key_top_lists(
    features: DataFrame, videos: DataFrame, n: int
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(hashtag_top, sound_top, creator_top): the ``n`` best ready videos per key by base_score."""
    ready = ready_videos(features).select("video_id", F.col("base_score").alias("score"))
    meta = ready.join(videos.select("video_id", "creator_id", "sound_id", "hashtags"), "video_id")
    hashtag = top_per_key(
        meta.select(F.explode("hashtags").alias("hashtag"), "video_id", "score"),
        ["hashtag"],
        "score",
        n,
    ).select("hashtag", "rank", "video_id", "score")
    sound = top_per_key(
        meta.where(F.col("sound_id").isNotNull()).select("sound_id", "video_id", "score"),
        ["sound_id"],
        "score",
        n,
    ).select("sound_id", "rank", "video_id", "score")
    creator = top_per_key(
        meta.where(F.col("creator_id").isNotNull()).select("creator_id", "video_id", "score"),
        ["creator_id"],
        "score",
        n,
    ).select("creator_id", "rank", "video_id", "score")
    return hashtag, sound, creator


def trending(features: DataFrame, n: int) -> DataFrame:
    """The ``n`` ready videos with the highest trending score (decayed recent engagement x
    quality), rank 1 first; videos nobody engaged with recently are not trending."""
    ready = ready_videos(features).where(F.col("trending_score") > 0)
    return top_per_key(ready.withColumn("_all", F.lit(1)), ["_all"], "trending_score", n).select(
        "rank", "video_id", F.col("trending_score").alias("score")
    )


#: Popularity half-lives (days) ``choose_popularity_half_life`` validates; inf = all-time counts.
POPULARITY_HALF_LIFE_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 365.0, math.inf)


def choose_popularity_half_life(
    events: DataFrame,
    *,
    min_completion: float,
    fallback: float,
    grid: tuple[float, ...] = POPULARITY_HALF_LIFE_GRID,
    fraction: float = 0.2,
    k: int = 100,
) -> tuple[float, dict[float, float]]:
    """The half-life whose popularity best predicts what users engage with next: each user's
    latest ``fraction`` of impressions (users with two or more) is held out, every half-life of
    ``grid`` ranks the videos by decayed views of the rest, and each list's top ``k`` is scored
    by the DCG of the held-out positives it contains (a video the user had already seen does
    not count), per held-out user. Returns (best, {half-life: DCG}); ``fallback`` when nothing
    is held out. ``events`` carries the ``with_engagement`` columns; the work is one
    aggregation over videos and ``len(grid)`` top-``k`` lists on the driver."""
    from jobs.recsys.cowatch import is_positive

    by_user = Window.partitionBy("user_id")
    latest = by_user.orderBy(F.col("event_time").desc(), F.col("video_id"))
    n = F.count(F.lit(1)).over(by_user)
    held_n = F.when(n >= 2, F.greatest(F.lit(1), F.floor(n * F.lit(fraction)))).otherwise(0)
    tagged = (
        events.select(
            "user_id",
            "video_id",
            "event_time",
            "evidence_age_days",
            (~F.coalesce(F.col("skipped"), F.lit(False))).alias("_viewed"),
            is_positive(min_completion, "completion").alias("_positive"),
        )
        .withColumn("_held", F.row_number().over(latest) <= held_n)
        .cache()
    )
    cached = [tagged]
    try:
        fit = tagged.where(~F.col("_held"))
        held = (
            tagged.where(F.col("_held") & F.col("_positive"))
            .select("user_id", "video_id")
            .distinct()
            .join(fit.select("user_id", "video_id"), ["user_id", "video_id"], "left_anti")
            .cache()
        )
        cached.append(held)
        n_users = held.select("user_id").distinct().count()
        if n_users == 0:
            return fallback, {}
        views = F.col("_viewed").cast("double")
        cols = [
            F.sum(views * half_life_decay(F.col("evidence_age_days"), h)).alias(f"h{i}")
            for i, h in enumerate(grid)
        ]
        pop = fit.groupBy("video_id").agg(*cols).cache()
        cached.append(pop)
        tops = [
            [
                r["video_id"]
                for r in pop.where(F.col(f"h{i}") > 0)
                .orderBy(F.col(f"h{i}").desc(), "video_id")
                .limit(k)
                .select("video_id")
                .collect()
            ]
            for i in range(len(grid))
        ]
        listed = sorted({v for top in tops for v in top})
        hits = {
            r["video_id"]: r["n"]
            for r in held.where(F.col("video_id").isin(listed))
            .groupBy("video_id")
            .agg(F.count(F.lit(1)).alias("n"))
            .collect()
        }
    finally:
        for df in cached:
            df.unpersist()
    scores = {
        h: sum(hits.get(v, 0) / math.log2(r + 2) for r, v in enumerate(top)) / n_users
        for h, top in zip(grid, tops, strict=True)
    }
    best = max(scores, key=lambda h: (scores[h], -grid.index(h)))
    return best, scores
