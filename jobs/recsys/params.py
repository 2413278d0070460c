"""Every knob of the engine in one frozen object, built from ``Settings`` by the jobs only."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

#: Source names as they appear in gold.candidates / gold.feeds.
FOLLOWED, HASHTAG, SOUND, TRENDING, EMBEDDING, EXPLORATION, COWATCH = (
    "followed",
    "hashtag",
    "sound",
    "trending",
    "embedding",
    "exploration",
    "cowatch",
)
COLD_POPULAR, COLD_EXPLORE = "coldstart_popular", "coldstart_diverse"
#: Candidate sources; the position is the source's code in the numpy kernels.
SOURCES = (FOLLOWED, HASHTAG, SOUND, EMBEDDING, TRENDING, EXPLORATION, COWATCH)
SOURCE_CODE = {s: i for i, s in enumerate(SOURCES)}
#: Every source a feed row can name (candidate sources, then the cold-start lists).
OUT_SOURCES = (*SOURCES, COLD_POPULAR, COLD_EXPLORE)
#: Rankers (``rec_ranker``): the design's product formula, the same with popularity and
#: co-engagement factors, the model trained nightly (``jobs.recsys.learned``).
DESIGN, HYBRID, LEARNED = "design", "hybrid", "learned"


@dataclass(frozen=True)
class RecParams:
    top_n: int = 200
    quotas: dict[str, int] = field(
        default_factory=lambda: {
            FOLLOWED: 200,
            HASHTAG: 300,
            SOUND: 200,
            TRENDING: 300,
            EMBEDDING: 200,
            COWATCH: 200,
        }
    )
    source_priority: tuple[str, ...] = (
        EXPLORATION,
        FOLLOWED,
        HASHTAG,
        SOUND,
        COWATCH,
        EMBEDDING,
        TRENDING,
    )
    overfetch: float = 1.5
    # quality: weights of the smoothed rate lifts (design table: High = 1.0, Medium = 0.6)
    w_completion: float = 1.0
    w_like: float = 0.6
    w_comment: float = 0.6
    w_share: float = 1.0
    # ranking exponents: score = sim^a * quality^b * creator^c * freshness^d * (1+pop)^e
    #                            * (1 + cowatch_scale * cowatch / n_history^cowatch_norm)^f
    w_similarity: float = 1.0
    w_quality: float = 1.0
    w_creator: float = 0.6
    w_freshness: float = 0.6
    w_popularity: float = 3.0
    w_cowatch: float = 3.0
    cowatch_scale: float = 3.0
    cowatch_norm: float = 0.5
    cowatch_history: int = 50
    cowatch_neighbours: int = 50
    cowatch_min_completion: float = 0.5
    item_model: str = "auto"  # auto | ease | cosine (jobs.recsys.ease)
    ease_max_items: int = 5000
    quality_prior_views: float | None = None
    freshness_half_life_days: float = 3.0
    freshness_floor: float = 0.1
    user_half_life_days: float = 14.0
    trending_half_life_days: float = 1.0
    # engagement weight of one impression (user embeddings, affinities, ALS confidence)
    e_completion: float = 1.0
    e_like: float = 1.0
    e_comment: float = 1.0
    e_share: float = 2.0
    e_skip: float = 0.5
    affinity_top_k: int = 20
    list_size: int = 300
    diversity_decay: float = 0.8
    diversity_window: int = 10
    diversity_max_per_creator: int = 2
    fatigue_window_days: float = 2.0
    fatigue_decay: float = 0.9
    cold_start_min: int = 1
    cold_start_full: int = 1
    cold_popular_share: float = 0.7
    cold_prior_strength: float = 50.0
    explore_window_days: float = 3.0
    explore_min_impressions: int = 100
    explore_max_impressions: int = 1000
    explore_slots: int = 5
    explore_every: int = 10
    bandit_prior_alpha: float = 1.0
    bandit_prior_beta: float = 1.0
    bandit_fade_probability: float = 0.05
    embedding_dim: int = 128
    als_rank: int = 48
    als_max_iter: int = 8
    als_reg: float = 0.05
    als_alpha: float = 5.0
    content_shrink: float = 10.0
    content_hash_weight: float = 0.3
    ranker: str = "hybrid"  # "design": the design's formula; "learned": jobs.recsys.learned
    # the learned ranker (jobs.recsys.learned): fallback formula, training window and data,
    # when there is too little to train, XGBoost's settings
    ranker_fallback: str = "design"
    ranker_base: str = "hybrid"
    ranker_horizon_days: int = 1
    ranker_label_completion: float = 0.5
    ranker_sample_users: int = 20_000
    ranker_negatives: int = 200
    ranker_min_users: int = 200
    ranker_min_positives_per_feature: float = 10.0
    ranker_validation_share: float = 0.2
    ranker_objective: str = "rank:ndcg"
    ranker_rounds: int = 100
    ranker_max_depth: int = 6
    ranker_learning_rate: float = 0.1
    ranker_workers: int = 1
    seed: int = 42

    @classmethod
    def from_settings(cls, settings: Any) -> RecParams:
        s = settings
        return cls(
            top_n=s.rec_top_n,
            quotas={
                FOLLOWED: s.rec_quota_followed,
                HASHTAG: s.rec_quota_hashtag,
                SOUND: s.rec_quota_sound,
                TRENDING: s.rec_quota_trending,
                EMBEDDING: s.rec_quota_embedding,
                COWATCH: s.rec_quota_cowatch,
            },
            source_priority=tuple(s.rec_source_priority),
            overfetch=s.rec_overfetch,
            w_completion=s.rec_weight_completion,
            w_like=s.rec_weight_like,
            w_comment=s.rec_weight_comment,
            w_share=s.rec_weight_share,
            w_similarity=s.rec_weight_similarity,
            w_quality=s.rec_weight_quality,
            w_creator=s.rec_weight_creator,
            w_freshness=s.rec_weight_freshness,
            w_popularity=s.rec_weight_popularity,
            w_cowatch=s.rec_weight_cowatch,
            cowatch_scale=s.rec_cowatch_scale,
            cowatch_norm=s.rec_cowatch_norm,
            cowatch_history=s.rec_cowatch_history,
            cowatch_neighbours=s.rec_cowatch_neighbours,
            cowatch_min_completion=s.rec_cowatch_min_completion,
            item_model=s.rec_item_model,
            ease_max_items=s.rec_ease_max_items,
            quality_prior_views=s.rec_quality_prior_views,
            freshness_half_life_days=s.rec_freshness_half_life_days,
            freshness_floor=s.rec_freshness_floor,
            user_half_life_days=s.rec_user_half_life_days,
            trending_half_life_days=s.rec_trending_half_life_days,
            e_completion=s.rec_engage_completion,
            e_like=s.rec_engage_like,
            e_comment=s.rec_engage_comment,
            e_share=s.rec_engage_share,
            e_skip=s.rec_engage_skip,
            affinity_top_k=s.rec_affinity_top_k,
            list_size=s.rec_list_size,
            diversity_decay=s.rec_diversity_decay,
            diversity_window=s.rec_diversity_window,
            diversity_max_per_creator=s.rec_diversity_max_per_creator,
            fatigue_window_days=s.rec_fatigue_window_days,
            fatigue_decay=s.rec_fatigue_decay,
            cold_start_min=s.rec_cold_start_min,
            cold_start_full=s.rec_cold_start_full,
            cold_popular_share=s.rec_cold_popular_share,
            cold_prior_strength=s.rec_cold_prior_strength,
            explore_window_days=s.rec_explore_window_days,
            explore_min_impressions=s.rec_explore_min_impressions,
            explore_max_impressions=s.rec_explore_max_impressions,
            explore_slots=s.rec_explore_slots,
            explore_every=s.rec_explore_every,
            bandit_prior_alpha=s.rec_bandit_prior_alpha,
            bandit_prior_beta=s.rec_bandit_prior_beta,
            bandit_fade_probability=s.rec_bandit_fade_probability,
            embedding_dim=s.rec_embedding_dim,
            als_rank=s.rec_als_rank,
            als_max_iter=s.rec_als_max_iter,
            als_reg=s.rec_als_reg,
            als_alpha=s.rec_als_alpha,
            content_shrink=s.rec_content_shrink,
            content_hash_weight=s.rec_content_hash_weight,
            ranker=s.rec_ranker,
            ranker_fallback=s.rec_ranker_fallback,
            ranker_base=s.rec_ranker_base,
            ranker_horizon_days=s.rec_ranker_horizon_days,
            ranker_label_completion=s.rec_ranker_label_completion,
            ranker_sample_users=s.rec_ranker_sample_users,
            ranker_negatives=s.rec_ranker_negatives,
            ranker_min_users=s.rec_ranker_min_users,
            ranker_min_positives_per_feature=s.rec_ranker_min_positives_per_feature,
            ranker_validation_share=s.rec_ranker_validation_share,
            ranker_objective=s.rec_ranker_objective,
            ranker_rounds=s.rec_ranker_rounds,
            ranker_max_depth=s.rec_ranker_max_depth,
            ranker_learning_rate=s.rec_ranker_learning_rate,
            ranker_workers=s.rec_ranker_workers,
            seed=s.rec_seed,
        )

    def replace(self, **changes: Any) -> RecParams:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["source_priority"] = list(self.source_priority)
        return data

    def fingerprint(self) -> str:
        blob = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]

    @property
    def model_version(self) -> str:
        """Names the embedding model: ALS rank + content block + parameter hash."""
        return f"als{self.als_rank}-content{self.embedding_dim}-{self.fingerprint()}"
