"""Videos, similar videos (pgvector), discovery lists, search, creator analytics, uploads, ops."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from fyplake import keys
from fyplake.config import Settings
from fyplake.serving.pg_publish import upsert_creator_stats, upsert_video_embeddings
from fyplake.serving.publish import publish_lists
from fyplake.serving.ready import sync_ready_from_postgres
from fyplake.serving.testing import clear_serving_keys, seed_users, seed_videos
from serving_api.app import create_app

U, V, S = 5_600_000, 5_700_000, 5_800_000
KEY = {"X-API-Key": "fyp-dev-key"}

CATALOG = [  # id, status, title, description, hashtags, sound
    (V + 1, "ready", "Cute cats", "two cats dance to a song", ["cats", "funny"], S + 1),
    (V + 2, "ready", "Cat compilation", "the funniest cat videos", ["cats"], S + 1),
    (V + 3, "ready", "Dogs at the beach", "a golden retriever swims", ["dogs"], None),
    (
        V + 4,
        "ready",
        "Pasta carbonara",
        "cooking dinner in ten minutes",
        ["cooking", "food"],
        S + 2,
    ),
    (V + 5, "processing", "Cats again", "more cats dancing", ["cats"], S + 1),
    (V + 6, "failed", "Broken cat clip", "cats", ["cats"], None),
]


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def world(stack):
    import redis

    rng = np.random.default_rng(5)
    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        seed_users(conn, [(U, "25-34", "US", "en", True), (U + 1, "18-24", "US", "en")])
        conn.execute(
            "INSERT INTO sounds (id, title) VALUES (%s, 'purr'), (%s, 'sizzle') "
            "ON CONFLICT DO NOTHING",
            (S + 1, S + 2),
        )
        seed_videos(conn, [(vid, U, st, t, d, h, s) for vid, st, t, d, h, s in CATALOG])
        # 3 clusters of 10 videos in embedding space, plus the catalog's cat videos
        centers = [_unit(rng.normal(size=128)) for _ in range(3)]
        cluster_videos = {c: [V + 100 + 10 * c + i for i in range(10)] for c in range(3)}
        seed_videos(conn, [(vid, U, "ready") for vids in cluster_videos.values() for vid in vids])
        conn.execute(
            "UPDATE videos SET status = 'processing' WHERE id = %s", (cluster_videos[0][9],)
        )
        rows = [
            (vid, _unit(centers[c] + 0.05 * rng.normal(size=128)), "test")
            for c, vids in cluster_videos.items()
            for vid in vids
        ]
        result = upsert_video_embeddings(conn, rows + [(9_999_999_998, centers[0], "test")])
        assert result.upserted == 30 and result.skipped == 1  # the unknown video is skipped
        start = dt.date(2026, 11, 1)
        upsert_creator_stats(
            conn,
            [
                (
                    start + dt.timedelta(days=d),
                    U,
                    3,
                    100 + d,
                    50,
                    10_000,
                    0.5,
                    0.1,
                    0.01,
                    0.02,
                    d,
                    10 + d,
                )
                for d in range(40)
            ],
        )
        client = redis.Redis.from_url(stack.valkey)
        clear_serving_keys(client)
        sync_ready_from_postgres(client, conn)
    settings = Settings(pointer_refresh_s=0.0, lists_shards=2)
    publish_lists(
        client,
        [
            (keys.TRENDING, [V + 3, V + 5, V + 1], [3.0, 2.0, 1.0]),
            (keys.hashtag_list("cats"), [V + 2, V + 6, V + 1], [2.0, 1.5, 1.0]),
        ],
        settings=settings,
    )
    yield cluster_videos
    clear_serving_keys(client)


@pytest.fixture(scope="module")
def api(world):
    with TestClient(create_app(Settings(pointer_refresh_s=0.0))) as client:
        yield client


def test_video_metadata(api):
    body = api.get(f"/v1/videos/{V + 1}").json()
    assert body["id"] == V + 1 and body["status"] == "ready" and body["creator_id"] == U
    assert body["hashtags"] == ["cats", "funny"] and body["sound_id"] == S + 1
    assert body["counts"]["live"] is True
    assert api.get(f"/v1/videos/{V + 5}").json()["status"] == "processing"
    r = api.get(f"/v1/videos/{V + 999}")
    assert r.status_code == 404 and r.json()["error"] == "video_not_found"


def test_similar_videos_come_from_the_same_cluster_and_are_ready(api, world):
    cluster = world
    r = api.get(f"/v1/videos/{cluster[1][0]}/similar", params={"limit": 9})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["video_id"] for i in items] != []
    assert {i["video_id"] for i in items} == set(cluster[1][1:])
    assert all(a["distance"] <= b["distance"] for a, b in zip(items, items[1:], strict=False))
    # a processing neighbour is never suggested
    near0 = {
        i["video_id"]
        for i in api.get(f"/v1/videos/{cluster[0][0]}/similar", params={"limit": 20}).json()[
            "items"
        ]
    }
    assert cluster[0][9] not in near0 and set(cluster[0][1:9]) <= near0
    assert api.get(f"/v1/videos/{V + 1}/similar").status_code == 404  # no embedding


def test_similar_uses_the_hnsw_index(stack, world):
    from serving_api.routers.videos import SIMILAR_SQL

    cluster = world
    with psycopg.connect(stack.postgres) as conn:
        conn.execute("SET enable_seqscan = off")
        vec = conn.execute(
            "SELECT embedding::text FROM video_embeddings WHERE video_id = %s", (cluster[1][0],)
        ).fetchone()[0]
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN " + SIMILAR_SQL, {"q": vec, "id": cluster[1][0], "fetch": 50, "limit": 10}
            )
        )
    assert "idx_video_embeddings_hnsw" in plan


def test_search_is_sensible(api):
    def ids(q, **params):
        r = api.get("/v1/search", params={"q": q, **params})
        assert r.status_code == 200, r.text
        return [i["video_id"] for i in r.json()["items"]]

    cats = ids("cats")
    assert set(cats) == {V + 1, V + 2}  # not the processing or failed cat videos
    assert ids("dancing cat")[:1] == [V + 1]  # stemmed description match
    assert ids("#cooking") == [V + 4]
    assert ids("carbonara") == [V + 4]
    assert ids("cats -funny") == [V + 2]
    assert ids("zebra") == []
    page = api.get("/v1/search", params={"q": "cats", "limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    nxt = api.get("/v1/search", params={"q": "cats", "limit": 1, "cursor": page["next_cursor"]})
    assert {page["items"][0]["video_id"], nxt.json()["items"][0]["video_id"]} == {V + 1, V + 2}
    assert api.get("/v1/search", params={"q": ""}).status_code == 422


def test_trending_and_hashtag_lists_serve_ready_videos_only(api):
    t = api.get("/v1/trending").json()
    assert t["source"] == "published" and [i["video_id"] for i in t["items"]] == [V + 3, V + 1]
    h = api.get("/v1/hashtags/%23Cats/videos").json()
    assert h["name"] == "hashtag:cats" and [i["video_id"] for i in h["items"]] == [V + 2, V + 1]
    # a hashtag without a published list falls back to Postgres (ready videos only)
    h = api.get("/v1/hashtags/dogs/videos").json()
    assert h["source"] == "postgres" and [i["video_id"] for i in h["items"]] == [V + 3]
    s = api.get(f"/v1/sounds/{S + 1}/videos", params={"limit": 1}).json()
    assert s["source"] == "postgres" and len(s["items"]) == 1 and s["next_cursor"]
    s2 = api.get(f"/v1/sounds/{S + 1}/videos", params={"limit": 1, "cursor": s["next_cursor"]})
    both = {s["items"][0]["video_id"], s2.json()["items"][0]["video_id"]}
    assert both == {V + 1, V + 2} and s2.json()["next_cursor"] is None


def test_creator_analytics(api):
    body = api.get(f"/v1/creators/{U}/analytics", params={"days": 7}).json()
    assert [d["date"] for d in body["days"]] == [f"2026-12-{d:02d}" for d in range(4, 11)]
    assert body["totals"]["views"] == sum(100 + d for d in range(33, 40))
    assert body["totals"]["followers_total"] == 49
    assert api.get(f"/v1/creators/{U + 1}/analytics").json()["days"] == []  # no stats yet
    assert api.get(f"/v1/creators/{U + 999}/analytics").status_code == 404


def test_upload_is_stored_recorded_processing_and_handed_over(api, stack, settings):
    r = api.post(
        "/v1/videos",
        headers=KEY,
        data={"creator_id": U, "title": "My clip", "hashtags": "#Fun, skate"},
        files={"file": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(2000), "video/mp4")},
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "processing" and body["video_id"] > 0
    assert body["queue"] == "postgres:upload_jobs" and body["job_state"] == "queued"
    video = api.get(f"/v1/videos/{body['video_id']}").json()
    assert video["status"] == "processing" and video["hashtags"] == ["fun", "skate"]
    assert video["title"] == "My clip" and video["media"]["job"]["state"] == "queued"
    with psycopg.connect(stack.postgres) as conn:
        uri = conn.execute(
            "SELECT original_uri FROM upload_jobs WHERE video_id = %s", (body["video_id"],)
        ).fetchone()[0]
    assert uri.startswith("file://") and Path(uri.removeprefix("file://")).is_file()
    # processing videos are not servable
    ids = [i["video_id"] for i in api.get("/v1/search", params={"q": "clip"}).json()["items"]]
    assert body["video_id"] not in ids
    r = api.post(
        "/v1/videos",
        headers=KEY,
        data={"creator_id": U + 999},
        files={"file": ("clip.mp4", b"abc", "video/mp4")},
    )
    assert r.status_code == 422
    r = api.post(
        "/v1/videos",
        headers=KEY,
        data={"creator_id": U},
        files={"file": ("clip.mp4", b"", "video/mp4")},
    )
    assert r.status_code == 422
    r = api.post(
        "/v1/videos",
        headers=KEY,
        data={"creator_id": U, "sound_id": S + 999},
        files={"file": ("clip.mp4", b"abc", "video/mp4")},
    )
    assert r.status_code == 422 and "sound" in r.json()["detail"]


def test_an_upload_over_the_limit_is_413(stack):
    with TestClient(create_app(Settings(upload_max_bytes=100))) as client:
        r = client.post(
            "/v1/videos",
            headers=KEY,
            data={"creator_id": U},
            files={"file": ("big.mp4", bytes(1000), "video/mp4")},
        )
    assert r.status_code == 413 and r.json()["error"] == "upload_too_large"


def test_health_readiness_metrics_and_docs(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"valkey": "ok", "postgres": "ok"}}
    metrics = api.get("/metrics").text
    assert 'fyp_api_requests_total{method="GET",route="/healthz",status="200"}' in metrics
    spec = api.get("/openapi.json").json()
    assert "EventIn" in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = op["responses"].get("200") or op["responses"].get("202")
            assert ok and "schema" in ok["content"]["application/json"], (method, path)
    assert api.get("/docs").status_code == 200
