"""The recommendation engine's settings (``rec_*``): the one typed model
``jobs.recsys.params.RecParams`` reads its defaults from, so no default is restated."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class EngineSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    # Signal weights follow the design's ranking-signal table: "High" = 1.0, "Medium" = 0.6.
    # Quotas are the design's candidate counts. Everything here is read by the jobs only; the
    # transforms in jobs/recsys take explicit parameters (jobs.recsys.params.RecParams).
    rec_top_n: int = Field(default=200, description="Ranked feed length per user.")
    rec_quota_followed: int = Field(default=200, description="Candidates from followed creators.")
    rec_quota_hashtag: int = Field(default=300, description="Candidates from engaged hashtags.")
    rec_quota_sound: int = Field(default=200, description="Candidates from liked/engaged sounds.")
    rec_quota_trending: int = Field(default=300, description="Candidates from trending.")
    rec_quota_embedding: int = Field(
        default=200, description="Candidates from the embedding nearest-neighbour source."
    )
    rec_quota_cowatch: int = Field(
        default=200,
        description="Candidates from the co-engagement neighbours of the user's recent positives.",
    )
    rec_source_priority: list[str] = Field(
        default=["exploration", "followed", "hashtag", "sound", "cowatch", "embedding", "trending"],
        description="Which source a candidate keeps when several sources produce it (first wins).",
    )
    rec_candidates_sample_users: int = Field(
        default=2000,
        ge=-1,
        description="gold.candidates keeps the candidates of this many users (the same "
        "hash-picked users every night; -1 = every user), for evaluation and debugging; the "
        "rank job generates and ranks every user's candidates in one pass without them.",
    )
    rec_overfetch: float = Field(
        default=1.5, description="Per-key fetch factor before watched/not-ready filtering."
    )
    rec_weight_completion: float = Field(
        default=1.0, description="Quality weight: completion (High)."
    )
    rec_weight_like: float = Field(default=0.6, description="Quality weight: like rate (Medium).")
    rec_weight_comment: float = Field(
        default=0.6, description="Quality weight: comment rate (Medium)."
    )
    rec_weight_share: float = Field(default=1.0, description="Quality weight: share rate (High).")
    rec_weight_similarity: float = Field(
        default=1.0, description="Ranking exponent of similarity(user, video)."
    )
    rec_weight_quality: float = Field(default=1.0, description="Ranking exponent of video quality.")
    rec_weight_creator: float = Field(
        default=0.6, description="Ranking exponent of creator score (Medium)."
    )
    rec_weight_freshness: float = Field(
        default=0.6, description="Ranking exponent of freshness (Medium)."
    )
    rec_weight_popularity: float | None = Field(
        default=None,
        description="Ranking exponent of (1 + log1p(recent views)) when rec_ranker=hybrid; "
        "unset = chosen each run with rec_weight_cowatch by validation on a held-out slice of "
        "the kind rec_blend_holdout names (jobs/recsys/blend.py; 3 when it cannot run).",
    )
    rec_weight_cowatch: float | None = Field(
        default=None,
        description="Ranking exponent of (1 + rec_cowatch_scale x co-engagement score) when "
        "rec_ranker=hybrid; unset = chosen each run by validation, as rec_weight_popularity.",
    )
    rec_weight_design_scale: float | None = Field(
        default=None,
        ge=0,
        description="Multiplies the design's exponents (similarity, quality, creator, "
        "freshness) inside the hybrid score; unset = chosen each run with the other blend "
        "weights by validation (ladder 1, 0.5, 0.25, 0; 1 when it cannot run). The design and "
        "learned formulas keep the exponents as set.",
    )
    rec_blend_holdout: Literal["time", "random"] = Field(
        default="time",
        description="What the hybrid blend's validation holds out of each sampled user: the "
        "latest impressions (time: the nightly predicts the future) or a random slice "
        "(`fyp evaluate --holdout random` sets it for its own run).",
    )
    rec_blend_users: int = Field(
        default=1000,
        ge=0,
        description="Users (a seeded sample) the hybrid blend's validation scores (fewer than "
        "30 with a held-out positive keep the prior, 3/3). The search scores hundreds of "
        "cells, so a small sample picks its own noise: 300 users (~150 with a held-out "
        "positive) cost the engine 0.006 nDCG@10 on a generated world's random hold-out "
        "against 1,000 (README); the search time grows about linearly with it.",
    )
    rec_blend_refit_embeddings: bool = Field(
        default=True,
        description="The hybrid blend's validation refits the ALS video vectors without its "
        "held-out slice (one more ALS fit per run); off, it scores with the served vectors, "
        "which carry the slice and flatter the similarity factor on a sparse log.",
    )
    rec_cowatch_scale: float = Field(
        default=3.0, description="Scale of the co-engagement score inside its ranking factor."
    )
    rec_cowatch_norm: float = Field(
        default=0.5,
        description="The ranking factor's co-engagement score is divided by (history length) "
        "** this, so a long history does not drown the other factors.",
    )
    rec_cowatch_history: int = Field(
        default=50, description="A user's most recent positive videos that seed co-engagement."
    )
    rec_cowatch_neighbours: int = Field(
        default=50,
        description="Neighbours kept per video (gold.video_neighbours) by the cosine item model "
        "and the item_cooccurrence baseline; EASE keeps rec_ease_neighbours.",
    )
    rec_ease_neighbours: int = Field(
        default=200,
        ge=1,
        description="Neighbours kept per video when the item model is EASE (instead of "
        "rec_cowatch_neighbours): EASE weighs every pair of videos, and cut at 50 per video the "
        "engine's co-engagement order fell short of EASE's own (niche s2 random hold-out: "
        "-0.0054 vs EASE at 50, -0.0024 at 200 and at every neighbour). At most "
        "rec_ease_max_items x this many rows.",
    )
    rec_item_model: Literal["auto", "ease", "cosine"] = Field(
        default="auto",
        description="The item-item model behind gold.video_neighbours (the cowatch source and "
        "factor): ease = EASE's closed form with lambda validated per run (dense, so only up to "
        "rec_ease_max_items videos with a positive, cosine above that); cosine = co-engagement "
        "cosine; auto = ease when the catalogue fits.",
    )
    rec_ease_max_items: int = Field(
        default=5000,
        ge=0,
        description="Largest catalogue (videos with a recent positive) the engine's EASE item "
        "model solves (an n x n inverse on the driver: 5,000 ~ 1 GB peak, seconds).",
    )
    rec_cowatch_min_completion: float = Field(
        default=0.5,
        description="A watch is a positive for co-engagement from this completion (or a like, "
        "share or comment; never a skip).",
    )
    rec_quality_prior_views: float | None = Field(
        default=None,
        description="Pseudo-impressions of the rate priors; "
        "unset = empirical Bayes (method of moments).",
    )
    rec_freshness_half_life_days: float = Field(
        default=3.0, description="Video freshness half-life."
    )
    rec_freshness_floor: float = Field(default=0.1, description="Freshness of a very old video.")
    rec_user_half_life_days: float = Field(
        default=14.0, description="Half-life of a user's engagement in embeddings and affinities."
    )
    rec_trending_half_life_days: float = Field(
        default=1.0, description="Half-life of trending views."
    )
    rec_popularity_half_life_days: float | None = Field(
        default=None,
        description="Half-life of the views a video's popularity counts; unset = chosen each run "
        "by validation on each user's latest positives (1 day .. all-time), so a log whose "
        "ratings span years and a feed whose views turn over daily both get theirs.",
    )
    rec_engage_completion: float = Field(
        default=1.0, description="Engagement weight per unit completion."
    )
    rec_engage_like: float = Field(default=1.0, description="Engagement weight of a like.")
    rec_engage_comment: float = Field(default=1.0, description="Engagement weight of a comment.")
    rec_engage_share: float = Field(default=2.0, description="Engagement weight of a share.")
    rec_engage_skip: float = Field(
        default=0.5, description="Engagement weight subtracted by a skip."
    )
    rec_affinity_top_k: int = Field(default=20, description="Affinities kept per user and kind.")
    rec_list_size: int = Field(
        default=300, description="Videos per hashtag/sound/creator/trending/cold-start list."
    )
    rec_diversity_decay: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Score factor per earlier, better video of the same creator; unset = "
        "validated each run with rec_diversity_max_per_creator (jobs/recsys/blend.py: the most "
        "diverse rung within one standard error of the best; 0.8 when it cannot run).",
    )
    rec_diversity_window: int = Field(
        default=10, description="Top-of-feed window for the creator cap."
    )
    rec_diversity_max_per_creator: int | None = Field(
        default=None,
        ge=1,
        description="Most videos of one creator inside the top window; unset = validated each "
        "run with the hybrid blend (ladder 2, 3, 5, the window = no cap; the most diverse rung "
        "within one standard error of the best nDCG; 2 when it cannot run, and for the design "
        "and learned formulas). Set it to enforce a diversity policy whatever it costs.",
    )
    rec_fatigue_window_days: float = Field(
        default=2.0, description="Look-back for creator fatigue."
    )
    rec_fatigue_decay: float | None = Field(
        default=None,
        description="Score factor per recent impression of the same creator; unset = chosen "
        "each run with the hybrid blend weights by validation on a held-out slice "
        "(jobs/recsys/blend.py; 0.9 when it cannot run, and for the design and learned "
        "formulas). 1 turns fatigue off.",
    )
    rec_cold_start_min: int = Field(
        default=1,
        description="Below this many engagements a user gets the cold-start mix. The design "
        "said 10-20; measured on a 2,000-user world, the personalised ranking (whose popularity "
        "factor leans on what is popular while a history is thin) beat the mix from the first "
        "engagement (README, recommendation engine; bench/worlds.py checks other shapes).",
    )
    rec_cold_start_full: int = Field(
        default=1, description="From this many engagements the feed is fully personalised."
    )
    rec_cold_popular_share: float = Field(
        default=0.7, description="Cold-start share of demographic popular (rest: exploration)."
    )
    rec_cold_prior_strength: float | None = Field(
        default=None,
        ge=0,
        description="Pseudo-engagements shrinking a segment's popularity to its language's and "
        "the language's to the global; unset, chosen per run on a held-out slice of the run's "
        "target (jobs/recsys/coldstart.py; 50 when it cannot run).",
    )
    rec_explore_window_days: float = Field(
        default=3.0, description="A ready video this young is 'new' (exploration pool)."
    )
    rec_explore_min_impressions: int = Field(default=100, description="Guaranteed first exposure.")
    rec_explore_max_impressions: int = Field(
        default=1000, description="Exposure at which a new video graduates from the pool."
    )
    rec_explore_slots: int = Field(default=5, description="Exploration slots per feed.")
    rec_explore_every: int = Field(
        default=10, description="An exploration slot every this many feed positions."
    )
    rec_bandit_prior_alpha: float = Field(default=1.0, description="Beta prior alpha (completion).")
    rec_bandit_prior_beta: float = Field(default=1.0, description="Beta prior beta (completion).")
    rec_bandit_fade_probability: float = Field(
        default=0.05, description="A video fades when P(completion > reference) drops below this."
    )
    rec_embedding_dim: int = Field(default=128, description="Embedding dimension.")
    rec_als_rank: int = Field(
        default=48, description="ALS factors; the rest of the 128 dims hold a hashed content block."
    )
    rec_als_max_iter: int = Field(default=8, description="ALS iterations.")
    rec_als_reg: float = Field(default=0.05, description="ALS regularisation.")
    rec_als_alpha: float = Field(default=5.0, description="ALS implicit confidence scale.")
    rec_content_shrink: float = Field(
        default=10.0,
        description="Engagements at which a video's CF and content vectors weigh equal.",
    )
    rec_content_hash_weight: float = Field(
        default=0.3, description="Share (of squared norm) of the hashed content block."
    )
    rec_ranker: Literal["design", "hybrid", "learned"] = Field(
        default="hybrid",
        description="design = the design's product formula exactly; hybrid = the same "
        "product x (1 + popularity) ** rec_weight_popularity x (1 + rec_cowatch_scale x "
        "co-engagement) ** rec_weight_cowatch (measurably better offline); learned = the "
        "XGBoost ranker the train_ranker job fits nightly (rec_ranker_fallback when there is "
        "no model).",
    )
    rec_ranker_fallback: Literal["design", "hybrid"] = Field(
        default="design",
        description="The formula that ranks when rec_ranker=learned has no usable model (too "
        "little history to train, or none trained yet).",
    )
    rec_ranker_base: Literal["none", "design", "hybrid"] = Field(
        default="hybrid",
        description="Learned ranker: the formula whose log score boosting starts from (XGBoost "
        "base margin; the trees learn the correction, per deployment); none = from zero.",
    )
    rec_ranker_horizon_days: int = Field(
        default=1,
        ge=1,
        description="Learned ranker: candidates are generated as of ds minus this many days "
        "and labelled by what each user engaged with after it, up to the end of ds.",
    )
    rec_ranker_label_completion: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Learned ranker labels: a watch to this completion is relevance 2 (like, "
        "share or comment 3, a shorter watch 1, a skip or no impression 0).",
    )
    rec_ranker_sample_users: int = Field(
        default=20_000, ge=1, description="Learned ranker: most users (query groups) trained on."
    )
    rec_ranker_negatives: int = Field(
        default=200,
        ge=1,
        description="Learned ranker: label-0 candidates kept per user (a seeded sample).",
    )
    rec_ranker_min_users: int = Field(
        default=200,
        ge=2,
        description="Learned ranker: fewer labelled users than this and no model is trained "
        "(the validation slice would be too small to tell a model from the formula).",
    )
    rec_ranker_min_positives_per_feature: float = Field(
        default=10.0,
        gt=0,
        description="Learned ranker: no model is trained below this many positive (label > 0) "
        "candidates per feature.",
    )
    rec_ranker_validation_share: float = Field(
        default=0.2,
        gt=0.0,
        lt=1.0,
        description="Learned ranker: share of users held out to compare the model with the "
        "formula; a model that does worse there is not used.",
    )
    rec_ranker_objective: Literal["rank:ndcg", "rank:pairwise", "rank:map"] = Field(
        default="rank:ndcg", description="Learned ranker: XGBoost ranking objective."
    )
    rec_ranker_rounds: int = Field(
        default=100, ge=1, description="Learned ranker: boosting rounds."
    )
    rec_ranker_max_depth: int = Field(default=6, ge=1, description="Learned ranker: tree depth.")
    rec_ranker_learning_rate: float = Field(
        default=0.1, gt=0.0, description="Learned ranker: learning rate (eta)."
    )
    rec_ranker_workers: int = Field(
        default=1,
        ge=1,
        description="Learned ranker: SparkXGBRanker num_workers (barrier tasks; at most the "
        "cluster's free task slots).",
    )
    rec_seed: int = Field(
        default=42, description="Seed of ALS, bandit draws and exploration shuffles."
    )
    rec_eval_k: int = Field(default=10, description="Cut-off k of the offline metrics.")
    rec_eval_holdout: Literal["time", "random"] = Field(
        default="time",
        description="Per-user hold-out: last events by time, or a seeded random split.",
    )
    rec_eval_holdout_fraction: float = Field(
        default=0.2, description="Share of each user's events held out."
    )
    rec_eval_positive_completion: float = Field(
        default=0.5,
        description="A held-out watch counts as relevant from this completion (or a like/share).",
    )
