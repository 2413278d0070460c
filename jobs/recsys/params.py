"""Every knob of the engine in one frozen object that the transforms receive, built by the jobs
from the settings' engine section (``fyplake.config.engine.EngineSettings``), whose defaults it
reads rather than restates."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
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


#: Candidate source -> the engine setting holding its quota.
QUOTA_SETTINGS = {
    FOLLOWED: "rec_quota_followed",
    HASHTAG: "rec_quota_hashtag",
    SOUND: "rec_quota_sound",
    TRENDING: "rec_quota_trending",
    EMBEDDING: "rec_quota_embedding",
    COWATCH: "rec_quota_cowatch",
}


def _default(name: str) -> Any:
    from fyplake.config.engine import EngineSettings

    return EngineSettings.model_fields[name].get_default(call_default_factory=True)


def _setting(name: str, convert: Callable[[Any], Any] | None = None) -> Any:
    """A field whose default (and ``from_settings`` value) is the engine setting ``name``."""
    conv = convert or (lambda v: v)
    return field(
        default_factory=lambda: conv(_default(name)),
        metadata={"setting": name, "convert": conv},
    )


@dataclass(frozen=True)
class RecParams:
    """The engine's knobs, each read from its ``Settings`` field (``metadata["setting"]``):
    the values, defaults included, live in ``fyplake.config`` only. ``RecParams()`` is the
    defaults; ``RecParams(w_cowatch=1.0)`` overrides one (tests, benches)."""

    top_n: int = _setting("rec_top_n")
    quotas: dict[str, int] = field(
        default_factory=lambda: {src: _default(name) for src, name in QUOTA_SETTINGS.items()},
        metadata={"settings": tuple(QUOTA_SETTINGS.values())},
    )
    source_priority: tuple[str, ...] = _setting("rec_source_priority", tuple)
    overfetch: float = _setting("rec_overfetch")
    candidates_sample_users: int = _setting("rec_candidates_sample_users")
    w_completion: float = _setting("rec_weight_completion")
    w_like: float = _setting("rec_weight_like")
    w_comment: float = _setting("rec_weight_comment")
    w_share: float = _setting("rec_weight_share")
    w_similarity: float = _setting("rec_weight_similarity")
    w_quality: float = _setting("rec_weight_quality")
    w_creator: float = _setting("rec_weight_creator")
    w_freshness: float = _setting("rec_weight_freshness")
    w_popularity: float | None = _setting("rec_weight_popularity")  # None: validated
    w_cowatch: float | None = _setting("rec_weight_cowatch")  # None: validated
    w_design_scale: float | None = _setting("rec_weight_design_scale")
    blend_holdout: str = _setting("rec_blend_holdout")
    blend_users: int = _setting("rec_blend_users")
    blend_refit_embeddings: bool = _setting("rec_blend_refit_embeddings")
    cowatch_scale: float = _setting("rec_cowatch_scale")
    cowatch_norm: float = _setting("rec_cowatch_norm")
    cowatch_history: int = _setting("rec_cowatch_history")
    cowatch_neighbours: int = _setting("rec_cowatch_neighbours")
    ease_neighbours: int = _setting("rec_ease_neighbours")
    cowatch_min_completion: float = _setting("rec_cowatch_min_completion")
    item_model: str = _setting("rec_item_model")
    ease_max_items: int = _setting("rec_ease_max_items")
    quality_prior_views: float | None = _setting("rec_quality_prior_views")
    freshness_half_life_days: float = _setting("rec_freshness_half_life_days")
    freshness_floor: float = _setting("rec_freshness_floor")
    user_half_life_days: float = _setting("rec_user_half_life_days")
    trending_half_life_days: float = _setting("rec_trending_half_life_days")
    popularity_half_life_days: float | None = _setting("rec_popularity_half_life_days")
    e_completion: float = _setting("rec_engage_completion")
    e_like: float = _setting("rec_engage_like")
    e_comment: float = _setting("rec_engage_comment")
    e_share: float = _setting("rec_engage_share")
    e_skip: float = _setting("rec_engage_skip")
    affinity_top_k: int = _setting("rec_affinity_top_k")
    list_size: int = _setting("rec_list_size")
    diversity_decay: float | None = _setting("rec_diversity_decay")  # None: validated
    diversity_window: int = _setting("rec_diversity_window")
    diversity_max_per_creator: int | None = _setting("rec_diversity_max_per_creator")
    fatigue_window_days: float = _setting("rec_fatigue_window_days")
    fatigue_decay: float | None = _setting("rec_fatigue_decay")
    cold_start_min: int = _setting("rec_cold_start_min")
    cold_start_full: int = _setting("rec_cold_start_full")
    cold_popular_share: float = _setting("rec_cold_popular_share")
    cold_prior_strength: float | None = _setting("rec_cold_prior_strength")
    explore_window_days: float = _setting("rec_explore_window_days")
    explore_min_impressions: int = _setting("rec_explore_min_impressions")
    explore_max_impressions: int = _setting("rec_explore_max_impressions")
    explore_slots: int = _setting("rec_explore_slots")
    explore_every: int = _setting("rec_explore_every")
    bandit_prior_alpha: float = _setting("rec_bandit_prior_alpha")
    bandit_prior_beta: float = _setting("rec_bandit_prior_beta")
    bandit_fade_probability: float = _setting("rec_bandit_fade_probability")
    embedding_dim: int = _setting("rec_embedding_dim")
    als_rank: int = _setting("rec_als_rank")
    als_max_iter: int = _setting("rec_als_max_iter")
    als_reg: float = _setting("rec_als_reg")
    als_alpha: float = _setting("rec_als_alpha")
    content_shrink: float = _setting("rec_content_shrink")
    content_hash_weight: float = _setting("rec_content_hash_weight")
    ranker: str = _setting("rec_ranker")
    ranker_fallback: str = _setting("rec_ranker_fallback")
    ranker_base: str = _setting("rec_ranker_base")
    ranker_horizon_days: int = _setting("rec_ranker_horizon_days")
    ranker_label_completion: float = _setting("rec_ranker_label_completion")
    ranker_sample_users: int = _setting("rec_ranker_sample_users")
    ranker_negatives: int = _setting("rec_ranker_negatives")
    ranker_min_users: int = _setting("rec_ranker_min_users")
    ranker_min_positives_per_feature: float = _setting("rec_ranker_min_positives_per_feature")
    ranker_validation_share: float = _setting("rec_ranker_validation_share")
    ranker_objective: str = _setting("rec_ranker_objective")
    ranker_rounds: int = _setting("rec_ranker_rounds")
    ranker_max_depth: int = _setting("rec_ranker_max_depth")
    ranker_learning_rate: float = _setting("rec_ranker_learning_rate")
    ranker_workers: int = _setting("rec_ranker_workers")
    seed: int = _setting("rec_seed")

    @classmethod
    def from_settings(cls, settings: Any) -> RecParams:
        kw: dict[str, Any] = {
            f.name: f.metadata["convert"](getattr(settings, f.metadata["setting"]))
            for f in dataclasses.fields(cls)
            if "setting" in f.metadata
        }
        kw["quotas"] = {src: getattr(settings, name) for src, name in QUOTA_SETTINGS.items()}
        return cls(**kw)

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
