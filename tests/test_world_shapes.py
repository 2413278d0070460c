"""`fyp generate` world shapes: each knob moves the property it names, measured from the output.

Every property is measured from the landing files and the ground truth of small generated worlds
(never read back from the knob): topic entropy of what users watched and of the truth's interest
and topic vectors (topic purity), the Gini coefficient of impressions per video (popularity skew),
events per user and their spread (history length), the share of videos created on the last day
and the impressions they get (new items). The default shape must stay the world it was before the
knobs existed, file for file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from fyplake.synth import SHAPES, WorldParams, generate_world, resolve_shape
from fyplake.synth.catalog import TOPICS
from fyplake.synth.shapes import knob_defaults

START = date(2026, 11, 1)
START_TS = pd.Timestamp(START.isoformat(), tz="UTC")
USERS, VIDEOS, DAYS, SEED = 400, 600, 3, 1

#: Digest of the files a 150-user, 200-video, 3-day world (seed 5, 6 events per user-day) wrote
#: before the shape knobs existed (commit d4d5bf6). A deliberate change to the default world must
#: bump world.GENERATOR_VERSION and record the new digest here.
DEFAULT_WORLD_DIGEST = "c19e464ad583a7fd924991132aefa1f2950a533ff217a225fe2853b71638461f"


def _digest(lake: Path) -> str:
    """Every file's path and content; Parquet by its rows, so a pyarrow upgrade's new footer
    (it names the writer's version) does not count as a different world."""
    h = hashlib.sha256()
    for path in sorted(lake.rglob("*")):
        if not path.is_file():
            continue
        h.update(path.relative_to(lake).as_posix().encode() + b"\0")
        if path.suffix == ".parquet":
            h.update(json.dumps(pq.read_table(path).to_pylist(), default=str).encode())
        else:
            h.update(path.read_bytes())
    return h.hexdigest()


def _records(root: Path) -> pd.DataFrame:
    rows = [
        json.loads(line)
        for p in sorted(root.rglob("*.jsonl"))
        for line in p.read_text().splitlines()
    ]
    return pd.DataFrame(rows)


def _entropy(p: np.ndarray) -> np.ndarray:
    """Row-wise Shannon entropy (nats) of non-negative rows, normalised to sum 1."""
    p = p / p.sum(axis=1, keepdims=True)
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=1)


def _gini(x: np.ndarray) -> float:
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum()))


@dataclass
class Measured:
    """One generated world's landing records and ground truth, and the properties the knobs move."""

    lake: Path
    summary: object

    @cached_property
    def events(self) -> pd.DataFrame:
        ev = _records(self.lake / "landing" / "events")
        ev["ts"] = pd.to_datetime(ev.event_time, utc=True)
        return ev

    @cached_property
    def videos(self) -> pd.DataFrame:
        v = _records(self.lake / "landing" / "videos").sort_values("video_id")
        v["ts"] = pd.to_datetime(v.created_at, utc=True)
        return v.reset_index(drop=True)

    @cached_property
    def users(self) -> pd.DataFrame:
        u = _records(self.lake / "landing" / "users").sort_values("user_id")
        u["ts"] = pd.to_datetime(u.signup_time, utc=True)
        return u.reset_index(drop=True)

    def truth(self, name: str) -> pd.DataFrame:
        return pq.read_table(self.lake / "ground_truth" / f"{name}.parquet").to_pandas()

    @cached_property
    def meta(self) -> dict:
        return json.loads((self.lake / "ground_truth" / "meta.json").read_text())

    @property
    def impressions(self) -> pd.DataFrame:
        return self.events[self.events.event_type.isin(["watch", "skip"])]

    # --- topic purity ------------------------------------------------------------------------
    @cached_property
    def watched_topic_entropy(self) -> float:
        """Mean over users (>= 10 watches) of the entropy of the topics of what they watched."""
        vec = np.stack(self.truth("videos").topic_vector.to_numpy())
        w = self.events[self.events.event_type == "watch"]
        mix = np.zeros((len(self.users) + 1, vec.shape[1]))
        np.add.at(mix, w.user_id.to_numpy(), vec[w.video_id.astype(int).to_numpy() - 1])
        mix = mix[(w.groupby("user_id").size() >= 10).reindex(range(len(mix)), fill_value=False)]
        return float(_entropy(mix).mean())

    @cached_property
    def interest_entropy(self) -> float:
        """Mean entropy of the users' hidden interest mixtures (ground truth)."""
        return float(_entropy(np.stack(self.truth("users").topic_vector.to_numpy())).mean())

    @cached_property
    def video_topic_entropy(self) -> float:
        return float(_entropy(np.stack(self.truth("videos").topic_vector.to_numpy())).mean())

    @cached_property
    def two_topic_hashtag_share(self) -> float:
        """Share of landing videos whose hashtags belong to two topics."""
        topic_of = {tag: i for i, t in enumerate(TOPICS) for tag in t[1]}
        n = self.videos.hashtags.map(lambda hs: len({topic_of[h] for h in hs if h in topic_of}))
        return float((n >= 2).mean())

    # --- popularity skew -----------------------------------------------------------------------
    @cached_property
    def impression_gini(self) -> float:
        """Gini coefficient of impressions per video, videos never shown included."""
        counts = self.impressions.video_id.astype(int).value_counts()
        return _gini(counts.reindex(self.videos.video_id, fill_value=0).to_numpy())

    # --- history length ----------------------------------------------------------------------
    @cached_property
    def per_user(self) -> pd.Series:
        """Events of each user who existed before day 0 (a full window each)."""
        old = self.users.user_id[self.users.ts < START_TS]
        return self.events.groupby("user_id").size().reindex(old, fill_value=0)

    @property
    def events_per_user_day(self) -> float:
        return float(self.per_user.mean() / DAYS)

    @property
    def events_per_user_cv(self) -> float:
        return float(self.per_user.std() / self.per_user.mean())

    # --- new items ---------------------------------------------------------------------------
    @property
    def last_day_video_share(self) -> float:
        last = START_TS + pd.Timedelta(days=DAYS - 1)
        return float((self.videos.ts >= last).mean())

    @property
    def last_day_cold_impression_share(self) -> float:
        """Share of the last day's impressions that went to videos created that day."""
        last = START_TS + pd.Timedelta(days=DAYS - 1)
        born = set(self.videos.video_id[self.videos.ts >= last])
        imp = self.impressions[self.impressions.ts >= last]
        return float(imp.video_id.astype(int).isin(born).mean())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """``world(shape, **knobs)``: a small generated world, generated once per module."""
    cache: dict[tuple, Measured] = {}

    def make(shape: str = "default", **knobs) -> Measured:
        key = (shape, tuple(sorted(knobs.items())))
        if key not in cache:
            lake = tmp_path_factory.mktemp(f"shape-{shape}")
            summary = generate_world(
                USERS,
                VIDEOS,
                DAYS,
                seed=SEED,
                start_date=START,
                shape=shape,
                lake_root=lake,
                **knobs,
            )
            cache[key] = Measured(lake, summary)
        return cache[key]

    return make


def test_default_shape_is_the_world_before_the_knobs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate_world(150, 200, 3, seed=5, start_date=START, events_per_user_day=6, lake_root=a)
    assert _digest(a) == DEFAULT_WORLD_DIGEST
    # naming the default shape and giving every knob its default value is the same world
    generate_world(
        150,
        200,
        3,
        seed=5,
        start_date=START,
        events_per_user_day=6,
        lake_root=b,
        shape="default",
        **{k: v for k, v in knob_defaults().items() if k != "events_per_user_day"},
    )
    assert _digest(b) == DEFAULT_WORLD_DIGEST
    meta = json.loads((a / "ground_truth" / "meta.json").read_text())
    assert "shape" not in meta["params"] and "popularity_skew" not in meta["params"]


def test_topic_concentration_sets_how_pure_interests_are(world):
    pure, default, broad = (world(topic_concentration=c) for c in (0.1, 0.8, 5.0))
    # ground truth: the users' hidden mixtures
    assert pure.interest_entropy < 0.5 * default.interest_entropy
    assert broad.interest_entropy > 1.5 * default.interest_entropy
    # behaviour: the topics of what users watched spread out with their interests
    assert pure.watched_topic_entropy + 0.1 < default.watched_topic_entropy
    assert default.watched_topic_entropy + 0.2 < broad.watched_topic_entropy


def test_second_topic_knobs_set_how_pure_videos_are(world):
    single = world(second_topic_share=0.0)
    default = world()
    mixed = world(second_topic_share=0.9, second_topic_weight=0.5)
    assert single.two_topic_hashtag_share == 0.0
    assert 0.25 < default.two_topic_hashtag_share < 0.5
    assert mixed.two_topic_hashtag_share > 0.75
    assert single.video_topic_entropy == 0.0
    assert 0.1 < default.video_topic_entropy < mixed.video_topic_entropy - 0.2
    # a user's watches spread over more topics when each video carries two
    assert single.watched_topic_entropy + 0.2 < default.watched_topic_entropy
    assert default.watched_topic_entropy + 0.2 < mixed.watched_topic_entropy


def test_popularity_skew_sets_how_concentrated_impressions_are(world):
    flat, default, skewed = (world(popularity_skew=s) for s in (0.0, 0.9, 1.5))
    assert flat.impression_gini + 0.08 < default.impression_gini
    assert default.impression_gini + 0.08 < skewed.impression_gini
    # the top 1% of videos take a share of all views that grows with the skew
    top = [w.impressions.video_id.value_counts() for w in (flat, default, skewed)]
    share = [t.iloc[: VIDEOS // 100].sum() / t.sum() for t in top]
    assert share[0] < share[1] < share[2] and share[2] > 2 * share[0]


def test_history_knobs_set_events_per_user_and_their_spread(world):
    light, default, long = (world(events_per_user_day=e) for e in (2.0, 10.0, 30.0))
    rates = [w.events_per_user_day for w in (light, default, long)]
    assert rates[0] < rates[1] < rates[2] and rates[2] > 6 * rates[0]
    # realised means run below the knob (one impression per user, video and day), never above
    for knob, rate in zip((2.0, 10.0, 30.0), rates, strict=True):
        assert 0.4 * knob < rate < knob
    spread, even = world(activity_shape=0.3), world(activity_shape=3.0)
    assert spread.events_per_user_cv > default.events_per_user_cv + 0.25
    assert even.events_per_user_cv < default.events_per_user_cv - 0.25
    # sparse users: with a wide spread, many established users have only a handful of events
    assert (spread.per_user <= 5).mean() > 2 * (even.per_user <= 5).mean()


def test_new_video_knobs_set_the_share_of_cold_items(world):
    few, default = world(new_video_share=0.05), world()
    late = world(new_video_share=0.6, new_video_days=1)
    assert few.last_day_video_share < 0.04
    assert 0.07 < default.last_day_video_share < 0.13  # 0.3 spread over 3 days
    assert late.last_day_video_share == pytest.approx(0.6)
    # no new video is created before the last new_video_days days
    assert not (
        (late.videos.ts >= START_TS) & (late.videos.ts < START_TS + pd.Timedelta(days=DAYS - 1))
    ).any()
    # cold items matter: they take a growing share of the last day's impressions
    shares = [w.last_day_cold_impression_share for w in (few, default, late)]
    assert shares[0] < shares[1] < shares[2] and shares[2] > 0.3


def test_presets_move_the_properties_they_name(world):
    d = world()
    sparse, niche, viral, heavy = (world(s) for s in ("sparse", "niche", "viral", "heavy"))
    assert niche.watched_topic_entropy < 0.7 * d.watched_topic_entropy
    assert viral.watched_topic_entropy > 1.2 * d.watched_topic_entropy
    assert niche.impression_gini + 0.08 < d.impression_gini < viral.impression_gini - 0.08
    assert viral.last_day_video_share > 2 * d.last_day_video_share
    assert sparse.events_per_user_day < 0.4 * d.events_per_user_day
    assert heavy.events_per_user_day > 2.5 * d.events_per_user_day
    assert heavy.events_per_user_cv < d.events_per_user_cv < sparse.events_per_user_cv


def test_knobs_override_the_preset_and_are_recorded(world):
    resolved = resolve_shape("niche", popularity_skew=1.2, topic_concentration=None)
    assert resolved["shape"] == "niche" and resolved["popularity_skew"] == 1.2
    assert resolved["topic_concentration"] == SHAPES["niche"].knobs["topic_concentration"]
    assert resolved["activity_shape"] == knob_defaults()["activity_shape"]
    with pytest.raises(ValueError, match="unknown world shape"):
        resolve_shape("flat")
    with pytest.raises(ValueError, match="unknown shape knob"):
        resolve_shape("default", zipf=1.0)
    w = world("niche", popularity_skew=1.2)
    params = w.meta["params"]
    assert params["shape"] == "niche" and params["popularity_skew"] == 1.2
    assert params["topic_concentration"] == 0.15 and "activity_shape" not in params
    assert w.summary.shape["popularity_skew"] == 1.2
    assert w.summary.shape["second_topic_weight"] == knob_defaults()["second_topic_weight"]
    ids = {world(s).summary.world_id for s in SHAPES} | {w.summary.world_id}
    assert len(ids) == len(SHAPES) + 1  # every shape writes its own file names
    # a preset is exactly its knobs: the same values given one by one make the same world
    size = {"users": USERS, "videos": VIDEOS, "days": DAYS, "seed": SEED, "start_date": START}
    by_name = WorldParams(**size, **resolve_shape("viral"))
    assert WorldParams(**size, **SHAPES["viral"].knobs).world_id == by_name.world_id


def test_ground_truth_follows_the_shape(world):
    w = world("viral")
    videos = w.truth("videos")
    vec = np.stack(videos.topic_vector.to_numpy())
    two = videos.secondary_topic.notna().to_numpy()
    assert np.allclose(np.sort(vec[two], axis=1)[:, -2:], [0.45, 0.55])
    assert np.allclose(vec[~two].max(axis=1), 1.0)
    pop = np.sort(videos.popularity.to_numpy())[::-1]
    assert np.allclose(pop, 1.0 / np.arange(1, len(pop) + 1) ** 1.4, rtol=1e-5)
    # truth and landing agree on when each video was created
    created = pd.to_datetime(videos.created_at, utc=True).reset_index(drop=True)
    assert (created == w.videos.ts).all()
    assert w.meta["params"]["new_video_days"] == 2


def test_cli_shape_flags(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cli import main
    from fyplake.config import reload_settings

    monkeypatch.setenv("FYP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FYP_LAKE", str(tmp_path / "lake"))
    reload_settings()
    try:
        help_text = CliRunner().invoke(main, ["generate", "--help"]).output
        assert all(name in help_text for name in SHAPES) and "--popularity-skew" in help_text
        args = [
            "generate",
            "--users",
            "120",
            "--videos",
            "150",
            "--days",
            "2",
            "--seed",
            "3",
            "--shape",
            "sparse",
            "--activity-shape",
            "1.5",
            "--new-video-days",
            "1",
            "--json",
        ]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["shape"]["shape"] == "sparse" and out["shape"]["events_per_user_day"] == 2.0
        assert out["shape"]["activity_shape"] == 1.5 and out["shape"]["new_video_days"] == 1
        meta = json.loads((tmp_path / "lake" / "ground_truth" / "meta.json").read_text())
        assert meta["params"]["activity_shape"] == 1.5
        bad = CliRunner().invoke(main, ["generate", "--shape", "flat"])
        assert bad.exit_code != 0 and "flat" in bad.output
        bad = CliRunner().invoke(main, ["generate", "--second-topic-weight", "0.7"])
        assert bad.exit_code != 0
    finally:
        monkeypatch.undo()
        reload_settings()
