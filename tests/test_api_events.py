"""POST /v1/events: per-event validation, durable landing before 202, counters, API key."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fyplake import keys
from fyplake.config import Settings
from fyplake.serving.testing import clear_serving_keys
from infra.scratch import ScratchValkey
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


def _api_records(settings: Settings) -> Iterator[tuple[Path, dict]]:
    """(file, record) for every landing record of producer api."""
    for path in (Path(settings.lake) / "landing" / "events").rglob("api-*.jsonl"):
        for line in path.read_text().splitlines():
            yield path, json.loads(line)


def landed(settings: Settings, event_ids: set[str]) -> list[dict]:
    """Landing records (producer api) with these event ids."""
    return [rec for _, rec in _api_records(settings) if rec["event_id"] in event_ids]


def landed_files(settings: Settings, event_ids: set[str]) -> dict[Path, list[str]]:
    """Landing files (producer api) holding any of these event ids -> their ids among them."""
    out: dict[Path, list[str]] = {}
    for path, rec in _api_records(settings):
        if rec["event_id"] in event_ids:
            out.setdefault(path, []).append(rec["event_id"])
    return out


def test_valid_events_land_durably_and_bad_ones_are_named(api, vk, settings):
    eid = f"client-{uuid.uuid4().hex}"
    events = [
        {
            "event_id": eid,
            "event_type": "watch",
            "user_id": U,
            "video_id": V,
            "watch_ms": 4200,
            "event_time": "2026-11-20T10:00:00Z",
        },
        {"event_type": "watch", "user_id": U, "video_id": V},  # no watch_ms
        {"event_type": "follow", "user_id": U, "creator_id": U + 1},
        {"event_type": "dance", "user_id": U, "video_id": V},
        {"event_type": "like", "user_id": "abc", "video_id": V},
        {"event_type": "comment", "user_id": U, "video_id": V, "comment_text": "nice"},
        {"event_type": "share", "user_id": U, "video_id": V, "watch_ms": 5},
        {"event_type": "like", "user_id": U, "video_id": V, "extra": 1},
        "not an object",
        {"event_id": eid, "event_type": "like", "user_id": U, "video_id": V},  # repeated id
        {
            "event_type": "skip",
            "user_id": U,
            "video_id": V,
            "watch_ms": 100,
            "event_time": "2099-01-01T00:00:00Z",
        },
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
    assert watch == {
        "event_id": eid,
        "event_type": "watch",
        "user_id": U,
        "video_id": V,
        "creator_id": None,
        "watch_ms": 4200,
        "event_time": "2026-11-20T10:00:00.000Z",
        "source": "api",
        "comment_text": None,
    }
    follow = next(r for r in records.values() if r["event_type"] == "follow")
    assert follow["creator_id"] == U + 1 and follow["video_id"] is None
    assert follow["event_time"].endswith("Z")

    # counters and the seen set were updated
    assert vk.hget(keys.COUNTERS_LIVE, keys.counter_field(V, "views")) == b"1"
    assert vk.hget(keys.COUNTERS_LIVE, keys.counter_field(V, "comments")) == b"1"
    assert vk.zscore(keys.seen(U), str(V)) is not None


def test_all_invalid_is_422_and_nothing_lands(api, vk, settings):
    eid = f"bad-{uuid.uuid4().hex}"
    r = api.post(
        "/v1/events",
        headers=KEY,
        json={"events": [{"event_id": eid, "event_type": "watch", "user_id": U}]},
    )
    assert r.status_code == 422
    assert r.json()["error"] == "all_events_rejected"
    assert r.json()["rejected"][0]["index"] == 0 and r.json()["rejected"][0]["event_id"] == eid
    assert landed(settings, {eid}) == []
    assert api.post("/v1/events", headers=KEY, json={"events": []}).status_code == 422
    assert api.post("/v1/events", headers=KEY, json=[{"event_type": "like"}]).status_code == 422


def test_a_retry_with_the_same_ids_counts_once(api, vk):
    batch = {
        "events": [
            {
                "event_id": f"retry-{uuid.uuid4().hex}",
                "event_type": "watch",
                "user_id": U,
                "video_id": V + 1,
                "watch_ms": 1000,
            }
        ]
    }
    for _ in range(3):
        assert api.post("/v1/events", headers=KEY, json=batch).status_code == 202
    assert vk.hget(keys.COUNTERS_LIVE, keys.counter_field(V + 1, "views")) == b"1"


def test_write_endpoints_need_the_api_key_reads_do_not(api, vk):
    batch = {"events": [{"event_type": "like", "user_id": U, "video_id": V}]}
    for headers in ({}, {"X-API-Key": "wrong"}):
        r = api.post("/v1/events", headers=headers, json=batch)
        assert r.status_code == 401 and r.json()["error"] == "invalid_api_key"
        r = api.post(
            "/v1/videos",
            headers=headers,
            data={"creator_id": U},
            files={"file": ("a.mp4", b"x", "video/mp4")},
        )
        assert r.status_code == 401
    assert api.get(f"/v1/feed/{U}").status_code == 200
    assert api.get("/v1/trending").status_code == 200


def test_too_many_events_is_413(stack):
    with TestClient(create_app(Settings(event_batch_max=2))) as client:
        events = [{"event_type": "like", "user_id": U, "video_id": V}] * 3
        r = client.post("/v1/events", headers=KEY, json={"events": events})
        assert r.status_code == 413 and r.json()["error"] == "too_many_events"


def _post_concurrently(client: TestClient, bodies: list[dict], clients: int = 32) -> list:
    """POST every body, ``clients`` requests in flight at a time (the app serves them on its
    one event loop, as a worker process does)."""
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(lambda b: client.post("/v1/events", headers=KEY, json=b), bodies))


def _watches(tag: str, requests: int, per_request: int, video_id: int) -> list[dict]:
    return [
        {
            "events": [
                {
                    "event_id": f"{tag}-{i}-{j}",
                    "event_type": "watch",
                    "user_id": U,
                    "video_id": video_id,
                    "watch_ms": 100,
                }
                for j in range(per_request)
            ]
        }
        for i in range(requests)
    ]


def test_concurrent_requests_share_landing_files_and_each_accepted_event_lands_once(
    stack, vk, settings
):
    tag = f"gc-{uuid.uuid4().hex}"
    bodies = _watches(tag, 240, 3, V + 10)
    with TestClient(create_app(Settings(event_commit_window_ms=50))) as client:
        responses = _post_concurrently(client, bodies)
    assert {r.status_code for r in responses} == {202}
    accepted = [eid for r in responses for eid in r.json()["event_ids"]]
    assert len(accepted) == len(set(accepted)) == 720
    files = landed_files(settings, set(accepted))
    assert sorted(eid for ids in files.values() for eid in ids) == sorted(accepted)  # once each
    assert len(files) <= len(bodies) // 4  # requests shared files (one each before)
    assert vk.hget(keys.COUNTERS_LIVE, keys.counter_field(V + 10, "views")) == b"720"


def test_a_failed_landing_write_fails_its_whole_group_and_lands_nothing(stack, vk, tmp_path):
    lake = tmp_path / "lake"
    blocked = lake / "landing" / "events"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the events folder belongs: every write fails")
    tag = f"fail-{uuid.uuid4().hex}"
    app = create_app(Settings(lake=str(lake), event_commit_window_ms=50))
    with TestClient(app) as client:
        responses = _post_concurrently(client, _watches(tag, 40, 2, V + 2))
        assert {r.status_code for r in responses} == {503}
        assert {r.json()["error"] for r in responses} == {"landing_unavailable"}
        assert vk.hget(keys.COUNTERS_LIVE, keys.counter_field(V + 2, "views")) is None
        blocked.unlink()  # writable again: the next request is accepted
        ok = client.post("/v1/events", headers=KEY, json=_watches(f"{tag}-ok", 1, 1, V + 2)[0])
        assert ok.status_code == 202
    landed_ids = [
        json.loads(line)["event_id"]
        for f in (lake / "landing").rglob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert landed_ids == [f"{tag}-ok-0-0"]
    assert not [p for p in (lake / "landing").rglob(".*")]  # no temp file left behind


def test_events_are_accepted_and_landed_while_valkey_is_down(stack, settings):
    scratch = ScratchValkey()  # never started: Valkey is down for this API
    with TestClient(create_app(Settings(valkey_url=scratch.url, valkey_timeout_s=0.2))) as c:
        eid = f"down-{uuid.uuid4().hex}"
        r = c.post(
            "/v1/events",
            headers=KEY,
            json={
                "events": [
                    {
                        "event_id": eid,
                        "event_type": "watch",
                        "user_id": U,
                        "video_id": V,
                        "watch_ms": 10,
                    }
                ]
            },
        )
        assert r.status_code == 202, r.text
        assert r.json()["counters_updated"] is False
        assert [rec["event_id"] for rec in landed(settings, {eid})] == [eid]


def _split_table() -> list[list[str]]:
    """The rows (case, API, lake) of the README's table of what the API refuses and what the
    lake quarantines."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows: list[list[str]] = []
    start = text.find("**What the API refuses, what the lake quarantines.**")
    assert start >= 0, "the README has no table of what the API refuses vs the lake quarantines"
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # past the header and its rule


def _would_be_quarantined(eid: str) -> dict[str, list]:
    """Per quarantine reason an event can have: the events a client would post (one request
    each; the last one's answer counts) that the lake would quarantine with it."""
    watch = {"event_type": "watch", "user_id": U, "video_id": V + 20, "watch_ms": 1000}
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    return {
        "unparseable_json": ["not an object"],
        "missing_field": [{"event_type": "like", "video_id": V + 20}],
        "unknown_event_type": [{"event_type": "poke", "user_id": U, "video_id": V + 20}],
        "mistyped_field": [{**watch, "user_id": "abc"}],
        "negative_watch_ms": [{**watch, "watch_ms": -1}],
        "future_event_time": [{**watch, "event_time": tomorrow.isoformat()}],
        "unknown_user": [{**watch, "user_id": 2**52}],
        "unknown_video": [{**watch, "video_id": 2**52}],
        "unknown_creator": [{"event_type": "follow", "user_id": U, "creator_id": 2**52}],
        "absurd_watch_ms": [{**watch, "watch_ms": 5 * 3600 * 1000}],
        "duplicate_event": [{**watch, "event_id": eid}, {**watch, "event_id": eid}],
    }


def test_one_readme_table_says_what_the_api_refuses_and_what_the_lake_quarantines(api, vk):
    """Every quarantine reason code is in exactly one row, and the API's verdict the row states
    (refused / accepted / n/a: the API lands no such record) is what the live API answers."""
    from jobs.lake.reasons import REASONS

    verdicts: dict[str, str] = {}
    for _case, api_cell, lake_cell in _split_table():
        verdict = api_cell.split()[0].rstrip(":;,")
        assert verdict in {"refused", "accepted", "n/a"}, api_cell
        for code in re.findall(r"`([a-z_]+)`", lake_cell):
            assert code not in verdicts, f"{code} is in two rows"
            verdicts[code] = verdict
    assert set(verdicts) == set(REASONS)
    examples = _would_be_quarantined(f"dup-{uuid.uuid4().hex}")
    for code, verdict in verdicts.items():
        if verdict == "n/a":
            assert code not in examples, f"{code}: the API does land such events"
            continue
        for event in examples[code]:
            r = api.post("/v1/events", headers=KEY, json={"events": [event]})
        assert r.status_code == {"refused": 422, "accepted": 202}[verdict], (code, r.text)
