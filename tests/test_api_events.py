"""POST /v1/events: per-event validation, durable landing before 202, counters, API key."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fyplake import keys
from fyplake.config import Settings
from fyplake.serving.testing import ScratchValkey, clear_serving_keys
from serving_api.app import create_app

KEY = {"X-API-Key": "fyp-dev-key"}
U, V = 5_200_000, 5_300_000


@pytest.fixture(scope="module")
def api(stack):
    with TestClient(create_app(Settings())) as client:
        yield client


@pytest.fixture
def vk(valkey):
    clear_serving_keys(valkey)
    yield valkey
    clear_serving_keys(valkey)


def landed(settings: Settings, event_ids: set[str]) -> list[dict]:
    """Landing records (producer api) with these event ids."""
    root = Path(settings.lake) / "landing" / "events"
    out = []
    for path in root.rglob("api-*.jsonl"):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec["event_id"] in event_ids:
                out.append(rec)
    return out


def test_valid_events_land_durably_and_bad_ones_are_named(api, vk, settings):
    eid = f"client-{uuid.uuid4().hex}"
    events = [
        {"event_id": eid, "event_type": "watch", "user_id": U, "video_id": V, "watch_ms": 4200,
         "event_time": "2026-11-20T10:00:00Z"},
        {"event_type": "watch", "user_id": U, "video_id": V},  # no watch_ms
        {"event_type": "follow", "user_id": U, "creator_id": U + 1},
        {"event_type": "dance", "user_id": U, "video_id": V},
        {"event_type": "like", "user_id": "abc", "video_id": V},
        {"event_type": "comment", "user_id": U, "video_id": V, "comment_text": "nice"},
        {"event_type": "share", "user_id": U, "video_id": V, "watch_ms": 5},
        {"event_type": "like", "user_id": U, "video_id": V, "extra": 1},
        "not an object",
        {"event_id": eid, "event_type": "like", "user_id": U, "video_id": V},  # repeated id
        {"event_type": "skip", "user_id": U, "video_id": V, "watch_ms": 100,
         "event_time": "2099-01-01T00:00:00Z"},
    ]
    r = api.post("/v1/events", headers=KEY, json={"events": events})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 3 and body["counters_updated"] is True
    assert body["event_ids"][0] == eid
    errors = {rej["index"]: rej["error"] for rej in body["rejected"]}
    assert set(errors) == {1, 3, 4, 6, 7, 8, 9, 10}
    assert "watch events need watch_ms" in errors[1]
    assert errors[3].startswith("event_type:")
    assert errors[4].startswith("user_id:")
    assert "watch_ms is only allowed" in errors[6]
    assert "extra" in errors[7]
    assert "JSON object" in errors[8]
    assert "repeated" in errors[9]
    assert "future" in errors[10]

    # the 202 came after the records were in the landing zone
    records = {r["event_id"]: r for r in landed(settings, set(body["event_ids"]))}
    assert set(records) == set(body["event_ids"])
    watch = records[eid]
    assert watch == {"event_id": eid, "event_type": "watch", "user_id": U, "video_id": V,
                     "creator_id": None, "watch_ms": 4200,
                     "event_time": "2026-11-20T10:00:00.000Z", "source": "api",
                     "comment_text": None}
    follow = next(r for r in records.values() if r["event_type"] == "follow")
    assert follow["creator_id"] == U + 1 and follow["video_id"] is None
    assert follow["event_time"].endswith("Z")

    # counters and the seen set were updated
    assert vk.hget(keys.COUNTERS_LIVE, keys.counter_field(V, "views")) == b"1"
    assert vk.hget(keys.COUNTERS_LIVE, keys.counter_field(V, "comments")) == b"1"
    assert vk.zscore(keys.seen(U), str(V)) is not None


def test_all_invalid_is_422_and_nothing_lands(api, vk, settings):
    eid = f"bad-{uuid.uuid4().hex}"
    r = api.post("/v1/events", headers=KEY, json={"events": [
        {"event_id": eid, "event_type": "watch", "user_id": U}]})
    assert r.status_code == 422
    assert r.json()["error"] == "all_events_rejected"
    assert r.json()["rejected"][0]["index"] == 0 and r.json()["rejected"][0]["event_id"] == eid
    assert landed(settings, {eid}) == []
    assert api.post("/v1/events", headers=KEY, json={"events": []}).status_code == 422
    assert api.post("/v1/events", headers=KEY, json=[{"event_type": "like"}]).status_code == 422


def test_a_retry_with_the_same_ids_counts_once(api, vk):
    batch = {"events": [{"event_id": f"retry-{uuid.uuid4().hex}", "event_type": "watch",
                         "user_id": U, "video_id": V + 1, "watch_ms": 1000}]}
    for _ in range(3):
        assert api.post("/v1/events", headers=KEY, json=batch).status_code == 202
    assert vk.hget(keys.COUNTERS_LIVE, keys.counter_field(V + 1, "views")) == b"1"


def test_write_endpoints_need_the_api_key_reads_do_not(api, vk):
    batch = {"events": [{"event_type": "like", "user_id": U, "video_id": V}]}
    for headers in ({}, {"X-API-Key": "wrong"}):
        r = api.post("/v1/events", headers=headers, json=batch)
        assert r.status_code == 401 and r.json()["error"] == "invalid_api_key"
        r = api.post("/v1/videos", headers=headers, data={"creator_id": U},
                     files={"file": ("a.mp4", b"x", "video/mp4")})
        assert r.status_code == 401
    assert api.get(f"/v1/feed/{U}").status_code == 200
    assert api.get("/v1/trending").status_code == 200


def test_too_many_events_is_413(stack):
    with TestClient(create_app(Settings(event_batch_max=2))) as client:
        events = [{"event_type": "like", "user_id": U, "video_id": V}] * 3
        r = client.post("/v1/events", headers=KEY, json={"events": events})
        assert r.status_code == 413 and r.json()["error"] == "too_many_events"


def test_an_unwritable_landing_zone_accepts_nothing(api, vk, monkeypatch):
    import serving_api.routers.events as events_router

    def broken(records, settings=None):
        raise OSError("disk full")

    monkeypatch.setattr(events_router, "append_events", broken)
    r = api.post("/v1/events", headers=KEY, json={"events": [
        {"event_type": "like", "user_id": U, "video_id": V + 2}]})
    assert r.status_code == 503 and r.json()["error"] == "landing_unavailable"
    assert vk.hget(keys.COUNTERS_LIVE, keys.counter_field(V + 2, "likes")) is None


def test_events_are_accepted_and_landed_while_valkey_is_down(stack, settings):
    scratch = ScratchValkey()  # never started: Valkey is down for this API
    with TestClient(create_app(Settings(valkey_url=scratch.url, valkey_timeout_s=0.2))) as c:
        eid = f"down-{uuid.uuid4().hex}"
        r = c.post("/v1/events", headers=KEY, json={"events": [
            {"event_id": eid, "event_type": "watch", "user_id": U, "video_id": V,
             "watch_ms": 10}]})
        assert r.status_code == 202, r.text
        assert r.json()["counters_updated"] is False
        assert [rec["event_id"] for rec in landed(settings, {eid})] == [eid]
