"""What outside testing broke (issue 12): NUL bytes, crafted cursors, 500s that dropped the
keep-alive connection, work done before limits, health output naming addresses. Real Postgres,
Valkey and, where the connection matters, a real uvicorn server."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from fyplake import keys
from fyplake.config import Settings
from fyplake.serving.publish import publish_lists
from fyplake.serving.ready import sync_ready_from_postgres
from fyplake.serving.testing import (
    clear_serving_keys,
    free_port,
    seed_users,
    seed_videos,
)
from infra.scratch import ScratchValkey
from serving_api.app import create_app

U, V, S = 6_400_000, 6_500_000, 6_600_000
KEY = {"X-API-Key": "fyp-dev-key"}
CLIP = ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(500), "video/mp4")


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    """``create_app(settings)`` under a real uvicorn server in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def world(stack):
    import redis

    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        seed_users(conn, [(U, "25-34", "US", "en", True), (U + 1, "18-24", "BR", "pt")])
        conn.execute(
            "INSERT INTO sounds (id, title) VALUES (%s, 'hum') ON CONFLICT DO NOTHING", (S + 1,)
        )
        seed_videos(
            conn,
            [
                (V + i, U, "ready", f"hard {i}", "hardening clip", ["hard", "plain"], S + 1)
                for i in range(1, 6)
            ],
        )
        client = redis.Redis.from_url(stack.valkey)
        clear_serving_keys(client)
        sync_ready_from_postgres(client, conn)
    settings = Settings(pointer_refresh_s=0.0, lists_shards=2)
    publish_lists(
        client,
        [
            (keys.TRENDING, [V + 1, V + 2, V + 3], [3.0, 2.0, 1.0]),
            (keys.hashtag_list("hard"), [V + 2, V + 1], [2.0, 1.0]),
        ],
        settings=settings,
    )
    yield settings
    clear_serving_keys(client)
    client.close()


@pytest.fixture(scope="module")
def api(world):
    with TestClient(create_app(world), raise_server_exceptions=False) as client:
        yield client


def _upload(**fields) -> dict:
    return {"headers": KEY, "data": {"creator_id": U, **fields}, "files": {"file": CLIP}}


# --- NUL bytes: refused with the documented 422, never sent to Postgres --------------------

NUL_REQUESTS = [
    ("GET", "/v1/search", {"params": {"q": "\x00"}}),
    ("GET", "/v1/search", {"params": {"q": "cats\x00dogs"}}),
    ("GET", "/v1/hashtags/a%00b/videos", {}),
    ("GET", "/v1/trending", {"params": {"cursor": "MC4w\x00"}}),
    ("GET", f"/v1/feed/{U + 1}", {"params": {"country": "B\x00"}}),
    ("POST", "/v1/videos", _upload(title="a\x00b")),
    ("POST", "/v1/videos", _upload(description="\x00")),
    ("POST", "/v1/videos", _upload(hashtags="#a\x00b")),
    ("POST", "/v1/videos", _upload(language="e\x00")),
    (
        "POST",
        "/v1/events",
        {
            "headers": KEY,
            "json": {
                "events": [
                    {
                        "event_type": "comment",
                        "user_id": U,
                        "video_id": V + 1,
                        "comment_text": "hi\x00",
                    }
                ]
            },
        },
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    NUL_REQUESTS,
    ids=[f"{m} {p} {sorted(k.get('params') or k.get('data') or k)}" for m, p, k in NUL_REQUESTS],
)
def test_a_nul_byte_in_any_text_input_is_a_422(api, method, path, kwargs):
    r = api.request(method, path, **kwargs)
    assert r.status_code == 422, r.text
    body = r.json()
    if path == "/v1/events":  # validated one by one: the event is rejected
        assert body["error"] == "all_events_rejected"
        assert "NUL" in body["rejected"][0]["error"]
    else:
        assert body["error"] == "invalid_request" and "NUL" in body["detail"]


def test_every_text_input_is_documented_as_free_of_nul(api):
    """One shared type guards text inputs; the schema says so for every one of them."""
    spec = api.get("/openapi.json").json()
    unguarded = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                schema = param["schema"]
                options = schema.get("anyOf", [schema])
                if any(
                    o.get("type") == "string" and "pattern" not in o and "enum" not in o
                    for o in options
                ):
                    unguarded.append(f"{method} {path} {param['name']}")
    for name, schema in spec["components"]["schemas"].items():
        if not (name.endswith("In") or name.startswith("Body_")):
            continue
        for prop, sub in schema.get("properties", {}).items():
            options = sub.get("anyOf", [sub])
            if any(
                o.get("type") == "string"
                and "pattern" not in o
                and "enum" not in o
                and "contentMediaType" not in o
                and o.get("format") != "date-time"
                for o in options
            ):
                unguarded.append(f"{name}.{prop}")
    assert unguarded == []


def test_a_nul_byte_in_an_upload_file_name_is_dropped(api, stack):
    boundary = "fypboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="creator_id"\r\n\r\n{U}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="my\x00clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
        ).encode()
        + CLIP[1]
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = api.post(
        "/v1/videos",
        content=body,
        headers={**KEY, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 202, r.text
    with psycopg.connect(stack.postgres) as conn:
        name = conn.execute(
            "SELECT filename FROM video_sources WHERE video_id = %s", (r.json()["video_id"],)
        ).fetchone()[0]
    assert name == "myclip.mp4"


# --- crafted cursors: 400 invalid_cursor on every paginated route --------------------------

CRAFTED = [
    "0.0.1.9223372036854775808",  # the offset that overflowed Postgres' bigint
    "0.0.1.99999999999999999999999",
    f"{2**63}.0.0.0",
    f"0.{2**64}.1.0",
    "0.0.1.+5",
    "0.0.1.5_0",
    "0.0.1. 5",
    "0.0.1.\u0665",  # an Arabic-Indic digit: int() takes it
    "0.0.1.05",
    "0.0.1",
    "0.0.2.0",
]
PAGINATED = [
    ("/v1/search", {"q": "hard"}),
    ("/v1/trending", {}),
    ("/v1/hashtags/hard/videos", {}),
    ("/v1/hashtags/plain/videos", {}),
    (f"/v1/sounds/{S + 1}/videos", {}),
    (f"/v1/feed/{U + 1}", {}),
]


@pytest.mark.parametrize("raw", CRAFTED)
def test_a_crafted_cursor_is_a_400_on_every_paginated_route(api, raw):
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    for path, params in PAGINATED:
        r = api.get(path, params={**params, "cursor": cursor})
        assert r.status_code == 400, (path, r.text)
        assert r.json()["error"] == "invalid_cursor"


def test_cursors_round_trip_up_to_their_bounds_and_not_beyond():
    from fyplake.serving.reader import CURSOR_OFFSET_MAX, CURSOR_VERSION_MAX, Cursor, CursorError

    edge = Cursor(CURSOR_VERSION_MAX - 1, CURSOR_VERSION_MAX - 1, 1, CURSOR_OFFSET_MAX - 1)
    assert Cursor.decode(edge.encode()) == edge
    for beyond in (Cursor(CURSOR_VERSION_MAX, 0, 0, 0), Cursor(0, 0, 1, CURSOR_OFFSET_MAX)):
        with pytest.raises(CursorError):
            Cursor.decode(beyond.encode())


def test_the_issue_cursor_and_cursors_the_service_made(api):
    r = api.get("/v1/search", params={"q": "hard", "cursor": "MC4wLjEuOTIyMzM3MjAzNjg1NDc3NTgwOA"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_cursor"
    for path, params in PAGINATED:  # what the service hands out it takes back
        first = api.get(path, params={**params, "limit": 1})
        assert first.status_code == 200, (path, first.text)
        nxt = first.json()["next_cursor"]
        assert nxt, path
        again = api.get(path, params={**params, "limit": 1, "cursor": nxt})
        assert again.status_code == 200, (path, again.text)


# --- an unexpected error: JSON 500, logged, and the keep-alive connection stays usable -------


def _local_port(response: httpx.Response) -> int | None:
    """The client port of the connection a response came on; None once it is closed."""
    try:
        return response.extensions["network_stream"].get_extra_info("client_addr")[1]
    except OSError:
        return None


def test_an_unexpected_error_is_a_json_500_on_a_connection_that_stays_usable(
    stack, tmp_path, caplog
):
    from fyplake.faults import InjectedFault

    settings = Settings(
        home=tmp_path, postgres_dsn=stack.postgres, valkey_url=stack.valkey, faults="api.request"
    )  # the first request fails
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        failed = client.get(f"/v1/feed/{U + 1}")
        failed_port = _local_port(failed)
        after = client.get(f"/v1/feed/{U + 1}")
        after_port = _local_port(after)
    assert failed.status_code == 500, failed.text
    assert failed.json() == {"error": "internal_error", "detail": failed.json()["detail"]}
    assert "InjectedFault" not in failed.text and "Traceback" not in failed.text
    assert "close" not in failed.headers.get("connection", "")
    assert failed_port is not None, "the server dropped the connection"
    assert after.status_code == 200 and after_port == failed_port  # the same connection
    assert any(r.exc_info and isinstance(r.exc_info[1], InjectedFault) for r in caplog.records)


# --- limits before work ---------------------------------------------------------------------


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    assert data, "the server closed the connection without an answer"
    return data


def _raw_request(base: str, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (+ ``body``) on a raw socket and read one response, without sending any
    more: (status, headers, body). A server that waits for the rest of a body times out here."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += _recv(sock)
        raw_head, _, rest = data.partition(b"\r\n\r\n")
        lines = raw_head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        while len(rest) < int(headers.get("content-length", "0")):
            rest += _recv(sock)
    return int(lines[0].split()[1]), headers, rest


@pytest.fixture(scope="module")
def server(world):
    settings = Settings(pointer_refresh_s=0.0, upload_max_bytes=1 << 20, event_batch_max=10)
    with live_server(settings) as base:
        yield base, settings


def test_a_write_without_the_key_is_refused_before_its_body_is_read(server):
    base, _ = server
    for path in ("/v1/videos", "/v1/events"):
        status, headers, body = _raw_request(
            base,
            (
                f"POST {path} HTTP/1.1\nHost: x\nContent-Type: multipart/form-data; boundary=b\n"
                "Content-Length: 104857600\n"
            ),
        )  # 100 MiB announced, none sent
        assert status == 401, body
        assert json.loads(body)["error"] == "invalid_api_key"
        assert headers["connection"] == "close"


def test_a_declared_body_over_the_route_limit_is_413_before_it_is_read(server):
    from serving_api.guard import EVENT_BYTES, SMALL_BODY_MAX

    base, settings = server
    for path, size in (
        ("/v1/videos", settings.upload_max_bytes + (1 << 20)),
        ("/v1/events", settings.event_batch_max * EVENT_BYTES + 1),
        ("/v1/elsewhere", SMALL_BODY_MAX + 1),
    ):
        status, headers, body = _raw_request(
            base,
            (
                f"POST {path} HTTP/1.1\nHost: x\nX-API-Key: fyp-dev-key\n"
                f"Content-Type: application/json\nContent-Length: {size}\n"
            ),
        )
        assert status == 413, (path, body)
        assert json.loads(body)["error"] == "body_too_large"
        assert headers["connection"] == "close"


def test_a_chunked_body_is_cut_off_at_the_route_limit(server):
    from serving_api.guard import EVENT_BYTES

    base, settings = server
    chunk = b"x" * 8192
    count = settings.event_batch_max * EVENT_BYTES // len(chunk) + 2  # just over; no last chunk
    status, headers, body = _raw_request(
        base,
        "POST /v1/events HTTP/1.1\nHost: x\nX-API-Key: fyp-dev-key\n"
        "Content-Type: application/json\nTransfer-Encoding: chunked\n",
        b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(count)),
    )
    assert status == 413, body
    assert json.loads(body)["error"] == "body_too_large" and headers["connection"] == "close"


def test_a_422_never_echoes_the_bad_input(api):
    huge = "x" * (1 << 20)
    for r in (
        api.post("/v1/events", headers=KEY, json={"events": huge}),
        api.post("/v1/events", headers=KEY, json={"events": [{"event_type": "like"}], huge: 1}),
        api.get("/v1/search", params={"q": huge[:30_000]}),
        api.get(f"/v1/feed/{huge[:30_000]}"),
    ):
        assert r.status_code == 422
        assert len(r.content) < 2048, r.content[:200]
        body = r.json()
        assert body["error"] == "invalid_request" and body["detail"]
        assert all({"loc", "msg", "type"} == set(e) for e in body["errors"])
    r = api.post(
        "/v1/events",
        headers=KEY,
        json={
            "events": [
                {"event_id": huge[:100_000], "event_type": "like", "user_id": U, "video_id": V + 1}
            ]
        },
    )
    assert r.status_code == 422 and len(r.content) < 2048


def test_not_found_and_wrong_method_have_the_error_shape(api):
    r = api.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = api.delete("/v1/trending")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert "GET" in r.headers["allow"]


# --- health output names what is down, not where it lives ----------------------------------


def test_readiness_names_what_is_down_not_where_it_lives(stack):
    valkey = ScratchValkey()  # never started
    pg_port = free_port()  # nothing listens there
    settings = Settings(
        valkey_url=valkey.url,
        valkey_timeout_s=0.2,
        postgres_dsn=f"postgresql://fyp@127.0.0.1:{pg_port}/fyp",
    )
    with TestClient(create_app(settings)) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not_ready"
    assert set(body["checks"]) == {"valkey", "postgres"}
    assert all(v.startswith("unavailable") for v in body["checks"].values()), body
    for secret in ("127.0.0.1", str(valkey.port), str(pg_port), "fyp@"):
        assert secret not in r.text
