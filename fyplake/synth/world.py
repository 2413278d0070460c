"""The hidden world: latent interests, quality and popularity, and the entities they explain.

Everything a recommender should be able to learn is decided here, before any event exists:

* T named topics (``catalog.TOPICS``); each user has a Dirichlet mixture over them (sparse by
  default: ``topic_concentration``) whose prior mean is tilted by age band and country, so
  demographics predict interests a little (enough for a demographic cold start to beat random) but
  far less than the user's own history does.
* Creators are a subset of users with a niche (an even sparser mixture), a Beta quality and a
  heavy-tailed productivity. A video takes a primary topic from its creator's niche and, for a
  ``second_topic_share`` of videos, a second topic of weight ``second_topic_weight``; a quality
  around its creator's; and a Zipf popularity weight ``1 / rank ** popularity_skew`` whose rank
  leans towards quality.
* Sounds belong to topics (plus "original sounds" born with a video), so sound ids carry signal.

The shape knobs (``WorldParams`` fields from ``topic_concentration`` on; presets in ``shapes``)
default to the constants this world was first built with, and a default-shaped world leaves them
out of its parameter record, so its world id and every file stay exactly what they were.

Arrays are indexed 0..n-1 in id order (id = index + 1); ids grow with signup/creation time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime

import numpy as np

from fyplake.synth import catalog

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
#: Bump when a change alters the output for the same parameters (it is part of the world id).
GENERATOR_VERSION = 1
DEFAULT_START_DATE = date(2026, 11, 1)
#: Knobs that shape the world (``shapes.SHAPES`` presets set them; ``fyp generate`` has a flag for
#: each). The first two existed before the shapes and are always recorded.
SHAPE_KNOBS: tuple[str, ...] = (
    "events_per_user_day",
    "activity_shape",
    "topic_concentration",
    "second_topic_share",
    "second_topic_weight",
    "popularity_skew",
    "new_video_share",
    "new_video_days",
)
#: Fields recorded only when they differ from the default shape (see ``WorldParams.as_dict``).
SHAPE_FIELDS: frozenset[str] = frozenset(
    {"shape", *SHAPE_KNOBS} - {"events_per_user_day", "new_video_share"}
)

#: Concentration of a creator's niche at the default ``topic_concentration`` (0.8); it scales with
#: that knob, so creators stay more specialised than their audience in every shape.
CREATOR_CONCENTRATION = 0.6
DEFAULT_TOPIC_CONCENTRATION = 0.8
#: Strength of the age-band tilt (exp(AGE_STRENGTH * position * youth lean)).
AGE_STRENGTH = 0.8
#: Spread (lognormal sigma) of the per-country topic tilt and of global topic popularity.
COUNTRY_SIGMA = 0.45
TOPIC_POP_SIGMA = 0.5
#: The popularity rank (Zipf exponent: ``popularity_skew``) leans on quality with this weight.
ZIPF_QUALITY_WEIGHT = 0.8
#: Pre-window history: users signed up within a year, videos were created within 30 days.
USER_HISTORY_DAYS = 365
VIDEO_HISTORY_DAYS = 30


@dataclass(frozen=True)
class WorldParams:
    """What `fyp generate` takes; equal params and seed give byte-identical output."""

    users: int
    videos: int
    days: int
    seed: int = 42
    start_date: date = DEFAULT_START_DATE
    #: Mean events (all types) per signed-up user per day; ~1/1.2 of them are impressions.
    events_per_user_day: float = 10.0
    #: Share of users who sign up during the simulated days (the rest existed before day 0).
    new_user_share: float = 0.2
    #: Share of videos created during the simulated days (the rest in the 30 days before).
    new_video_share: float = 0.3
    #: Share of users who are creators (capped by the number of videos).
    creator_share: float = 0.05
    #: Share of events that land in a later hour's folder than their event time.
    late_share: float = 0.015
    # --- shape knobs (``shapes.SHAPES`` holds named presets of them) ------------------------------
    #: Name of the preset the knobs came from; a label (meta.json, --json), not part of the id.
    shape: str = "default"
    #: Dirichlet concentration (sum of alphas) of a user's topic mixture: <1 gives 1-2 dominant
    #: topics, 0.1 a single one, >5 a broad mixture. Creators' niches use 0.75 of it.
    topic_concentration: float = DEFAULT_TOPIC_CONCENTRATION
    #: Share of videos with a second topic (the rest have one topic).
    second_topic_share: float = 0.4
    #: Weight of a video's second topic in its topic vector (the primary has 1 - this).
    second_topic_weight: float = 0.3
    #: Zipf exponent of video popularity (1 / rank ** skew): 0 flat, 0.9 today's, 1.5 very skewed.
    popularity_skew: float = 0.9
    #: Gamma shape of per-user activity (mean 1): the spread of events per user (coefficient of
    #: variation 1 / sqrt(shape)); low gives many sparse users and a few heavy ones.
    activity_shape: float = 0.8
    #: The ``new_video_share`` of videos is created during the last this many simulated days
    #: (None: spread over all of them); 1 puts the whole share on the last day.
    new_video_days: int | None = None

    def __post_init__(self) -> None:
        for name in ("users", "videos", "days"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if not self.events_per_user_day > 0:
            raise ValueError("events_per_user_day must be > 0")
        for name in ("new_user_share", "new_video_share", "late_share"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1)")
        if not 0 < self.creator_share <= 1:
            raise ValueError("creator_share must be in (0, 1]")
        if not 0 < self.topic_concentration <= 100:
            raise ValueError("topic_concentration must be in (0, 100]")
        if not 0 <= self.second_topic_share <= 1:
            raise ValueError("second_topic_share must be in [0, 1]")
        if not 0 < self.second_topic_weight <= 0.5:
            raise ValueError("second_topic_weight must be in (0, 0.5]")
        if not 0 <= self.popularity_skew <= 4:
            raise ValueError("popularity_skew must be in [0, 4]")
        if not 0.05 <= self.activity_shape <= 100:
            raise ValueError("activity_shape must be in [0.05, 100]")
        if self.new_video_days is not None and self.new_video_days < 1:
            raise ValueError("new_video_days must be at least 1")
        # 1 and 1.0 are the same knob value, so they must hash to the same world id.
        for name in (
            "topic_concentration",
            "second_topic_share",
            "second_topic_weight",
            "popularity_skew",
            "activity_shape",
        ):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.new_video_days is not None:
            object.__setattr__(self, "new_video_days", int(self.new_video_days))

    def as_dict(self) -> dict:
        """The parameters as recorded (meta.json, world id, --json).

        Shape knobs appear only where they differ from the default shape, so a default-shaped
        world records (and hashes to) exactly what it did before the knobs existed.
        """
        data = asdict(self)
        data["start_date"] = self.start_date.isoformat()
        for f in fields(self):
            if f.name in SHAPE_FIELDS and data[f.name] == f.default:
                del data[f.name]
        return data

    def shape_dict(self) -> dict:
        """The preset's name and every knob that shapes the world, defaults included."""
        return {"shape": self.shape, **{k: getattr(self, k) for k in SHAPE_KNOBS}}

    @property
    def new_video_window_days(self) -> int:
        """Days at the end of the window over which the new videos are created."""
        return min(self.new_video_days or self.days, self.days)

    @property
    def world_id(self) -> str:
        """Short hash of the parameters; it names files and event ids so worlds never collide.

        The preset's name is left out: the same knob values make the same world.
        """
        data = {k: v for k, v in self.as_dict().items() if k != "shape"}
        blob = json.dumps({"v": GENERATOR_VERSION, **data}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:8]

    @property
    def start_ms(self) -> int:
        d = self.start_date
        return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


@dataclass
class World:
    """The latent world plus every entity attribute; see the module docstring."""

    params: WorldParams
    topic_pop: np.ndarray  # (T,) global topic popularity
    # users
    user_age: np.ndarray  # int8 index into AGE_BANDS
    user_country: np.ndarray  # int8 index into COUNTRIES
    user_lang: np.ndarray  # int8 index into LANGUAGES
    user_signup_ms: np.ndarray  # int64
    user_theta: np.ndarray  # (N, T) float32 topic mixture
    user_activity: np.ndarray  # float32, mean 1
    user_patience: np.ndarray  # float32, logit shift of watching vs skipping
    # creators (index c; creator_user[c] is a user index)
    creator_user: np.ndarray
    creator_quality: np.ndarray
    creator_productivity: np.ndarray
    creator_niche: np.ndarray  # (C, T)
    # videos
    video_creator: np.ndarray  # creator index
    video_created_ms: np.ndarray
    video_duration_ms: np.ndarray
    video_lang: np.ndarray
    video_primary: np.ndarray  # topic index
    video_secondary: np.ndarray  # topic index or -1
    video_quality: np.ndarray
    video_popularity: np.ndarray  # Zipf weight, max 1
    video_sound: np.ndarray  # sound index or -1
    # sounds
    sound_topic: np.ndarray
    sound_creator_user: np.ndarray  # user index or -1
    sound_created_ms: np.ndarray
    sound_popularity: np.ndarray
    sound_original: np.ndarray  # bool
    sound_title: list[str] = field(default_factory=list)
    video_title: list[str] = field(default_factory=list)
    video_description: list[str] = field(default_factory=list)
    video_hashtags: list[list[str]] = field(default_factory=list)

    @property
    def n_topics(self) -> int:
        return len(catalog.TOPICS)

    @property
    def second_topic_weight(self) -> float:
        return self.params.second_topic_weight

    @property
    def video_primary_weight(self) -> np.ndarray:
        w2 = self.second_topic_weight
        return np.where(self.video_secondary >= 0, 1 - w2, 1.0).astype(np.float32)

    def video_topic_matrix(self) -> np.ndarray:
        """(M, T) float32 topic vectors of all videos (dense; for ground truth and tests)."""
        m = len(self.video_primary)
        phi = np.zeros((m, self.n_topics), dtype=np.float32)
        rows = np.arange(m)
        phi[rows, self.video_primary] = self.video_primary_weight
        sec = self.video_secondary >= 0
        phi[rows[sec], self.video_secondary[sec]] = self.second_topic_weight
        return phi


def categorical_rows(
    rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray, chunk: int = 1 << 18
) -> np.ndarray:
    """One draw per entry of ``rows`` from the row-wise cumulative weights ``cum[rows]``."""
    out = np.empty(len(rows), dtype=np.int64)
    last = cum.shape[1] - 1
    for lo in range(0, len(rows), chunk):
        c = cum[rows[lo : lo + chunk]]
        u = rng.random(len(c)) * c[:, -1]
        out[lo : lo + chunk] = np.minimum((c < u[:, None]).sum(axis=1), last)
    return out


def weighted_choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """``size`` draws of indices into ``weights`` with replacement (cumsum + binary search)."""
    cdf = np.cumsum(weights, dtype=np.float64)
    idx = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    return np.minimum(idx, len(weights) - 1)


def dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """Row-wise Dirichlet draws (numpy's dirichlet takes one alpha vector only)."""
    g = rng.standard_gamma(alpha)
    total = g.sum(axis=1, keepdims=True)
    # Tiny alphas can underflow every component; such a row falls back to its prior mean.
    empty = total[:, 0] <= 0
    g[empty] = alpha[empty]
    total[empty] = alpha[empty].sum(axis=1, keepdims=True)
    return g / total


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def build_world(p: WorldParams) -> World:
    rng = np.random.default_rng([p.seed, 0])
    n_topics = len(catalog.TOPICS)
    start = p.start_ms

    topic_pop = rng.lognormal(0.0, TOPIC_POP_SIGMA, n_topics)
    topic_pop /= topic_pop.sum()
    youth = np.array([t[3] for t in catalog.TOPICS])
    age_tilt = np.exp(AGE_STRENGTH * np.outer(catalog.AGE_POSITION, youth))
    country_tilt = rng.lognormal(0.0, COUNTRY_SIGMA, (len(catalog.COUNTRIES), n_topics))

    # --- users ---------------------------------------------------------------------------------
    n = p.users
    n_new_users = min(int(round(n * p.new_user_share)), n - 1)
    n_old_users = n - n_new_users
    age = rng.choice(len(catalog.AGE_BANDS), n, p=catalog.AGE_PROBS).astype(np.int8)
    shares = np.array([c[2] for c in catalog.COUNTRIES])
    country = rng.choice(len(shares), n, p=shares / shares.sum()).astype(np.int8)
    country_lang = np.array([catalog.LANGUAGES.index(c[1]) for c in catalog.COUNTRIES], np.int8)
    lang = country_lang[country]
    lang[rng.random(n) < catalog.ENGLISH_SECOND_SHARE] = catalog.LANGUAGES.index("en")
    signup = np.concatenate(
        [
            start - rng.integers(HOUR_MS, USER_HISTORY_DAYS * DAY_MS, n_old_users),
            start + rng.integers(0, p.days * DAY_MS, n_new_users),
        ]
    )
    prior = topic_pop * age_tilt[age] * country_tilt[country]
    prior /= prior.sum(axis=1, keepdims=True)
    theta = dirichlet_rows(rng, p.topic_concentration * prior)
    activity = rng.gamma(p.activity_shape, 1 / p.activity_shape, n)
    patience = rng.normal(0.0, 0.4, n)

    # --- creators (pre-window users) -----------------------------------------------------------
    m = p.videos
    n_creators = int(min(max(1, round(n * p.creator_share)), n_old_users, m))
    creator_user = np.sort(rng.choice(n_old_users, n_creators, replace=False))
    creator_quality = rng.beta(2.0, 3.0, n_creators)
    productivity = rng.lognormal(0.0, 1.0, n_creators)
    niche_mean = 0.5 * theta[creator_user] + 0.5 * topic_pop
    # Small worlds still cover every topic: the first T creators each lean to a different one.
    k = min(n_creators, n_topics)
    lean = rng.permutation(n_creators)[:k]
    niche_mean[lean] = 0.5 * niche_mean[lean] + 0.5 * np.eye(n_topics)[:k]
    niche_concentration = CREATOR_CONCENTRATION * (
        p.topic_concentration / DEFAULT_TOPIC_CONCENTRATION
    )
    niche = dirichlet_rows(rng, niche_concentration * niche_mean)

    # --- videos --------------------------------------------------------------------------------
    video_creator = np.concatenate(
        [np.arange(n_creators), weighted_choice(rng, productivity, m - n_creators)]
    )
    rng.shuffle(video_creator)
    n_new_videos = int(round(m * p.new_video_share))
    new_from = (p.days - p.new_video_window_days) * DAY_MS
    created = np.concatenate(
        [
            start - rng.integers(HOUR_MS, VIDEO_HISTORY_DAYS * DAY_MS, m - n_new_videos),
            start + rng.integers(new_from, p.days * DAY_MS, n_new_videos),
        ]
    )
    # A creator signed up before their first video.
    first_video = np.full(n_creators, np.iinfo(np.int64).max)
    np.minimum.at(first_video, video_creator, created)
    lead = rng.integers(DAY_MS, 60 * DAY_MS, n_creators)
    signup[creator_user] = np.minimum(signup[creator_user], first_video - lead)

    duration = rng.integers(15_000, 60_001, m)
    video_lang = lang[creator_user[video_creator]].copy()
    video_lang[rng.random(m) < 0.1] = catalog.LANGUAGES.index("en")
    primary = categorical_rows(rng, np.cumsum(niche, axis=1), video_creator)
    secondary = weighted_choice(rng, topic_pop, m)
    secondary[(rng.random(m) >= p.second_topic_share) | (secondary == primary)] = -1
    quality = _sigmoid(_logit(creator_quality[video_creator]) + rng.normal(0.0, 0.8, m))
    pop_score = ZIPF_QUALITY_WEIGHT * _logit(quality) + rng.gumbel(0.0, 1.0, m)
    rank = np.empty(m, dtype=np.int64)
    rank[np.argsort(-pop_score, kind="stable")] = np.arange(m)
    popularity = 1.0 / (rank + 1.0) ** p.popularity_skew

    # --- sounds: a topical catalogue plus "original sounds" born with a video --------------------
    n_cat = max(2 * n_topics, m // 25)
    sound_topic = np.concatenate(
        [np.arange(n_topics), weighted_choice(rng, topic_pop, n_cat - n_topics)]
    )
    sound_pop = 1.0 / (rng.permutation(n_cat) + 1.0)
    sound_creator = np.where(
        rng.random(n_cat) < 0.3, creator_user[rng.integers(0, n_creators, n_cat)], -1
    )
    sound_created = start - rng.integers(VIDEO_HISTORY_DAYS * DAY_MS, 120 * DAY_MS, n_cat)
    has_creator = sound_creator >= 0
    np.minimum.at(signup, sound_creator[has_creator], sound_created[has_creator] - DAY_MS)
    video_sound = np.full(m, -1, dtype=np.int64)
    r = rng.random(m)
    use_cat = (r >= 0.10) & (r < 0.85)
    topical = use_cat & (rng.random(m) < 0.7)
    generic = use_cat & ~topical
    video_sound[generic] = weighted_choice(rng, sound_pop, int(generic.sum()))
    for t in range(n_topics):
        sel = np.flatnonzero(topical & (primary == t))
        pool = np.flatnonzero(sound_topic == t)
        video_sound[sel] = pool[weighted_choice(rng, sound_pop[pool], len(sel))]
    original = np.flatnonzero(r < 0.10)
    video_sound[original] = n_cat + np.arange(len(original))
    sound_topic = np.concatenate([sound_topic, primary[original]])
    sound_pop = np.concatenate([sound_pop, np.full(len(original), 1.0 / n_cat)])
    sound_creator = np.concatenate([sound_creator, creator_user[video_creator[original]]])
    sound_created = np.concatenate([sound_created, created[original]])
    sound_original = np.concatenate([np.zeros(n_cat, bool), np.ones(len(original), bool)])

    # --- ids in time order ------------------------------------------------------------------------
    u_order = np.argsort(signup, kind="stable")
    u_rank = np.empty(n, dtype=np.int64)
    u_rank[u_order] = np.arange(n)
    v_order = np.argsort(created, kind="stable")
    s_order = np.argsort(sound_created, kind="stable")
    s_rank = np.empty(len(s_order), dtype=np.int64)
    s_rank[s_order] = np.arange(len(s_order))
    creator_user = u_rank[creator_user]
    c_order = np.argsort(creator_user, kind="stable")
    c_rank = np.empty(n_creators, dtype=np.int64)
    c_rank[c_order] = np.arange(n_creators)
    sound_creator = np.where(sound_creator >= 0, u_rank[np.maximum(sound_creator, 0)], -1)
    video_sound = video_sound[v_order]
    video_sound = np.where(video_sound >= 0, s_rank[np.maximum(video_sound, 0)], -1)

    world = World(
        params=p,
        topic_pop=topic_pop,
        user_age=age[u_order],
        user_country=country[u_order],
        user_lang=lang[u_order],
        user_signup_ms=signup[u_order].astype(np.int64),
        user_theta=theta[u_order].astype(np.float32),
        user_activity=activity[u_order].astype(np.float32),
        user_patience=patience[u_order].astype(np.float32),
        creator_user=creator_user[c_order],
        creator_quality=creator_quality[c_order].astype(np.float32),
        creator_productivity=productivity[c_order].astype(np.float32),
        creator_niche=niche[c_order].astype(np.float32),
        video_creator=c_rank[video_creator[v_order]],
        video_created_ms=created[v_order].astype(np.int64),
        video_duration_ms=duration[v_order].astype(np.int64),
        video_lang=video_lang[v_order],
        video_primary=primary[v_order],
        video_secondary=secondary[v_order],
        video_quality=quality[v_order].astype(np.float32),
        video_popularity=popularity[v_order].astype(np.float32),
        video_sound=video_sound,
        sound_topic=sound_topic[s_order],
        sound_creator_user=sound_creator[s_order],
        sound_created_ms=sound_created[s_order].astype(np.int64),
        sound_popularity=sound_pop[s_order].astype(np.float32),
        sound_original=sound_original[s_order],
    )
    _add_texts(world, np.random.default_rng([p.seed, 1]))
    return world


def _add_texts(w: World, rng: np.random.Generator) -> None:
    """Titles, descriptions and hashtags: the observable side of each video's hidden topics."""
    m = len(w.video_primary)
    tags = [t[1] for t in catalog.TOPICS]
    phrases = [t[2] for t in catalog.TOPICS]
    n_primary_tags = rng.integers(2, 5, m)
    n_secondary_tags = rng.integers(1, 3, m)
    tag_perm = np.argsort(rng.random((m, 6)), axis=1)
    sec_perm = np.argsort(rng.random((m, 6)), axis=1)
    generic = np.where(rng.random(m) < 0.5, rng.integers(0, len(catalog.GENERIC_TAGS), m), -1)
    opener = rng.integers(0, len(catalog.TITLE_OPENERS), m)
    phrase = rng.integers(0, 4, m)
    titles, descriptions, hashtags = [], [], []
    for i in range(m):
        p, s = int(w.video_primary[i]), int(w.video_secondary[i])
        hs = [tags[p][j] for j in tag_perm[i, : n_primary_tags[i]]]
        if s >= 0:
            hs += [tags[s][j] for j in sec_perm[i, : n_secondary_tags[i]] if tags[s][j] not in hs]
        if generic[i] >= 0:
            hs.append(catalog.GENERIC_TAGS[generic[i]])
        title = f"{catalog.TITLE_OPENERS[opener[i]]} {phrases[p][phrase[i]]}".strip()
        titles.append(title)
        descriptions.append(title + " " + " ".join("#" + h for h in hs))
        hashtags.append(hs)
    w.video_title, w.video_description, w.video_hashtags = titles, descriptions, hashtags
    adj = rng.integers(0, len(catalog.SOUND_ADJECTIVES), len(w.sound_topic))
    noun = rng.integers(0, len(catalog.SOUND_NOUNS), len(w.sound_topic))
    w.sound_title = [
        f"original sound - user{int(w.sound_creator_user[i]) + 1}"
        if w.sound_original[i]
        else f"{catalog.SOUND_ADJECTIVES[adj[i]]} {catalog.SOUND_NOUNS[noun[i]]}"
        for i in range(len(w.sound_topic))
    ]
