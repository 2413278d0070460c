"""The one configuration object.

Every setting comes from an environment variable ``FYP_<NAME>`` or from the TOML file named by
``FYP_CONFIG`` (environment wins), and every default is the embedded single-machine stack, so a
fresh clone runs with no configuration at all and a cluster deployment changes settings, not code.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Delta Lake's Spark artifact; must match the ``delta-spark`` Python package pinned in setup.cfg.
DELTA_MAVEN_COORDINATES = "io.delta:delta-spark_4.2_2.13:4.4.0"


def _is_uri(value: str) -> bool:
    return "://" in value


class Settings(BaseSettings):
    """Platform settings. Unset endpoint fields mean "use the embedded service under ``home``"."""

    model_config = SettingsConfigDict(env_prefix="FYP_", extra="ignore", validate_default=True)

    # --- where state lives -------------------------------------------------------------------
    home: Path = Field(
        default=REPO_ROOT / ".fyp",
        description="State directory: embedded services' data, local lake, media, Airflow home.",
    )
    cache_dir: Path = Field(
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fyplake",
        description="User-level cache shared by every clone (Delta/Spark jars).",
    )

    # --- storage -----------------------------------------------------------------------------
    lake: str = Field(
        default="",
        description="Lake root: a local path or s3a://bucket/prefix. Default: <home>/lake.",
    )
    media: str = Field(
        default="",
        description="Media object store root: a local path or s3://bucket/prefix "
        "(default <home>/media).",
    )
    media_public_url: str = Field(
        default="/media",
        description="URL prefix clients/CDN use for media paths (paths under it are immutable).",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint for the lake and media (None = AWS)."
    )
    s3_region: str = Field(default="us-east-1", description="S3 region.")

    # --- servers ----------------------------------------------------------------------------
    postgres_dsn: str | None = Field(
        default=None, description="Postgres DSN. Unset: the embedded Postgres 18 + pgvector."
    )
    valkey_url: str | None = Field(
        default=None, description="Valkey URL. Unset: the embedded Valkey."
    )

    # --- Spark ------------------------------------------------------------------------------
    spark_master: str = Field(default="local[*]", description="Spark master URL.")
    spark_driver_memory: str = Field(default="4g", description="Spark driver memory.")
    spark_shuffle_partitions: int = Field(
        default=8, description="spark.sql.shuffle.partitions (small suits one machine)."
    )
    spark_timezone: str = Field(default="UTC", description="spark.sql.session.timeZone.")
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark settings, passed through verbatim."
    )
    delta_packages: str = Field(
        default=DELTA_MAVEN_COORDINATES, description="Maven coordinates of Delta's Spark jars."
    )

    # --- Airflow ----------------------------------------------------------------------------
    airflow_home: str = Field(default="", description="AIRFLOW_HOME. Default: <home>/airflow.")
    spark_task_mode: Literal["submit", "inprocess"] = Field(
        default="submit",
        description="How DAG tasks run Spark jobs: `submit` (spark-submit through the "
        "spark_default connection, a real Spark application) or `inprocess` (the same job entry "
        "on the Airflow worker's local Spark session; for the embedded demo and tests).",
    )
    faults: str = Field(
        default="",
        description="Test hook: fault points at which jobs die on purpose, `point[=times]` "
        "comma-separated (fyplake/faults.py). Empty in production.",
    )

    # --- logs ---------------------------------------------------------------------------------
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log files under <home>/logs (fyp.log: the commands' Python log; spark.log: "
        "the Spark driver's, with the JVM's own output): `text` lines or `json` (one object per "
        "line, for a log shipper). The console always gets short text lines.",
    )

    # --- the lake: ingest, quarantine, silver/gold, quality, maintenance (issue 3) ------------
    max_watch_multiple: float = Field(
        default=5.0,
        description="watch_ms above this multiple of the video's duration is quarantined (absurd).",
    )
    future_tolerance_s: int = Field(
        default=300,
        description="An event_time later than the end of its file's arrival hour by more than "
        "this (s) is quarantined as in the future.",
    )
    ingest_catchup_hours: int = Field(
        default=24,
        description="An ingest also takes unconsumed landing files this many hours before its "
        "interval (files that arrived in a folder after that folder's run).",
    )
    completion_cap: float = Field(
        default=3.0,
        description="silver completion_rate = min(watch_ms / duration, cap); >1 means loops.",
    )
    engagement_window_s: int = Field(
        default=3600,
        description="A like/share/comment counts for the latest watch of the same (user, video) "
        "at most this many seconds before it.",
    )
    quality_dir: str = Field(
        default="", description="Quality gate results and HTML data docs. Default: <home>/quality."
    )
    quality_pandas_max_rows: int = Field(
        default=500_000,
        description="A gate validates a slice up to this many rows in pandas (fast), "
        "larger on Spark.",
    )
    vacuum_retain_hours: int = Field(
        default=168, ge=168, description="VACUUM retention (h); at least 7 days."
    )
    sql_fast_path_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        description="`fyp sql` uses delta-rs + DuckDB when the tables it reads are this small.",
    )

    # --- recommendation (issue 4: jobs/recsys) -------------------------------------------------
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
    rec_blend_holdout: Literal["time", "random"] = Field(
        default="time",
        description="What the hybrid blend's validation holds out of each sampled user: the "
        "latest impressions (time: the nightly predicts the future) or a random slice "
        "(`fyp evaluate --holdout random` sets it for its own run).",
    )
    rec_blend_users: int = Field(
        default=300,
        ge=0,
        description="Users (a seeded sample) the hybrid blend's validation scores (fewer than "
        "30 with a held-out positive keep the prior, 3/3).",
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
        default=50, description="Co-engagement neighbours kept per video (gold.video_neighbours)."
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
    rec_diversity_decay: float = Field(
        default=0.8, description="Score factor per earlier, better video of the same creator."
    )
    rec_diversity_window: int = Field(
        default=10, description="Top-of-feed window for the creator cap."
    )
    rec_diversity_max_per_creator: int = Field(
        default=2, description="Most videos of one creator inside the top window."
    )
    rec_fatigue_window_days: float = Field(
        default=2.0, description="Look-back for creator fatigue."
    )
    rec_fatigue_decay: float = Field(
        default=0.9, description="Score factor per recent impression of the same creator."
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
    rec_cold_prior_strength: float = Field(
        default=50.0,
        description="Pseudo-engagements shrinking a segment's popularity to its parent.",
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

    # --- serving: feed publishing and the API (issue 5; README "Serving settings") --------
    api_key: str = Field(
        default="fyp-dev-key",
        description="API key for write endpoints (X-API-Key header). Change it outside dev.",
    )
    api_host: str = Field(default="127.0.0.1", description="`fyp serve` bind address.")
    api_port: int = Field(default=8000, description="`fyp serve` port.")
    feed_page_size: int = Field(default=10, description="Default feed/list page size.")
    feed_page_max: int = Field(default=100, description="Largest page a client may ask for.")
    feed_versions_kept: int = Field(
        default=3, description="Committed feed/list versions kept for rollback."
    )
    feed_ttl_s: int = Field(
        default=4 * 86400, description="TTL of a published feed/list version (s)."
    )
    feed_shards: int = Field(default=256, description="Hash shards per feed version.")
    lists_shards: int = Field(default=16, description="Hash shards per lists version.")
    publish_batch_size: int = Field(
        default=10_000, description="Feeds/lists per pipelined write round trip."
    )
    pointer_refresh_s: float = Field(
        default=1.0, description="How often the API re-reads the current-version pointers (s)."
    )
    valkey_timeout_s: float = Field(
        default=0.5, description="API socket timeout for Valkey (s): an outage answers 503 fast."
    )
    seen_ttl_s: int = Field(default=7 * 86400, description="TTL of a user's seen set (s).")
    seen_max_entries: int = Field(default=2000, description="Newest entries kept per seen set.")
    event_batch_max: int = Field(default=1000, description="Most events in one POST /v1/events.")
    event_dedupe_ttl_s: int = Field(
        default=86400, description="How long an event id is remembered for counter de-dup (s)."
    )
    event_group_commit: bool = Field(
        default=True,
        description="POST /v1/events requests of an API process share landing files (group "
        "commit); false: one landing file per request.",
    )
    event_commit_window_ms: float = Field(
        default=5.0,
        ge=0,
        description="Group commit: how long the oldest waiting request waits for others to "
        "share its landing file and fsync (ms).",
    )
    event_commit_max_bytes: int = Field(
        default=8 * 2**20,
        gt=0,
        description="Group commit: a landing file rolls to the next past this size (bytes).",
    )
    counter_flush_chunk: int = Field(
        default=5000, description="HSCAN count when reading a counter flush batch."
    )
    upload_max_bytes: int = Field(
        default=512 * 1024 * 1024, description="Largest accepted upload (bytes)."
    )
    api_pg_pool_max: int = Field(default=8, description="API Postgres pool size.")

    # --- media pipeline (issue 7: fyplake/media, dags/video_transcode.py; README "Media") --------
    # The upload size limit is `upload_max_bytes` above, shared with the API.
    media_min_duration_s: float = Field(default=15.0, description="Shortest accepted video (s).")
    media_max_duration_s: float = Field(default=60.0, description="Longest accepted video (s).")
    media_duration_tolerance_s: float = Field(
        default=0.5, description="Slack on both duration limits (container rounding, AAC priming)."
    )
    media_min_short_side: int = Field(default=144, description="Smallest accepted short side (px).")
    media_max_long_side: int = Field(default=4096, description="Largest accepted long side (px).")
    media_min_fps: float = Field(default=5.0, description="Lowest accepted frame rate.")
    media_max_fps: float = Field(default=120.0, description="Highest accepted frame rate.")
    media_output_max_fps: float = Field(
        default=60.0, description="Renditions of a faster source are resampled to this frame rate."
    )
    media_ladder: dict[str, int] = Field(
        default={"1080p": 4500, "720p": 2500, "480p": 1200, "360p": 700},
        description="HLS ladder: rung '<short side>p' -> video kbps. Never upscaled; a source "
        "below the lowest rung gets one rendition at its own size.",
    )
    media_audio_kbps: int = Field(default=128, description="AAC bitrate of every rendition.")
    media_segment_s: float = Field(
        default=2.0, description="HLS segment length (s); every rendition has a keyframe there."
    )
    media_x264_preset: str = Field(
        default="superfast", description="x264 preset (veryfast: smaller files, ~2x the CPU)."
    )
    media_ffmpeg_threads: int = Field(
        default=0, description="Threads per x264 encoder (0 = let x264 choose)."
    )
    media_transcode_timeout_s: float = Field(
        default=900.0, description="The ladder's ffmpeg is killed after this long (s)."
    )
    media_thumbnail_count: int = Field(default=4, description="Thumbnails per video.")
    media_thumbnail_short_side: int = Field(default=480, description="Thumbnail short side (px).")
    media_fingerprint_frames: int = Field(
        default=16, description="Frames sampled for the content fingerprint."
    )
    media_duplicate_max_hamming: int = Field(
        default=12, description="Two 64-bit frame hashes this close (bits) are the same frame."
    )
    media_duplicate_min_fraction: float = Field(
        default=0.75, description="Share of sampled frames that must match for a duplicate."
    )
    media_sound_max_ber: float = Field(
        default=0.35, description="Audio fingerprints under this bit error rate are one sound."
    )
    media_trigger_url: str | None = Field(
        default=None,
        description="Airflow API base URL to trigger video_transcode on upload (unset: the "
        "video_upload_drain DAG or `fyp upload --wait` picks the job up).",
    )
    media_trigger_username: str | None = Field(
        default=None, description="Airflow API user for media_trigger_url."
    )
    media_trigger_password: SecretStr | None = Field(
        default=None, description="Airflow API password for media_trigger_url."
    )

    @model_validator(mode="after")
    def _fill_derived_paths(self) -> Settings:
        self.home = Path(self.home).expanduser().resolve()
        self.cache_dir = Path(self.cache_dir).expanduser()
        if not self.lake:
            self.lake = str(self.home / "lake")
        if not self.media:
            self.media = str(self.home / "media")
        if not self.airflow_home:
            self.airflow_home = str(self.home / "airflow")
        if not self.quality_dir:
            self.quality_dir = str(self.home / "quality")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("FYP_CONFIG")
        if config_file:
            path = Path(config_file).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"FYP_CONFIG names {path}, which does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # --- derived locations ------------------------------------------------------------------
    @property
    def lake_is_local(self) -> bool:
        return not _is_uri(self.lake)

    @property
    def media_is_local(self) -> bool:
        return not _is_uri(self.media)

    @property
    def lake_uri(self) -> str:
        """The lake root as a URI Spark and delta-rs both accept."""
        return Path(self.lake).resolve().as_uri() if self.lake_is_local else self.lake

    @property
    def media_uri(self) -> str:
        return Path(self.media).resolve().as_uri() if self.media_is_local else self.media

    @property
    def services_dir(self) -> Path:
        return self.home / "services"

    @property
    def jars_dir(self) -> Path:
        return self.cache_dir / "jars"

    def lake_path(self, *parts: str) -> str:
        """A location under the lake root, as a path (local) or URI (object store)."""
        return "/".join([self.lake.rstrip("/"), *parts])

    def public_dict(self) -> dict[str, Any]:
        """Settings as plain JSON-able values, for `fyp config` and logs (no secrets)."""
        data = self.model_dump(mode="json")
        if self.postgres_dsn:
            data["postgres_dsn"] = _redact(self.postgres_dsn)
        if self.valkey_url:
            data["valkey_url"] = _redact(self.valkey_url)
        data["api_key"] = "***"
        return data


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests that change the environment call ``reload``."""
    return Settings()


def reload_settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()
