"""Every lake table, declared once: name, schema (Spark DDL), partitioning, key, properties.

Jobs create tables from these specs (``DeltaTable.createIfNotExists``) and never with
``mergeSchema``, so a write that does not match its declared schema fails loudly. The README's
table reference is generated from this module (``fyp tables --schema``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fyplake.config import Settings, get_settings

DEFAULT_PROPERTIES = {
    "delta.appendOnly": "false",
    "delta.logRetentionDuration": "interval 30 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
}


@dataclass(frozen=True)
class TableSpec:
    layer: str
    name: str
    schema: str  # Spark DDL, "col type, col type ..."
    description: str
    partition_by: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, settings: Settings | None = None) -> str:
        """The table's location: `<lake>/<layer>/<name>` (a path, or a URI for object stores)."""
        settings = settings or get_settings()
        return settings.lake_path(self.layer, self.name)

    @property
    def columns(self) -> list[str]:
        return [part.strip().split()[0] for part in _split_top_level(self.schema)]


def _split_top_level(ddl: str) -> list[str]:
    """Split "a int, b array<struct<x int, y int>>" on commas outside <>."""
    parts, depth, cur = [], 0, []
    for ch in ddl:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


TABLES: dict[str, TableSpec] = {}


def register(spec: TableSpec) -> TableSpec:
    if spec.full_name in TABLES:
        raise ValueError(f"table {spec.full_name} declared twice")
    TABLES[spec.full_name] = spec
    return spec


def table(full_name: str) -> TableSpec:
    try:
        return TABLES[full_name]
    except KeyError:
        raise KeyError(
            f"unknown lake table {full_name!r}; known tables: {', '.join(sorted(TABLES))}"
        ) from None


# --- bronze: typed records, one row per landed record ---------------------------------------

BRONZE_EVENTS = register(
    TableSpec(
        "bronze",
        "events",
        "event_id string, event_type string, user_id bigint, video_id bigint, "
        "creator_id bigint, watch_ms bigint, event_time timestamp, event_date date, "
        "source string, comment_text string, landing_file string, ingested_at timestamp",
        "Typed engagement events, one row per event_id (MERGE on event_id).",
        partition_by=("event_date",),
        key=("event_id",),
    )
)

# --- silver: cleaned, conformed ------------------------------------------------------------

SILVER_WATCH_HISTORY = register(
    TableSpec(
        "silver",
        "watch_history",
        "event_id string, user_id bigint, video_id bigint, creator_id bigint, "
        "watch_ms bigint, video_duration_ms bigint, completion_rate double, liked boolean, "
        "shared boolean, commented boolean, skipped boolean, event_time timestamp, "
        "event_date date",
        "One row per watch or skip impression, with the like/share/comment that followed it.",
        partition_by=("event_date",),
        key=("event_id",),
    )
)

SILVER_USERS = register(
    TableSpec(
        "silver",
        "users",
        "user_id bigint, age_band string, country string, language string, "
        "is_creator boolean, signup_time timestamp, updated_at timestamp",
        "Users and their demographics; latest record per user_id.",
        key=("user_id",),
    )
)

SILVER_VIDEOS = register(
    TableSpec(
        "silver",
        "videos",
        "video_id bigint, creator_id bigint, duration_ms bigint, title string, "
        "description string, hashtags array<string>, sound_id bigint, language string, "
        "status string, created_at timestamp, updated_at timestamp",
        "Video metadata and status; latest record per video_id.",
        key=("video_id",),
    )
)

SILVER_SOUNDS = register(
    TableSpec(
        "silver",
        "sounds",
        "sound_id bigint, title string, creator_id bigint, created_at timestamp",
        "Sounds (audio tracks videos reuse).",
        key=("sound_id",),
    )
)

SILVER_FOLLOWS = register(
    TableSpec(
        "silver",
        "follows",
        "follower_id bigint, creator_id bigint, followed_at timestamp",
        "The follow graph: one row per (follower, creator), first follow time.",
        key=("follower_id", "creator_id"),
    )
)

SILVER_HASHTAGS = register(
    TableSpec(
        "silver",
        "hashtags",
        "hashtag string, video_id bigint, created_at timestamp",
        "Video-to-hashtag bridge (one row per hashtag on a video).",
        key=("hashtag", "video_id"),
    )
)

# --- gold: analytics ------------------------------------------------------------------------

GOLD_VIDEO_DAILY_STATS = register(
    TableSpec(
        "gold",
        "video_daily_stats",
        "date date, video_id bigint, creator_id bigint, views bigint, unique_viewers bigint, "
        "watch_ms_total bigint, mean_completion double, likes bigint, shares bigint, "
        "comments bigint, skips bigint, like_rate double, share_rate double, "
        "comment_rate double",
        "Per-video daily engagement.",
        partition_by=("date",),
        key=("date", "video_id"),
    )
)

GOLD_CREATOR_DAILY_STATS = register(
    TableSpec(
        "gold",
        "creator_daily_stats",
        "date date, creator_id bigint, videos_watched bigint, views bigint, "
        "unique_viewers bigint, watch_ms_total bigint, mean_completion double, "
        "like_rate double, share_rate double, comment_rate double, new_followers bigint, "
        "followers_total bigint",
        "Per-creator daily engagement and follower growth.",
        partition_by=("date",),
        key=("date", "creator_id"),
    )
)

# --- gold: recommendation (jobs/recsys; every table holds one snapshot per ds partition) ------

GOLD_VIDEO_FEATURES = register(
    TableSpec(
        "gold",
        "video_features",
        "ds date, video_id bigint, creator_id bigint, status string, created_at timestamp, "
        "age_days double, impressions bigint, views bigint, completion_rate double, "
        "like_rate double, comment_rate double, share_rate double, quality double, "
        "creator_score double, freshness double, popularity double, trending_score double, "
        "base_score double",
        "Per-video smoothed engagement rates (empirical-Bayes), quality, creator score, "
        "freshness and popularity as of ds.",
        partition_by=("ds",),
        key=("ds", "video_id"),
    )
)

GOLD_USER_AFFINITIES = register(
    TableSpec(
        "gold",
        "user_affinities",
        "ds date, user_id bigint, kind string, key string, score double, rank int",
        "Per-user decayed engagement affinity to hashtags, sounds and creators (top-k per kind).",
        partition_by=("ds",),
        key=("ds", "user_id", "kind", "key"),
    )
)

GOLD_TRENDING = register(
    TableSpec(
        "gold",
        "trending",
        "ds date, rank int, video_id bigint, score double",
        "Trending ready videos: decayed recent engagement x quality.",
        partition_by=("ds",),
        key=("ds", "rank"),
    )
)

GOLD_HASHTAG_TOP = register(
    TableSpec(
        "gold",
        "hashtag_top",
        "ds date, hashtag string, rank int, video_id bigint, score double",
        "Top ready videos per hashtag (candidate lists).",
        partition_by=("ds",),
        key=("ds", "hashtag", "rank"),
    )
)

GOLD_SOUND_TOP = register(
    TableSpec(
        "gold",
        "sound_top",
        "ds date, sound_id bigint, rank int, video_id bigint, score double",
        "Top ready videos per sound (candidate lists).",
        partition_by=("ds",),
        key=("ds", "sound_id", "rank"),
    )
)

GOLD_CREATOR_TOP = register(
    TableSpec(
        "gold",
        "creator_top",
        "ds date, creator_id bigint, rank int, video_id bigint, score double",
        "Top ready videos per creator (the followed-creators candidate lists).",
        partition_by=("ds",),
        key=("ds", "creator_id", "rank"),
    )
)

GOLD_COLDSTART_POOLS = register(
    TableSpec(
        "gold",
        "coldstart_pools",
        "ds date, pool string, age_band string, country string, language string, rank int, "
        "video_id bigint, score double",
        "Cold-start lists: pool=demographic (popular per age band/country/language, smoothed "
        "towards language and global) and pool=diverse (exploration across hashtags; no segment).",
        partition_by=("ds",),
        key=("ds", "pool", "age_band", "country", "language", "rank"),
    )
)

GOLD_VIDEO_EMBEDDINGS = register(
    TableSpec(
        "gold",
        "video_embeddings",
        "ds date, video_id bigint, embedding array<float>, model_version string, cf_weight double",
        "128-d unit video vectors: ALS (implicit, completion-weighted) blended with a content "
        "vector (hashtags, sound, creator, words); cf_weight = share of the ALS part.",
        partition_by=("ds",),
        key=("ds", "video_id"),
    )
)

GOLD_USER_EMBEDDINGS = register(
    TableSpec(
        "gold",
        "user_embeddings",
        "ds date, user_id bigint, embedding array<float>, model_version string, engagements bigint",
        "128-d unit user vectors: decayed, engagement-weighted mean of watched video vectors.",
        partition_by=("ds",),
        key=("ds", "user_id"),
    )
)

GOLD_VIDEO_NEIGHBOURS = register(
    TableSpec(
        "gold",
        "video_neighbours",
        "ds date, video_id bigint, neighbour_id bigint, rank int, sim double",
        "Co-engagement (item-item) neighbours: cosine of the users two videos share among "
        "their recent positives; each video keeps its best ready neighbours (rank 1 = best).",
        partition_by=("ds",),
        key=("ds", "video_id", "neighbour_id"),
    )
)

GOLD_EXPLORATION_POOL = register(
    TableSpec(
        "gold",
        "exploration_pool",
        "ds date, video_id bigint, created_at timestamp, impressions bigint, "
        "completion_sum double, alpha double, beta double, reference double, "
        "p_better double, sampled double, state string, target_impressions bigint",
        "New-video bandit state (Beta posterior of completion, Thompson draw, "
        "warmup/boost/hold/faded/graduated) and its exposure target.",
        partition_by=("ds",),
        key=("ds", "video_id"),
    )
)

GOLD_EXPLORATION_ASSIGNMENTS = register(
    TableSpec(
        "gold",
        "exploration_assignments",
        "ds date, user_id bigint, video_id bigint, score double",
        "Predicted-audience users a new video is shown to (content-embedding neighbours).",
        partition_by=("ds",),
        key=("ds", "user_id", "video_id"),
    )
)

GOLD_CANDIDATES = register(
    TableSpec(
        "gold",
        "candidates",
        "ds date, user_id bigint, video_id bigint, source string, score double, "
        "sources array<string>",
        "Per-user candidates after quotas, dedupe, watched and not-ready filtering, for a "
        "fixed sample of users (rec_candidates_sample_users; the rank job regenerates every "
        "user's in its own pass); source = the source kept (priority order), sources = every "
        "source that produced it.",
        partition_by=("ds",),
        key=("ds", "user_id", "video_id"),
    )
)

GOLD_FEEDS = register(
    TableSpec(
        "gold",
        "feeds",
        "run_id string, ds date, user_id bigint, rank int, video_id bigint, score double, "
        "source string, raw_score double, ranked_by string",
        "Ranked top-N per user (rank 1 = first); re-running a ds replaces its rows. source = "
        "the candidate source (dedupe priority) or cold-start list; ranked_by = what ordered "
        "the row: the ranker (learned, hybrid, design) or the mixed-in list (coldstart_popular, "
        "coldstart_diverse, exploration); raw_score = that ranker's or list's own score; score "
        "= 1 / log2(1 + rank), a display score that falls with rank (sort by it = feed order).",
        partition_by=("ds",),
        key=("ds", "user_id", "rank"),
    )
)


def feed_display_score(rank: int) -> float:
    """gold.feeds' ``score`` of a position: ``1 / log2(1 + rank)`` (its DCG weight, 1.0 at rank
    1, strictly falling), so sorting a feed by score gives its order whatever list each item
    came from; the ranker's or list's own score is ``raw_score``. The API scores the top-up
    items that follow a feed the same way, by their rank in the user's sequence."""
    return 1.0 / math.log2(1.0 + rank)


GOLD_RUNS = register(
    TableSpec(
        "gold",
        "runs",
        "ds date, job string, run_id string, started_at timestamp, finished_at timestamp, "
        "inputs string, outputs string, params string",
        "One row per recommendation job run: Delta versions read (inputs) and written "
        "(outputs) as JSON, and the parameters, so a run can be reproduced.",
        partition_by=("ds",),
        key=("ds", "job"),
    )
)

GOLD_EVALUATION = register(
    TableSpec(
        "gold",
        "evaluation",
        "run_id string, ds date, model string, metric string, k int, value double, "
        "holdout string, created_at timestamp",
        "Offline evaluation: metrics at k of the engine and the baselines, per evaluation run "
        "(one per hold-out): a mean's standard error is the metric `<name>_se`, the paired "
        "difference engine minus a baseline is model `fyp_minus_<baseline>` (`ndcg_diff`), the "
        "candidate recall per source is model `candidates` (k = 0).",
        partition_by=("ds",),
        key=("run_id", "model", "metric", "k"),
    )
)

GOLD_MODELS = register(
    TableSpec(
        "gold",
        "models",
        "model_id string, ds date, kind string, status string, reason string, "
        "features_as_of date, label_from timestamp, label_to timestamp, features array<string>, "
        "users bigint, rows bigint, positives bigint, metrics string, inputs string, "
        "params string, path string, created_at timestamp",
        "Trained models, one per ds and kind (kind=ranker: jobs/recsys/learned.py): status "
        "accepted (used), rejected (worse than the fallback formula on its validation users) or "
        "skipped (too little history; reason says why); features computed as of "
        "features_as_of, labels from [label_from, label_to); training counts; metrics "
        "(validation nDCG of the model and the formulas) and params as JSON; the Delta "
        "versions read (inputs); path = the model's folder in the lake.",
        partition_by=("ds",),
        key=("ds", "kind"),
    )
)

# --- quarantine -----------------------------------------------------------------------------

QUARANTINE_EVENTS = register(
    TableSpec(
        "quarantine",
        "events",
        "entity string, raw string, landing_file string, line_no bigint, reason_code string, "
        "reason string, quarantined_at timestamp, ingest_date date",
        "Every landed record (any entity) that failed parsing or validation: raw line, source "
        "file and line, a stable reason_code and a reason with detail. MERGE on "
        "(landing_file, line_no), so a replay never adds a second row.",
        partition_by=("ingest_date",),
        key=("landing_file", "line_no"),
    )
)

# --- _meta: bookkeeping of the jobs -----------------------------------------------------------

META_INGESTED_FILES = register(
    TableSpec(
        "_meta",
        "ingested_files",
        "path string, entity string, size bigint, mtime timestamp, arrival_hour timestamp, "
        "lines bigint, accepted bigint, quarantined bigint, event_dates array<date>, "
        "interval_start timestamp, interval_end timestamp, ingested_at timestamp",
        "Landing files the ingest consumed (size and mtime tell a changed file), with per-file "
        "counts: lines = accepted + quarantined, and the event dates the file touched.",
        key=("path",),
    )
)
