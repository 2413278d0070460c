"""Viewer sessions (POST /v1/sessions): a token that posts one user's events, and only them;
the web page and local media served by the API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_api_events import landed

from fyplake.config import Settings
from fyplake.ids import PLATFORM_ID_BASE
from serving_api import session as sessions
from serving_api.app import create_app
from serving_api.routers.web import STATIC_DIR, media_path

U, V = 5_400_000, 5_500_000
API_KEY = "fyp-dev-key"


# --- tokens, pure ------------------------------------------------------------------------------


def test_a_token_proves_its_user_until_it_expires():
    found = sessions.issue(U, now=1000, ttl_s=60)
    token = sessions.encode(API_KEY, found)
    assert sessions.decode(API_KEY, token, now=1059) == sessions.Session(U, 1060)
    assert sessions.decode(API_KEY, token, now=1060) is None  # expired
    assert sessions.decode("another-key", token, now=1000) is None  # key rotated: revoked


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(f".{U}.", f".{U + 1}."),  # another user
        lambda t: t.replace(".1060.", ".9999999999."),  # a later expiry
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the signature
        lambda t: "v2" + t[2:],
        lambda t: t + ".x",
        lambda t: t.replace(f".{U}.", ".+5400000."),
        lambda t: "",
        lambda t: t + "A" * 200,
    ],
)
def test_a_tampered_token_proves_nothing(tamper):
    token = sessions.encode(API_KEY, sessions.issue(U, now=1000, ttl_s=60))
    assert sessions.decode(API_KEY, token, now=1000) is not None
    assert sessions.decode(API_KEY, tamper(token), now=1000) is None


def test_bearer_header_parsing():
    assert sessions.bearer(b"Bearer abc.def") == "abc.def"
    assert sessions.bearer("bearer  abc ") == "abc"
    assert sessions.bearer(b"Basic abc") is None
    assert sessions.bearer(b"Bearer") is None
    assert sessions.bearer(b"\xff\xfe") is None
    assert sessions.bearer(None) is None


def test_media_keys_outside_the_public_tree_are_not_files(tmp_path):
    (tmp_path / "videos" / "1").mkdir(parents=True)
    (tmp_path / "videos" / "1" / "seg.ts").write_bytes(b"x")
    (tmp_path / "originals" / "1").mkdir(parents=True)
    (tmp_path / "originals" / "1" / "source.mp4").write_bytes(b"x")
    assert media_path(tmp_path, "videos/1/seg.ts") == tmp_path / "videos" / "1" / "seg.ts"
    for key in ("originals/1/source.mp4", "videos/../originals/1/source.mp4", "videos//1", ""):
        assert media_path(tmp_path, key) is None, key
    assert media_path(tmp_path, "videos/1/missing.ts") is None


# --- through the app ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(stack):
    with TestClient(create_app(Settings())) as client:
        yield client


def _session(api, **body) -> dict:
    res = api.post("/v1/sessions", json=body)
    assert res.status_code == 200, res.text
    return res.json()


def _watch(user_id: int, **extra) -> dict:
    return {
        "event_id": f"s-{uuid.uuid4().hex}",
        "event_type": "watch",
        "user_id": user_id,
        "video_id": V,
        "watch_ms": 2500,
        **extra,
    }


def test_a_session_posts_its_own_users_events_only(api, settings):
    token = _session(api, user_id=U)["token"]
    auth = {"Authorization": f"Bearer {token}"}
    mine, theirs = _watch(U, ttff_ms=87), _watch(U + 1)
    res = api.post("/v1/events", json={"events": [mine, theirs]}, headers=auth)
    assert res.status_code == 202, res.text
    body = res.json()
    assert body["event_ids"] == [mine["event_id"]]
    assert body["rejected"] == [
        {"index": 1, "event_id": theirs["event_id"], "error": "user_id is not the session's user"}
    ]
    (rec,) = landed(settings, {mine["event_id"], theirs["event_id"]})
    assert rec["user_id"] == U and rec["watch_ms"] == 2500 and rec["ttff_ms"] == 87
    # only another user's events: nothing accepted
    res = api.post("/v1/events", json={"events": [_watch(U + 1)]}, headers=auth)
    assert res.status_code == 422
    assert res.json()["error"] == "all_events_rejected"


def test_without_a_valid_key_or_session_events_are_refused_before_the_body(api):
    forged = sessions.encode("not-the-key", sessions.issue(U))
    for headers in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": "Bearer x"}):
        res = api.post("/v1/events", content=b"{not json", headers=headers)
        assert res.status_code == 401, headers
        assert res.json()["error"] == "invalid_api_key"
    # the session only opens the events route: uploads still need the admin key
    token = _session(api, user_id=U)["token"]
    res = api.post("/v1/videos", headers={"Authorization": f"Bearer {token}"}, content=b"x")
    assert res.status_code == 401
    # the admin key still writes for anyone
    res = api.post("/v1/events", json={"events": [_watch(U + 7)]}, headers={"X-API-Key": API_KEY})
    assert res.status_code == 202


def test_ttff_is_for_watch_and_skip_only(api):
    token = _session(api, user_id=U)["token"]
    like = {"event_type": "like", "user_id": U, "video_id": V, "ttff_ms": 5}
    res = api.post(
        "/v1/events", json={"events": [like]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert res.status_code == 422
    assert "ttff_ms is only allowed" in res.json()["rejected"][0]["error"]


def test_a_new_viewer_gets_a_platform_id_and_a_landed_user_record(api, settings):
    who = {"age_band": "25-34", "country": "BR", "language": "pt"}
    out = _session(api, new_user=who)
    assert out["new_user"] is True and out["user_id"] >= PLATFORM_ID_BASE
    records = [
        json.loads(line)
        for path in (Path(settings.lake) / "landing" / "users").rglob("api-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    (rec,) = [r for r in records if r["user_id"] == out["user_id"]]
    assert {k: rec[k] for k in who} == who and rec["source"] == "api"
    # its token works for its events, and its cold-start feed answers
    res = api.post(
        "/v1/events",
        json={"events": [_watch(out["user_id"])]},
        headers={"Authorization": f"Bearer {out['token']}"},
    )
    assert res.status_code == 202
    feed = api.get(f"/v1/feed/{out['user_id']}", params=who)
    assert feed.status_code == 200 and feed.json()["personalized"] is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"user_id": U, "new_user": {"age_band": "18-24", "country": "US", "language": "en"}},
        {"user_id": 0},
        {"user_id": "5"},
        {"new_user": {"age_band": "99", "country": "US", "language": "en"}},
        {"new_user": {"age_band": "18-24", "country": "usa", "language": "en"}},
        {"user_id": U, "admin": True},
    ],
)
def test_bad_session_requests_are_422(api, body):
    res = api.post("/v1/sessions", json=body)
    assert res.status_code == 422, res.text


def test_the_page_and_local_media_are_served(api, settings):
    page = api.get("/", follow_redirects=True)
    assert page.status_code == 200 and 'src="feed.js"' in page.text
    js = api.get("/web/feed.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "X-API-Key" not in (STATIC_DIR / "feed.js").read_text()  # no admin key in the page
    root = Path(settings.media)
    key = f"videos/{V}/0123456789abcdef/hls/360p/seg_00000.ts"
    (root / key).parent.mkdir(parents=True, exist_ok=True)
    (root / key).write_bytes(b"\x47" * 376)
    (root / "originals" / "9").mkdir(parents=True, exist_ok=True)
    (root / "originals" / "9" / "source.mp4").write_bytes(b"secret")
    res = api.get(f"/media/{key}")
    assert res.status_code == 200 and res.content == b"\x47" * 376
    assert res.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert res.headers["content-type"] == "video/mp2t"
    ranged = api.get(f"/media/{key}", headers={"Range": "bytes=0-187"})
    assert ranged.status_code == 206 and len(ranged.content) == 188
    assert api.get("/media/originals/9/source.mp4").status_code == 404
    assert api.get(f"/media/videos/{V}/missing.ts").status_code == 404
