"""The engine's stages chained: silver frames in, gold frames out.

The jobs (``jobs/nightly/features.py`` ...) read their inputs from the lake, call one stage and
write its outputs; ``fyp evaluate`` calls every stage in memory on a training split. A stage only
wires transforms; all logic is in the transform modules.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.recsys import (
    bandit,
    blend,
    candidates,
    catalogue,
    coldstart,
    cowatch,
    ease,
    embeddings,
    features,
    ranking,
)
from jobs.recsys.common import DAY_S, as_of_epoch
from jobs.recsys.params import HYBRID, RecParams

logger = logging.getLogger(__name__)


@dataclass
class Silver:
    """The silver tables the engine reads (any frames with the catalog's silver schemas)."""

    watch: DataFrame
    users: DataFrame
    videos: DataFrame
    follows: DataFrame


@dataclass
class Prepared:
    """Silver restricted to what was known at the end of ``ds``, with engagement weights."""

    ds: dt.date
    events: DataFrame  # impressions with completion, engagement, age_days, decay, weight
    users: DataFrame
    videos: DataFrame
    follows: DataFrame
    watched: DataFrame  # distinct (user_id, video_id)
    recent: DataFrame | None = None  # recent positives, built once (``recent_positives``)
    popularity_half_life: float | None = None  # the validated one, once chosen
    cold_prior: dict[str, Any] | None = None  # the cold-start prior's validation, once run


def prepare(silver: Silver, ds: dt.date, p: RecParams, cache: bool = True) -> Prepared:
    now = as_of_epoch(ds)
    known = features.events_as_of(silver.watch, ds)
    decay_from = features.decay_reference(known, now)
    idle_days = (now - decay_from) / DAY_S
    if idle_days > p.user_half_life_days:
        latest = dt.datetime.fromtimestamp(decay_from, dt.UTC)
        logger.warning(
            "as of the end of %s the latest impression is %.0f days old (%s UTC): engagement "
            "weights decay from it, not from the as-of date (from which they would all be "
            "2^-%.0f); trending and popularity, recent activity as of the as-of date, fade out",
            ds,
            idle_days,
            f"{latest:%Y-%m-%d %H:%M}",
            idle_days / p.user_half_life_days,
        )
    events = features.with_engagement(
        known,
        now_epoch=now,
        decay_from_epoch=decay_from,
        half_life_days=p.user_half_life_days,
        e_completion=p.e_completion,
        e_like=p.e_like,
        e_comment=p.e_comment,
        e_share=p.e_share,
        e_skip=p.e_skip,
    ).select(
        "user_id",
        "video_id",
        "creator_id",
        "event_time",
        "completion",
        "liked",
        "shared",
        "commented",
        "skipped",
        "engagement",
        "age_days",
        "evidence_age_days",
        "decay",
        "weight",
    )
    users = silver.users.where(
        F.col("signup_time").isNull() | (F.col("signup_time").cast("double") < F.lit(now))
    )
    videos = silver.videos.where(F.col("created_at").cast("double") < F.lit(now))
    follows = silver.follows.where(
        F.col("followed_at").isNull() | (F.col("followed_at").cast("double") < F.lit(now))
    )
    if cache:
        events = events.cache()
        users = users.cache()
        videos = videos.cache()
    watched = events.select("user_id", "video_id").distinct()
    if cache:
        watched = watched.cache()
    return Prepared(ds, events, users, videos, follows, watched)


def quality_weights(p: RecParams) -> dict[str, float]:
    return {
        "completion_rate": p.w_completion,
        "like_rate": p.w_like,
        "comment_rate": p.w_comment,
        "share_rate": p.w_share,
    }


def popularity_half_life(prep: Prepared, p: RecParams) -> float:
    """``rec_popularity_half_life_days``, or the one validation chooses on this run's events."""
    if p.popularity_half_life_days is not None:
        return p.popularity_half_life_days
    if prep.popularity_half_life is not None:
        return prep.popularity_half_life
    best, scores = features.choose_popularity_half_life(
        prep.events, min_completion=p.cowatch_min_completion, fallback=p.freshness_half_life_days
    )
    logger.info(
        "popularity half-life %s days (validated DCG by half-life: %s)",
        best,
        {h: round(v, 5) for h, v in scores.items()},
    )
    prep.popularity_half_life = best
    return best


def video_features_of(
    prep: Prepared, p: RecParams, events: DataFrame, popularity_half_life_days: float
) -> DataFrame:
    """gold.video_features of ``prep``'s videos from ``events`` (the nightly: every known
    impression; the blend validation: those outside its held-out slice)."""
    return features.video_features(
        prep.videos,
        events,
        ds=prep.ds,
        weights=quality_weights(p),
        prior_strength=p.quality_prior_views,
        freshness_half_life_days=p.freshness_half_life_days,
        freshness_floor=p.freshness_floor,
        trending_half_life_days=p.trending_half_life_days,
        popularity_half_life_days=popularity_half_life_days,
        w_quality=p.w_quality,
        w_creator=p.w_creator,
        w_freshness=p.w_freshness,
    )


def cold_prior(prep: Prepared, p: RecParams, ready: DataFrame) -> float:
    """The demographic pools' prior strength: the configured one, or validated on the run's
    own target (``coldstart.choose_prior``)."""
    if p.cold_prior_strength is not None:
        return p.cold_prior_strength
    if prep.cold_prior is None:
        prep.cold_prior = coldstart.choose_prior(
            prep.events,
            prep.users,
            ready,
            kind=p.blend_holdout,
            seed=p.seed + 37,
            max_users=p.blend_users,
            min_completion=p.cowatch_min_completion,
        )
    return prep.cold_prior["cold_prior"]


def stage_features(prep: Prepared, p: RecParams) -> dict[str, DataFrame]:
    ds = prep.ds
    vf = video_features_of(prep, p, prep.events, popularity_half_life(prep, p)).cache()
    aff = features.user_affinities(prep.events, prep.videos, p.affinity_top_k)
    tags, sounds, creators = features.key_top_lists(vf, prep.videos, p.list_size)
    trend = features.trending(vf, p.list_size)
    ready = features.ready_videos(vf).select("video_id")
    demo = coldstart.demographic_pools(
        prep.events, prep.users, ready, p.list_size, cold_prior(prep, p, ready)
    ).withColumn("pool", F.lit("demographic"))
    diverse = coldstart.diverse_pool(vf, prep.videos, p.list_size)
    pools = demo.unionByName(
        diverse.select(
            F.lit("diverse").alias("pool"),
            F.lit(None).cast("string").alias("age_band"),
            F.lit(None).cast("string").alias("country"),
            F.lit(None).cast("string").alias("language"),
            "rank",
            "video_id",
            "score",
        )
    )
    with_ds = lambda d: d.withColumn("ds", F.lit(ds))  # noqa: E731
    return {
        "video_features": vf,
        "user_affinities": with_ds(aff),
        "trending": with_ds(trend),
        "hashtag_top": with_ds(tags),
        "sound_top": with_ds(sounds),
        "creator_top": with_ds(creators),
        "coldstart_pools": with_ds(pools),
    }


def video_embeddings_of(prep: Prepared, p: RecParams, events: DataFrame) -> DataFrame:
    """video_id, embedding, cf_weight of ``prep``'s videos, ALS fit on ``events`` (the nightly:
    every known impression; the blend validation: those outside its held-out slice)."""
    return embeddings.video_embeddings(
        prep.videos,
        embeddings.ratings(events),
        dim=p.embedding_dim,
        als_rank=p.als_rank,
        max_iter=p.als_max_iter,
        reg=p.als_reg,
        alpha=p.als_alpha,
        content_shrink=p.content_shrink,
        content_hash_weight=p.content_hash_weight,
        seed=p.seed,
    )


def stage_embeddings(prep: Prepared, p: RecParams) -> dict[str, DataFrame]:
    vemb = video_embeddings_of(prep, p, prep.events).cache()
    uemb = embeddings.user_embeddings(prep.events, vemb, p.embedding_dim).cache()
    version = p.model_version
    ready = features.ready_videos(prep.videos).select("video_id")
    neighbours = item_neighbours(recent_positives(prep, p), ready, p)
    return {
        "video_embeddings": vemb.select(
            F.lit(prep.ds).alias("ds"),
            "video_id",
            "embedding",
            F.lit(version).alias("model_version"),
            "cf_weight",
        ),
        "user_embeddings": uemb.select(
            F.lit(prep.ds).alias("ds"),
            "user_id",
            "embedding",
            F.lit(version).alias("model_version"),
            "engagements",
        ),
        "video_neighbours": neighbours.withColumn("ds", F.lit(prep.ds)),
    }


def stage_exploration(
    prep: Prepared,
    p: RecParams,
    video_features: DataFrame,
    video_emb: DataFrame,
    user_emb: DataFrame,
) -> dict[str, DataFrame]:
    pool = bandit.pool_stats(
        prep.events,
        video_features,
        window_days=p.explore_window_days,
        prior_alpha=p.bandit_prior_alpha,
        prior_beta=p.bandit_prior_beta,
    ).cache()
    prior_mean = p.bandit_prior_alpha / (p.bandit_prior_alpha + p.bandit_prior_beta)
    ref = bandit.reference_completion(prep.events, pool, prior_mean)
    decided = bandit.thompson_decide(
        pool,
        ref,
        seed=p.seed,
        ds=prep.ds,
        min_impressions=p.explore_min_impressions,
        max_impressions=p.explore_max_impressions,
        fade_probability=p.bandit_fade_probability,
    ).cache()
    assigned = bandit.assign_audience(
        decided,
        video_emb,
        user_emb,
        prep.watched,
        per_user_cap=p.explore_slots,
        dim=p.embedding_dim,
    )
    ds_col = F.lit(prep.ds).alias("ds")
    return {
        "exploration_pool": decided.select(
            ds_col,
            "video_id",
            "created_at",
            "impressions",
            "completion_sum",
            "alpha",
            "beta",
            "reference",
            "p_better",
            "sampled",
            "state",
            "target_impressions",
        ),
        "exploration_assignments": assigned.select(ds_col, "user_id", "video_id", "score"),
    }


def item_neighbours(recent: DataFrame, ready: DataFrame, p: RecParams) -> DataFrame:
    """gold.video_neighbours from the configured item model (``rec_item_model``): EASE when the
    catalogue fits (``jobs.recsys.ease``), cosine co-engagement otherwise."""
    if p.item_model != "cosine":
        max_items = p.ease_max_items if p.item_model == "auto" else 10**9
        nb, info = ease.ease_neighbours(
            recent,
            ready,
            p.ease_neighbours,
            max_items=max_items,
            seed=p.seed,
            validation=p.blend_holdout,
        )
        if nb is not None:
            return nb
        logger.info("item model: cosine co-engagement (%s)", info.get("why"))
    return cowatch.item_neighbours(recent, ready, p.cowatch_neighbours)


def _catalog(p: RecParams, video_features, video_emb, coldstart_pools=None, neighbours=None):
    pools = diverse = None
    if coldstart_pools is not None:
        pools = coldstart_pools.where(F.col("pool") == "demographic")
        diverse = coldstart_pools.where(F.col("pool") == "diverse")
    return catalogue.build_catalog(
        video_features, video_emb, pools, diverse, p.embedding_dim, neighbours
    )


def recent_positives(prep: Prepared, p: RecParams) -> DataFrame:
    """The users' recent positives that seed co-engagement (``cowatch.recent_positives``);
    built once per ``Prepared`` (neighbours, candidate inputs and the baseline all read it)."""
    if prep.recent is None:
        prep.recent = cowatch.recent_positives(
            prep.events, p.cowatch_min_completion, p.cowatch_history, completion="completion"
        ).cache()
    return prep.recent


def _inputs(prep: Prepared, p: RecParams, *, user_emb, user_affinities, assignments, users=None):
    return candidates.candidate_inputs(
        prep.users if users is None else users,
        prep.events,
        user_emb,
        prep.follows,
        user_affinities,
        assignments,
        cowatch.user_history(recent_positives(prep, p)),
        fatigue_since_epoch=as_of_epoch(prep.ds) - p.fatigue_window_days * 86_400.0,
    )


def stage_candidates(prep: Prepared, p: RecParams, gold: dict[str, DataFrame]) -> DataFrame:
    """gold.candidates: ds, user_id, video_id, source, score, sources, for the users of
    ``candidates.candidate_sample`` (``rec_candidates_sample_users``): the same candidates
    the rank job's fused pass generates for them. ``gold``: the frames of
    ``lakeio.CANDIDATE_GOLD`` by table name (lake partitions or ``learned.gold_as_of``)."""
    cat = _catalog(
        p, gold["video_features"], gold["video_embeddings"], neighbours=gold["video_neighbours"]
    )
    lists = catalogue.build_lists(
        cat, gold["hashtag_top"], gold["sound_top"], gold["creator_top"], gold["trending"]
    )
    rows = _inputs(
        prep,
        p,
        user_emb=gold["user_embeddings"],
        user_affinities=gold["user_affinities"],
        assignments=gold["exploration_assignments"],
        users=candidates.candidate_sample(prep.users, p.candidates_sample_users),
    )
    cands = candidates.generate_candidates(
        rows, cat, lists, candidates.CandidateConfig.from_params(p), p.embedding_dim
    )
    return cands.withColumn("ds", F.lit(prep.ds))


def rank_candidates(
    prep: Prepared,
    p: RecParams,
    *,
    video_features: DataFrame,
    video_emb: DataFrame,
    user_emb: DataFrame,
    coldstart_pools: DataFrame,
    candidates_df: DataFrame,
    ranker: str | None = None,
    neighbours: DataFrame | None = None,
    model: Any = None,
    user_affinities: DataFrame | None = None,
    report: dict[str, Any] | None = None,
) -> DataFrame:
    """Feeds (gold.feeds rows without run_id) of materialised candidates (gold.candidates of
    its sampled users, for debugging a ranking; the nightly ranks in ``stage_recommend``'s
    fused pass, which gives the same feeds for the same candidates): ds, user_id, rank,
    video_id, score, source. ``model``: a ``learned.Model`` that ranks when ``ranker`` is
    learned (its features read ``user_affinities``). The hybrid formula's unset blend
    weights are validated first (``blend.resolve``; ``report`` gets the choice)."""
    cat = _catalog(p, video_features, video_emb, coldstart_pools, neighbours)
    rows = ranking.user_rows(
        prep.users,
        candidates_df,
        prep.events,
        user_emb,
        cowatch.user_history(recent_positives(prep, p)),
        fatigue_since_epoch=as_of_epoch(prep.ds) - p.fatigue_window_days * 86_400.0,
        cold_start_full=p.cold_start_full,
    )
    if (ranker or p.ranker) == HYBRID:
        p = blend.resolve(
            prep,
            p,
            video_features=video_features,
            video_emb=video_emb,
            neighbours=neighbours,
            report=report,
        )
    cfg = ranking.RankConfig.from_params(p, ranker=ranker)
    bound = None
    if model is not None and cfg.learned:
        bound = model.bind(cat, video_features, prep.videos)
        if user_affinities is not None:
            rows = ranking.with_affinity(rows, user_affinities)
    return ranking.rank_feeds(rows, cat, cfg, p.embedding_dim, bound).withColumn(
        "ds", F.lit(prep.ds)
    )


def stage_recommend(
    prep: Prepared,
    p: RecParams,
    gold: dict[str, DataFrame],
    variants: dict[str, str] | None = None,
    model: Any = None,
    report: dict[str, Any] | None = None,
    *,
    ranker: str | None = None,
    blend_with_served_lists: bool = True,
) -> DataFrame:
    """Candidates and ranking fused per batch of users (no candidate row is materialised):
    the feeds, ranked by ``ranker`` (default ``p.ranker``). With ``variants`` (model name ->
    ranker), every ranker ranks the same candidates and the feeds get a ``model`` column
    (offline comparison). ``model``: the ``learned.Model`` of the ``learned`` ranker.
    ``blend_with_served_lists``: the blend validation reuses ``gold``'s source lists (the
    offline evaluation, as measured) instead of rebuilding them without its held-out slice
    (the nightly)."""
    ranker = ranker or p.ranker
    cat = _catalog(
        p,
        gold["video_features"],
        gold["video_embeddings"],
        gold["coldstart_pools"],
        gold["video_neighbours"],
    )
    lists = catalogue.build_lists(
        cat, gold["hashtag_top"], gold["sound_top"], gold["creator_top"], gold["trending"]
    )
    rows = _inputs(
        prep,
        p,
        user_emb=gold["user_embeddings"],
        user_affinities=gold["user_affinities"],
        assignments=gold["exploration_assignments"],
    )
    hp = p  # the hybrid formula's unset blend weights validated (``report``: the choice)
    if HYBRID in (set(variants.values()) if variants else {ranker}):
        hp = blend.resolve(
            prep,
            p,
            video_features=gold["video_features"],
            video_emb=gold["video_embeddings"],
            neighbours=gold["video_neighbours"],
            lists={k: gold[k] for k in ("hashtag_top", "sound_top", "creator_top", "trending")}
            if blend_with_served_lists
            else None,
            report=report,
        )
    pick = lambda r: hp if r == HYBRID else p  # noqa: E731
    cfg = (
        {name: ranking.RankConfig.from_params(pick(r), ranker=r) for name, r in variants.items()}
        if variants
        else ranking.RankConfig.from_params(pick(ranker), ranker=ranker)
    )
    bound = None
    if model is not None and any(c.learned for c in (cfg.values() if variants else [cfg])):
        bound = model.bind(cat, gold["video_features"], prep.videos)
        rows = ranking.with_affinity(rows, gold["user_affinities"])
    feeds = ranking.recommend(
        rows, cat, lists, candidates.CandidateConfig.from_params(p), cfg, p.embedding_dim, bound
    )
    return feeds.withColumn("ds", F.lit(prep.ds))


def build_all(
    silver: Silver,
    ds: dt.date,
    p: RecParams,
    variants: dict[str, str] | None = None,
    model: Any = None,
) -> dict[str, DataFrame]:
    """Every stage in memory (evaluation, tests): the gold frames by table name, the feeds
    from the fused candidates+ranking pass. ``_prepared`` holds the as-of silver. ``model``:
    the ``learned.Model`` the ``learned`` ranker (variant) scores with."""
    prep = prepare(silver, ds, p)
    out = stage_features(prep, p)
    out["coldstart_pools"] = out["coldstart_pools"].cache()
    out.update(stage_embeddings(prep, p))
    out["video_neighbours"] = out["video_neighbours"].cache()
    out.update(
        stage_exploration(
            prep, p, out["video_features"], out["video_embeddings"], out["user_embeddings"]
        )
    )
    out["exploration_assignments"] = out["exploration_assignments"].cache()
    report: dict[str, Any] = dict(prep.cold_prior or {})
    out["feeds"] = stage_recommend(prep, p, out, variants, model, report=report)
    out["_prepared"] = prep  # type: ignore[assignment]
    out["_blend"] = report  # type: ignore[assignment]  # the hybrid blend's choice
    return out
