"""Counters: Valkey increments reach Postgres exactly once, also across a crashed flush."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from fyplake import keys
from fyplake.config import Settings
from fyplake.serving.counters import flush_counters, parse_fields
from fyplake.serving.testing import clear_serving_keys, seed_users, seed_videos
from serving_api.app import create_app

U, V = 5_400_000, 5_500_000
KEY = {"X-API-Key": "fyp-dev-key"}


class Crash(Exception):
    pass


def crash_at(stage: str):
    def hook(at: str, batch: str) -> None:
        if at == stage:
            raise Crash(f"killed at {stage} of {batch}")

    return hook


@pytest.fixture
def world(stack, valkey):
    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        seed_users(conn, [(U, "25-34", "US", "en", True)])
        seed_videos(conn, [(V + i, U, "ready") for i in range(1, 4)])
        conn.execute(
            "UPDATE videos SET view_count = 0, like_count = 0, comment_count = 0, "
            "share_count = 0 WHERE id BETWEEN %s AND %s",
            (V, V + 10),
        )
    clear_serving_keys(valkey)
    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        yield valkey, conn
    clear_serving_keys(valkey)


def counts(conn, video_id):
    return conn.execute(
        "SELECT view_count, like_count, comment_count, share_count FROM videos WHERE id = %s",
        (video_id,),
    ).fetchone()


def incr(valkey, video_id, metric, n=1):
    valkey.hincrby(keys.COUNTERS_LIVE, keys.counter_field(video_id, metric), n)


def test_parse_fields_sums_per_video():
    got = parse_fields([(b"7:views", b"3"), ("7:likes", "1"), (b"8:views", b"2"), (b"junk", b"1")])
    assert dict(got) == {7: [3, 1, 0, 0], 8: [2, 0, 0, 0]}


def test_flush_moves_counters_into_postgres(world):
    valkey, conn = world
    incr(valkey, V + 1, "views", 5)
    incr(valkey, V + 1, "likes", 2)
    incr(valkey, V + 2, "shares", 1)
    incr(valkey, 9_999_999_999, "views", 4)  # a video Postgres does not know
    result = flush_counters(valkey, conn)
    assert len(result.applied) == 1 and result.videos == 3 and result.unknown_videos == 1
    assert result.totals == {"views": 9, "likes": 2, "comments": 0, "shares": 1}
    assert counts(conn, V + 1) == (5, 2, 0, 0)
    assert counts(conn, V + 2) == (0, 0, 0, 1)
    assert not valkey.exists(keys.COUNTERS_LIVE) and valkey.scard(keys.COUNTERS_PENDING) == 0
    assert flush_counters(valkey, conn).applied == []  # nothing new: a no-op


@pytest.mark.parametrize("stage", ["rotated", "before_commit", "committed"])
def test_a_crashed_flush_is_completed_exactly_once(world, stage):
    valkey, conn = world
    incr(valkey, V + 3, "views", 7)
    with pytest.raises(Crash):
        flush_counters(valkey, conn, hook=crash_at(stage))
    # increments that arrive while the batch is stuck go to a fresh live hash
    incr(valkey, V + 3, "views", 1)
    expected_after_crash = (7, 0, 0, 0) if stage == "committed" else (0, 0, 0, 0)
    assert counts(conn, V + 3) == expected_after_crash
    assert valkey.scard(keys.COUNTERS_PENDING) == 1

    result = flush_counters(valkey, conn)  # the next run (e.g. the next hour's)
    assert counts(conn, V + 3) == (8, 0, 0, 0)  # 7 + 1, never 15
    if stage == "committed":
        assert len(result.already_applied) == 1 and len(result.applied) == 1
    else:
        assert len(result.applied) == 2
    assert valkey.scard(keys.COUNTERS_PENDING) == 0
    assert flush_counters(valkey, conn).applied == []
    assert counts(conn, V + 3) == (8, 0, 0, 0)


def test_video_endpoint_shows_live_counts_without_double_counting(world):
    valkey, conn = world
    with TestClient(create_app(Settings())) as api:
        r = api.post(
            "/v1/events",
            headers=KEY,
            json={
                "events": [
                    {"event_type": "watch", "user_id": U, "video_id": V + 1, "watch_ms": 800},
                    {"event_type": "watch", "user_id": U + 1, "video_id": V + 1, "watch_ms": 900},
                    {"event_type": "like", "user_id": U, "video_id": V + 1},
                ]
            },
        )
        assert r.status_code == 202
        live = api.get(f"/v1/videos/{V + 1}").json()["counts"]
        assert live == {"views": 2, "likes": 1, "comments": 0, "shares": 0, "live": True}
        # a flush that committed but died before cleaning up: Postgres has the batch AND the
        # batch is still pending in Valkey; the live count must not add it twice
        with pytest.raises(Crash):
            flush_counters(valkey, conn, hook=crash_at("committed"))
        assert counts(conn, V + 1) == (2, 1, 0, 0)
        assert api.get(f"/v1/videos/{V + 1}").json()["counts"]["views"] == 2
        flush_counters(valkey, conn)
        assert api.get(f"/v1/videos/{V + 1}").json()["counts"]["views"] == 2
