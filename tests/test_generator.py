"""`fyp generate`: deterministic landing records with the statistical shape the design needs."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from fyplake.landing import ENTITIES, EVENT_TYPES
from fyplake.synth import generate_world
from fyplake.synth.catalog import TOPIC_NAMES

START = date(2026, 11, 1)
DAYS = 4
PATH_RE = re.compile(
    r"^(?P<entity>\w+)/date=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/"
    r"generator-[\w-]+\.jsonl$"
)
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _read_landing(landing: Path) -> dict[str, pd.DataFrame]:
    """Every record, parsed by the strict json module, with its file's arrival hour."""
    rows: dict[str, list[dict]] = {e: [] for e in ENTITIES}
    for path in sorted(landing.rglob("*.jsonl")):
        m = PATH_RE.match(path.relative_to(landing).as_posix())
        assert m, f"unexpected landing path {path}"
        arrival = pd.Timestamp(f"{m['date']}T{m['hour']}:00:00Z")
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            rec["_arrival"] = arrival
            rows[m["entity"]].append(rec)
    return {e: pd.DataFrame(r) for e, r in rows.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    summary = generate_world(
        2000, 2000, DAYS, seed=7, start_date=START, events_per_user_day=8, lake_root=lake
    )
    data = _read_landing(lake / "landing")
    for df, col in (
        (data["events"], "event_time"),
        (data["users"], "signup_time"),
        (data["videos"], "created_at"),
        (data["sounds"], "created_at"),
    ):
        assert df[col].map(lambda s: bool(TS_RE.match(s))).all(), col
        df["ts"] = pd.to_datetime(df[col], utc=True)
    truth = {
        n: pq.read_table(lake / "ground_truth" / f"{n}.parquet").to_pandas()
        for n in ("users", "videos", "creators", "sounds")
    }
    meta = json.loads((lake / "ground_truth" / "meta.json").read_text())
    return summary, data, truth, meta, lake


def _impressions(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    ev = data["events"]
    imp = ev[ev.event_type.isin(["watch", "skip"])].copy()
    imp["video_id"] = imp.video_id.astype(np.int64)
    duration = data["videos"].set_index("video_id").duration_ms
    imp["completion"] = imp.watch_ms / duration.reindex(imp.video_id).to_numpy()
    return imp


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for root in (a, b):
        generate_world(300, 400, 2, seed=11, events_per_user_day=8, lake_root=root)
    generate_world(300, 400, 2, seed=12, events_per_user_day=8, lake_root=c)
    tree_a, tree_b = _tree(a), _tree(b)
    assert len(tree_a) > 20 and any(k.startswith("ground_truth/") for k in tree_a)
    assert tree_a == tree_b
    # a different seed is a different world, written under different file names
    assert not set(tree_a) & {k for k in _tree(c) if k.startswith("landing/")}
    # a re-run overwrites the same files instead of adding copies
    generate_world(300, 400, 2, seed=11, events_per_user_day=8, lake_root=a)
    assert _tree(a) == tree_b


def test_records_match_landing_contract(world):
    summary, data, _, _, _ = world
    for entity in ("users", "videos", "sounds"):
        assert list(data[entity].columns[:-2]) == list(ENTITIES[entity]), entity
        assert (data[entity].source == "generator").all()
    ev = data["events"]
    assert set(ev.columns) - {"_arrival", "ts"} <= set(ENTITIES["events"])
    assert ev.event_id.is_unique and len(ev) == summary.events
    assert set(ev.event_type) == set(EVENT_TYPES)
    view = ev.event_type.isin(["watch", "skip"])
    assert ev.watch_ms[view].notna().all() and ev.watch_ms[~view].isna().all()
    follow = ev.event_type == "follow"
    assert ev.video_id[follow].isna().all() and ev.video_id[~follow].notna().all()
    assert ev.creator_id[follow].notna().all() and ev.creator_id[~follow].isna().all()
    comment = ev.event_type == "comment"
    assert ev.comment_text[comment].map(lambda s: isinstance(s, str) and s != "").all()
    assert ev.comment_text[~comment].isna().all()
    videos = data["videos"]
    assert videos.video_id.is_unique and len(videos) == 2000
    assert videos.duration_ms.between(15_000, 60_000).all() and (videos.status == "ready").all()
    assert videos.hashtags.map(
        lambda h: len(h) >= 2 and all(t == t.lower() and "#" not in t for t in h)
    ).all()
    assert set(videos.creator_id) <= set(data["users"].query("is_creator").user_id)
    assert set(videos.sound_id.dropna().astype(int)) <= set(data["sounds"].sound_id)


def test_impressions_and_engagement_are_consistent(world):
    _, data, _, _, _ = world
    ev = data["events"]
    users = data["users"].set_index("user_id")
    videos = data["videos"].set_index("video_id")
    imp = _impressions(data)
    # one watch-or-skip per impression: a (user, video) pair is shown at most once a day
    imp["day"] = imp.ts.dt.date
    assert not imp.duplicated(["user_id", "video_id", "day"]).any()
    assert (imp[imp.event_type == "skip"].watch_ms < 3000).all()
    assert (imp[imp.event_type == "watch"].watch_ms >= 3000).all()
    # nobody acts before signing up, no video is seen before it exists
    assert (ev.ts >= users.ts.reindex(ev.user_id).to_numpy()).all()
    assert (imp.ts >= videos.ts.reindex(imp.video_id).to_numpy()).all()
    # likes/comments/shares follow a watch of the same video within seconds of its end
    eng = ev[ev.event_type.isin(["like", "comment", "share"])].copy()
    eng["video_id"] = eng.video_id.astype(np.int64)
    watches = imp[imp.event_type == "watch"]
    merged = eng.merge(watches, on=["user_id", "video_id"], suffixes=("", "_w"))
    gap = (merged.ts - merged.ts_w).dt.total_seconds() * 1000 - merged.watch_ms_w
    ok = merged[(gap >= 0) & (gap <= 30_000)].drop_duplicates("event_id")
    assert len(ok) == len(eng)
    # follows point at creators other than the follower, once per pair
    fol = ev[ev.event_type == "follow"]
    assert len(fol) > 0 and users.is_creator.reindex(fol.creator_id.astype(int)).all()
    assert (fol.creator_id != fol.user_id).all()
    assert not fol.duplicated(["user_id", "creator_id"]).any()


def test_popularity_is_heavy_tailed(world):
    _, data, _, _, _ = world
    counts = _impressions(data).video_id.value_counts()
    top = counts.iloc[: len(data["videos"]) // 10].sum()
    assert top / counts.sum() > 0.4


def test_engagement_follows_hidden_affinity(world):
    _, data, truth, _, _ = world
    imp = _impressions(data)
    u = np.stack(truth["users"].topic_vector.to_numpy())
    v = np.stack(truth["videos"].topic_vector.to_numpy())
    imp["affinity"] = (u[imp.user_id.to_numpy() - 1] * v[imp.video_id.to_numpy() - 1]).sum(axis=1)
    assert imp[["completion", "affinity"]].corr("spearman").iloc[0, 1] > 0.3
    quint = pd.qcut(imp.affinity.rank(method="first"), 5, labels=False)
    skip = (imp.event_type == "skip").groupby(quint).mean()
    assert skip.is_monotonic_decreasing and skip.iloc[-1] < skip.iloc[0] / 2
    # likes go to higher-affinity videos than impressions in general
    ev = data["events"]
    likes = ev[ev.event_type == "like"]
    lv = likes.video_id.astype(int).to_numpy()
    like_aff = (u[likes.user_id.to_numpy() - 1] * v[lv - 1]).sum(axis=1)
    assert like_aff.mean() > 1.5 * imp.affinity.mean()
    # quality matters too: impressions of the top-quality third complete more often
    q = truth["videos"].quality.to_numpy()[imp.video_id.to_numpy() - 1]
    hi, lo = q > np.quantile(q, 2 / 3), q < np.quantile(q, 1 / 3)
    assert imp.completion[hi].mean() > imp.completion[lo].mean()


def test_new_videos_and_users_arrive_every_day(world):
    _, data, _, _, _ = world
    start = pd.Timestamp(START.isoformat(), tz="UTC")
    imp = _impressions(data)
    videos, users = data["videos"], data["users"]
    for day in range(1, DAYS):
        lo, hi = start + pd.Timedelta(days=day), start + pd.Timedelta(days=day + 1)
        born = videos[(videos.ts >= lo) & (videos.ts < hi)].video_id
        assert len(born) > 0
        assert imp[(imp.ts >= lo) & (imp.ts < hi)].video_id.isin(born).any()
        assert ((users.ts >= lo) & (users.ts < hi)).any()
    assert (videos.ts < start).mean() > 0.5  # most of the catalogue predates day 0
    # brand-new users exist and have few events
    per_user = data["events"].groupby("user_id").size()
    new = users[users.ts > start + pd.Timedelta(days=DAYS - 1)].user_id
    assert len(new) > 0 and per_user.reindex(new).fillna(0).mean() < per_user.mean()
    # dimension records arrive in the hour they were created (or in the first hour if older)
    assert (videos._arrival == videos.ts.dt.floor("h").clip(lower=start)).all()


def test_some_events_arrive_late(world):
    summary, data, _, _, _ = world
    ev = data["events"]
    hour = ev.ts.dt.floor("h")
    assert (ev._arrival >= hour).all()
    late = ev._arrival > hour
    assert 0.005 < late.mean() < 0.03
    assert late.sum() == summary.late_events


def test_ground_truth_tables(world):
    summary, data, truth, meta, _ = world
    t = len(TOPIC_NAMES)
    assert [x["name"] for x in meta["topics"]] == list(TOPIC_NAMES)
    assert meta["seed"] == 7 and meta["params"]["users"] == 2000
    assert meta["counts"] == {k: summary.counts[k] for k in meta["counts"]}
    users, videos, creators = truth["users"], truth["videos"], truth["creators"]
    assert list(users.user_id) == list(range(1, 2001))
    for df, col in ((users, "topic_vector"), (videos, "topic_vector"), (creators, "niche_vector")):
        vec = np.stack(df[col].to_numpy())
        assert vec.shape == (len(df), t) and np.allclose(vec.sum(axis=1), 1, atol=1e-4)
    assert videos.quality.between(0, 1).all() and creators.quality.between(0, 1).all()
    assert videos.popularity.max() == pytest.approx(1.0)
    assert set(creators.creator_id) == set(data["users"].query("is_creator").user_id)
    landing_videos = data["videos"].set_index("video_id")
    assert (videos.set_index("video_id").creator_id == landing_videos.creator_id).all()
    assert str(users.signup_time.dtype).startswith("datetime64[ms, UTC]")


def test_cli_json_summary(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cli import main
    from fyplake.config import reload_settings

    monkeypatch.setenv("FYP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FYP_LAKE", str(tmp_path / "lake"))
    reload_settings()
    try:
        args = [
            "generate",
            "--users",
            "200",
            "--videos",
            "300",
            "--days",
            "2",
            "--seed",
            "3",
            "--start-date",
            "2026-03-01",
            "--events-per-user-day",
            "5",
            "--json",
        ]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["counts"]["users"] == 200 and out["counts"]["videos"] == 300
        assert out["events"] == sum(out["events_by_type"].values()) > 0
        assert out["files"] == len(list((tmp_path / "lake" / "landing").rglob("*.jsonl")))
        assert out["landing"] == str(tmp_path / "lake" / "landing")
        assert out["events_per_s"] > 0 and out["start_date"] == "2026-03-01"
        assert (tmp_path / "lake" / "landing" / "events" / "date=2026-03-01").is_dir()
        bad = CliRunner().invoke(main, ["generate", "--users", "0"])
        assert bad.exit_code != 0
    finally:
        monkeypatch.undo()
        reload_settings()


def test_timestamps_are_utc_with_millis(world):
    _, data, _, _, _ = world
    t = data["events"].event_time.iloc[0]
    parsed = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert parsed.tzinfo is not None and parsed.utcoffset() == UTC.utcoffset(None)
