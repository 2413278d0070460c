"""Fuzzing the live API (issue 12): schemathesis generates requests from `/openapi.json`, valid
and invalid, for every operation, against a real uvicorn server on the embedded Postgres and
Valkey with a small published world; no answer may be a 5xx, and every answer must match what
the schema documents for it (status, content type, body)."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from test_api_hardening import live_server

from fyplake import keys
from fyplake.config import Settings
from fyplake.serving.pg_publish import upsert_video_embeddings
from fyplake.serving.publish import publish_feeds, publish_lists
from fyplake.serving.ready import sync_ready_from_postgres
from fyplake.serving.testing import clear_serving_keys, seed_users, seed_videos
from serving_api.app import create_app

U, V, S = 6_700_000, 6_800_000, 6_900_000
KEY = {"X-API-Key": "fyp-dev-key"}
#: Examples per operation and generation mode: bounded so the module takes well under 2 min.
MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def world(stack):
    import redis

    videos = [V + i for i in range(1, 11)]
    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        seed_users(conn, [(U, "25-34", "US", "en", True), (U + 1, "18-24", "BR", "pt")])
        conn.execute(
            "INSERT INTO sounds (id, title) VALUES (%s, 'beat') ON CONFLICT DO NOTHING", (S + 1,)
        )
        seed_videos(
            conn, [(v, U, "ready", f"fuzz {v}", "a fuzzing clip", ["fuzz"], S + 1) for v in videos]
        )
        rng = np.random.default_rng(12)
        upsert_video_embeddings(conn, [(v, rng.normal(size=128), "test") for v in videos])
        client = redis.Redis.from_url(stack.valkey)
        clear_serving_keys(client)
        sync_ready_from_postgres(client, conn)
    settings = Settings(pointer_refresh_s=0.0, lists_shards=2, feed_shards=2)
    publish_feeds(
        client,
        [(U + 1, videos, [1.0] * len(videos), ["trending"] * len(videos))],
        settings=settings,
    )
    publish_lists(
        client,
        [
            (keys.TRENDING, videos, [1.0] * len(videos)),
            (keys.hashtag_list("fuzz"), videos[:5], [1.0] * 5),
        ],
        settings=settings,
    )
    yield settings
    clear_serving_keys(client)
    client.close()


@pytest.fixture(scope="module")
def base_url(world):
    with live_server(world) as base:
        yield base


# The documented schema, as the app builds it (the server serves the same); loaded at import
# because schemathesis' fixture-based loader does not run under this pytest.
schema = schemathesis.openapi.from_dict(
    create_app(Settings()).openapi(),
    config=schemathesis.Config.from_dict(
        {
            "headers": KEY,  # reads ignore it, writes need it
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    ),
)


#: A request per operation on the published world (random ids rarely land on it), run in the
#: examples phase before the generated ones.
ON_THE_WORLD = {
    ("GET", "/v1/feed/{user_id}"): {"path_parameters": {"user_id": U + 1}, "query": {"limit": 3}},
    ("GET", "/v1/videos/{video_id}"): {"path_parameters": {"video_id": V + 1}},
    ("GET", "/v1/videos/{video_id}/similar"): {"path_parameters": {"video_id": V + 1}},
    ("GET", "/v1/trending"): {"query": {"limit": 2}},
    ("GET", "/v1/hashtags/{tag}/videos"): {"path_parameters": {"tag": "fuzz"}},
    ("GET", "/v1/sounds/{sound_id}/videos"): {"path_parameters": {"sound_id": S + 1}},
    ("GET", "/v1/search"): {"query": {"q": "fuzz -nothing", "limit": 2}},
    ("GET", "/v1/creators/{creator_id}/analytics"): {"path_parameters": {"creator_id": U}},
    ("POST", "/v1/events"): {
        "media_type": "application/json",
        "body": {
            "events": [
                {"event_type": "watch", "user_id": U + 1, "video_id": V + 2, "watch_ms": 1200},
                {
                    "event_type": "comment",
                    "user_id": U + 1,
                    "video_id": V + 2,
                    "comment_text": "ok",
                },
            ]
        },
    },
    ("POST", "/v1/videos"): {
        "media_type": "multipart/form-data",
        "body": {
            "file": b"\x00\x00\x00\x18ftypmp42" + bytes(100),
            "creator_id": U,
            "title": "fuzz",
            "hashtags": "#fuzz",
        },
    },
}


@schema.hook("before_add_examples")
def _on_the_world(context, examples) -> None:  # noqa: ANN001 - schemathesis hook
    op = context.operation
    fixed = ON_THE_WORLD.get((op.method.upper(), op.path))
    if fixed:
        examples.append(op.Case(headers=dict(KEY), **fixed))


@schema.parametrize()
def test_no_5xx_and_answers_match_the_schema(case, base_url):
    case.call_and_validate(base_url=base_url, checks=CHECKS)
