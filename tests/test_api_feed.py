"""GET /v1/feed against the embedded Postgres + Valkey: pages, seen, ready, top-up, cold start."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from fyplake import keys
from fyplake.catalog import feed_display_score
from fyplake.config import Settings
from fyplake.serving.publish import publish_feeds, publish_lists
from fyplake.serving.ready import mark_not_ready, mark_ready, sync_ready_from_postgres
from fyplake.serving.testing import clear_serving_keys, seed_users, seed_videos
from fyplake.serving.versions import VersionedStore
from infra.scratch import ScratchValkey
from serving_api.app import create_app

U = 5_000_000  # user ids of this module
V = 5_100_000  # video ids of this module
KEY = {"X-API-Key": "fyp-dev-key"}

FEEDS = {
    U + 1: [V + i for i in range(1, 24)],  # 23 ready videos: pagination
    U + 2: [V + i for i in range(30, 40)],  # seen filtering
    U + 3: [V + 50, V + 201, V + 51, V + 202, V + 52],  # 201/202 are processing
    U + 4: [V + 60, V + 61, V + 62],  # short feed: top-up
    U + 7: [2**40 + 1, 2**40 + 2, 2**40 + 3],  # ids that need 64 bits
}
POOL_SEGMENT = [V + 100 + i for i in range(6)]  # coldstart:18-24:BR:pt
POOL_GLOBAL = [V + 120 + i for i in range(4)]  # coldstart:*:*:*
DIVERSE = [V + 160 + i for i in range(4)]  # the exploration list
P, G, D = POOL_SEGMENT, POOL_GLOBAL, DIVERSE
# the design's cold-start mix: popular and diverse interleaved 70/30, largest deficit first
MIX_SEGMENT = [P[0], D[0], P[1], P[2], P[3], D[1], P[4], P[5], D[2], D[3]]
MIX_GLOBAL = [G[0], D[0], G[1], G[2], G[3], D[1], D[2], D[3]]
# trending overlaps U+4's feed (V+60) and holds a processing video (V+203)
TRENDING = [V + 140 + i for i in range(5)] + [V + 60, V + 203]


def _settings() -> Settings:
    return Settings(feed_shards=4, lists_shards=2, pointer_refresh_s=0.0, feed_page_size=5)


def _publish_world(valkey, settings, offset=0):
    rows = [
        (
            uid,
            [v + offset for v in vids],
            [feed_display_score(i + 1) for i in range(len(vids))],  # what gold.feeds holds
            ["followed" if i % 2 == 0 else "hashtag" for i in range(len(vids))],
            ["hybrid"] * len(vids),
        )
        for uid, vids in FEEDS.items()
    ]
    feed = publish_feeds(valkey, rows, settings=settings)
    lists = publish_lists(
        valkey,
        [
            (keys.coldstart_list("18-24", "BR", "pt"), POOL_SEGMENT, [1.0] * len(POOL_SEGMENT)),
            (keys.coldstart_list(None, None, None), POOL_GLOBAL, [1.0] * len(POOL_GLOBAL)),
            (keys.DIVERSE, DIVERSE, [0.5] * len(DIVERSE)),
            (keys.TRENDING, TRENDING, [float(len(TRENDING) - i) for i in range(len(TRENDING))]),
        ],
        settings=settings,
    )
    return feed.version, lists.version


@pytest.fixture(scope="module")
def world(stack):
    import psycopg
    import redis

    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        seed_users(
            conn,
            [
                (U, "25-34", "US", "en", True),
                (U + 1, "18-24", "BR", "pt"),
                (U + 2, "18-24", "BR", "pt"),
                (U + 3, "18-24", "BR", "pt"),
                (U + 4, "18-24", "BR", "pt"),
                (U + 5, "18-24", "BR", "pt"),
                (U + 6, "45+", "JP", "ja"),
            ],
        )
        ready = set(range(V + 1, V + 200))
        seed_videos(conn, [(v, U, "ready") for v in sorted(ready)])
        seed_videos(conn, [(v, U, "processing") for v in (V + 201, V + 202, V + 203)])
        client = redis.Redis.from_url(stack.valkey)
        clear_serving_keys(client)
        sync_ready_from_postgres(client, conn)
    mark_ready(client, *FEEDS[U + 7])  # the ready set is all the feed path consults
    settings = _settings()
    versions = _publish_world(client, settings)
    yield client, settings, versions
    clear_serving_keys(client)
    client.close()


@pytest.fixture(scope="module")
def api(world):
    _, settings, _ = world
    with TestClient(create_app(settings)) as client:
        yield client


def _all_pages(api, user_id, limit=5, **params):
    items, cursor, pages = [], None, 0
    while True:
        query = {"limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        r = api.get(f"/v1/feed/{user_id}", params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return items, pages
        assert pages < 50


def test_pagination_walks_the_feed_in_order_then_tops_up(api):
    items, pages = _all_pages(api, U + 1)
    ids = [i["video_id"] for i in items]
    assert ids[:23] == FEEDS[U + 1]  # the published order, nothing lost between pages
    assert len(ids) == len(set(ids))  # nothing repeated across pages
    assert [i["rank"] for i in items[:23]] == list(range(1, 24))
    assert {i["source"] for i in items[:23]} == {"followed", "hashtag"}
    # then the cold-start mix of the user's segment, then trending (ready ones only)
    assert ids[23:33] == MIX_SEGMENT
    assert ids[33:] == [v for v in TRENDING if v != V + 203]
    assert [i["source"] for i in items[23:26]] == [
        "coldstart_popular",
        "coldstart_diverse",
        "coldstart_popular",
    ]
    assert {i["source"] for i in items[33:]} == {"trending"}
    assert pages >= 7


def test_scores_fall_with_rank_and_each_item_says_what_ranked_it(api):
    """The served sequence (the published feed, then the top-up) is in score order, so a client
    sorting by score gets the served feed; ``ranked_by`` is the feed's ranker, then the list a
    top-up item came from, while ``source`` stays the candidate source."""
    items, _ = _all_pages(api, U + 1)
    scores = [i["score"] for i in items]
    assert all(b < a for a, b in zip(scores, scores[1:], strict=False))
    assert scores == pytest.approx([feed_display_score(i["rank"]) for i in items], rel=1e-6)
    assert {i["ranked_by"] for i in items[:23]} == {"hybrid"}
    assert [i["ranked_by"] for i in items[23:]] == [i["source"] for i in items[23:]]


def test_a_feed_ending_exactly_at_a_page_boundary_continues_with_the_top_up(api):
    first = api.get(f"/v1/feed/{U + 1}", params={"limit": 23}).json()
    assert [i["video_id"] for i in first["items"]] == FEEDS[U + 1]
    assert first["next_cursor"]
    second = api.get(f"/v1/feed/{U + 1}", params={"limit": 3, "cursor": first["next_cursor"]})
    assert [i["video_id"] for i in second.json()["items"]] == MIX_SEGMENT[:3]
    assert [i["rank"] for i in second.json()["items"]] == [24, 25, 26]


def test_first_page_shape(api):
    body = api.get(f"/v1/feed/{U + 1}").json()  # default page size from settings: 5
    assert [i["video_id"] for i in body["items"]] == FEEDS[U + 1][:5]
    assert body["personalized"] is True and body["feed_version"] and body["lists_version"]
    assert body["user_id"] == U + 1 and body["next_cursor"]


def test_videos_watched_since_the_feed_was_built_are_skipped(api, world):
    valkey, _, (feed_version, _) = world
    feed = FEEDS[U + 2]
    # a watch from before the feed was built does not hide the video (the feed accounted for it)
    built = int(VersionedStore(valkey, "feed").info(feed_version).built_at_ms)
    valkey.zadd(keys.seen(U + 2), {str(feed[1]): built - 60_000})
    r = api.post(
        "/v1/events",
        headers=KEY,
        json={
            "events": [
                {"event_type": "watch", "user_id": U + 2, "video_id": feed[0], "watch_ms": 9000},
                {"event_type": "skip", "user_id": U + 2, "video_id": feed[2], "watch_ms": 300},
                {
                    "event_type": "like",
                    "user_id": U + 2,
                    "video_id": feed[3],
                },  # a like is not a view
            ]
        },
    )
    assert r.status_code == 202, r.text
    ids = [i["video_id"] for i in api.get(f"/v1/feed/{U + 2}", params={"limit": 5}).json()["items"]]
    assert ids == [feed[1], feed[3], feed[4], feed[5], feed[6]]


def test_64_bit_ids_are_served_and_seen_filtered(api):
    body = api.get(f"/v1/feed/{U + 7}", params={"limit": 2}).json()
    assert [i["video_id"] for i in body["items"]] == FEEDS[U + 7][:2]
    r = api.post(
        "/v1/events",
        headers=KEY,
        json={
            "events": [
                {
                    "event_type": "watch",
                    "user_id": U + 7,
                    "video_id": FEEDS[U + 7][0],
                    "watch_ms": 1,
                }
            ]
        },
    )
    assert r.status_code == 202
    body = api.get(f"/v1/feed/{U + 7}", params={"limit": 2}).json()
    assert [i["video_id"] for i in body["items"]] == FEEDS[U + 7][1:]


def test_videos_that_are_not_ready_are_never_served(api, world):
    valkey, _, _ = world
    ids = [i["video_id"] for i in _all_pages(api, U + 3, limit=3)[0]]
    assert V + 201 not in ids and V + 202 not in ids and V + 203 not in ids
    assert ids[:3] == [V + 50, V + 51, V + 52]
    mark_not_ready(valkey, V + 51)  # e.g. found to be a duplicate after the feed was built
    try:
        ids = [i["video_id"] for i in api.get(f"/v1/feed/{U + 3}").json()["items"]]
        assert ids[:2] == [V + 50, V + 52] and V + 51 not in ids
    finally:
        mark_ready(valkey, V + 51)


def test_a_short_feed_is_topped_up_from_the_cold_start_mix_then_trending(api):
    body = api.get(f"/v1/feed/{U + 4}", params={"limit": 16}).json()
    ids = [i["video_id"] for i in body["items"]]
    assert ids[:3] == FEEDS[U + 4]
    assert ids[3:13] == MIX_SEGMENT
    # trending minus what the feed already had (V+60) and the processing V+203
    assert ids[13:] == TRENDING[:3]
    assert [i["rank"] for i in body["items"]] == list(range(1, 17))
    assert body["personalized"] is True


def test_cold_start_users_get_the_pool_of_their_demographics(api):
    body = api.get(f"/v1/feed/{U + 5}", params={"limit": 6}).json()
    assert body["personalized"] is False
    assert [i["video_id"] for i in body["items"]] == MIX_SEGMENT[:6]
    # a segment without its own pool falls back to the most specific published one
    body = api.get(f"/v1/feed/{U + 6}", params={"limit": 10}).json()
    assert [i["video_id"] for i in body["items"]] == MIX_GLOBAL + TRENDING[:2]
    # a user Postgres has never heard of: the client may name the segment
    unknown = U + 999
    ids = [
        i["video_id"]
        for i in api.get(
            f"/v1/feed/{unknown}",
            params={"limit": 3, "age_band": "18-24", "country": "BR", "language": "pt"},
        ).json()["items"]
    ]
    assert ids == MIX_SEGMENT[:3]
    body = api.get(f"/v1/feed/{unknown}", params={"limit": 3}).json()
    assert [i["video_id"] for i in body["items"]] == MIX_GLOBAL[:3]


def test_a_cursor_pins_the_version_across_a_publish_and_rollback_switches_back(api, world):
    valkey, settings, (v1, _) = world
    first = api.get(f"/v1/feed/{U + 1}", params={"limit": 5}).json()
    assert first["feed_version"] == v1
    v2, _ = _publish_world(valkey, settings, offset=1)  # every id shifts by one
    try:
        second = api.get(f"/v1/feed/{U + 1}", params={"limit": 5, "cursor": first["next_cursor"]})
        assert second.json()["feed_version"] == v1
        assert [i["video_id"] for i in second.json()["items"]] == FEEDS[U + 1][5:10]
        fresh = api.get(f"/v1/feed/{U + 1}", params={"limit": 5}).json()
        assert fresh["feed_version"] == v2
        assert [i["video_id"] for i in fresh["items"]] == [v + 1 for v in FEEDS[U + 1][:5]]

        old, new = VersionedStore(valkey, "feed", settings).rollback()
        assert (old, new) == (v2, v1)
        back = api.get(f"/v1/feed/{U + 1}", params={"limit": 5}).json()
        assert back["feed_version"] == v1
        assert [i["video_id"] for i in back["items"]] == FEEDS[U + 1][:5]
    finally:
        VersionedStore(valkey, "feed", settings).rollback(to=v1)


def test_bad_cursor_and_bad_ids_are_4xx(api):
    r = api.get(f"/v1/feed/{U + 1}", params={"cursor": "not-a-cursor"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_cursor"
    assert api.get("/v1/feed/0").status_code == 422
    assert api.get(f"/v1/feed/{U + 1}", params={"limit": 0}).status_code == 422


def test_cli_feed_is_the_api_feed(api, world):
    from click.testing import CliRunner

    from cli import main

    out = CliRunner().invoke(main, ["feed", str(U + 4), "--limit", "7", "--json"])
    assert out.exit_code == 0, out.output
    cli = json.loads(out.output)
    http = api.get(f"/v1/feed/{U + 4}", params={"limit": 7}).json()
    assert [i["video_id"] for i in cli["items"]] == [i["video_id"] for i in http["items"]]
    assert cli["next_cursor"] == http["next_cursor"]


def test_valkey_outage_answers_503_and_recovers_by_itself(stack):
    scratch = ScratchValkey()  # not started yet: the API's Valkey is "down"
    settings = Settings(valkey_url=scratch.url, pointer_refresh_s=0.0, valkey_timeout_s=0.2)
    with TestClient(create_app(settings)) as client:
        t0 = time.monotonic()
        r = client.get(f"/v1/feed/{U + 1}")
        assert r.status_code == 503
        assert r.json()["error"] == "valkey_unavailable" and "retry" in r.json()["detail"]
        assert time.monotonic() - t0 < 3
        assert client.get("/readyz").status_code == 503
        assert client.get("/v1/trending").status_code == 503
        with scratch:  # Valkey comes back on the same address
            r = client.get(f"/v1/feed/{U + 1}")
            assert r.status_code == 200, r.text
            assert r.json()["items"] == []  # nothing published in this empty Valkey
            assert client.get("/readyz").json()["status"] == "ready"
        assert client.get(f"/v1/feed/{U + 1}").status_code == 503


def test_the_direct_feed_read_matches_the_script_call_and_survives_a_script_flush(world, stack):
    """The reader writes the feed-page EVALSHA pre-packed and reads the reply itself; pages
    equal those of redis-py's Script call, and a flushed script cache (NOSCRIPT) or a dropped
    connection falls back to that call, which loads the script again."""
    import asyncio

    from fyplake.serving.clients import async_valkey_client
    from fyplake.serving.reader import ServingReader

    _, settings, _ = world

    async def pages() -> tuple[list, list, list]:
        aclient = async_valkey_client(stack.valkey, 1.0)
        try:
            direct = ServingReader(aclient, settings)
            plain = ServingReader(aclient, settings)

            async def script_call(script_keys, args):  # noqa: ANN001, ANN202
                return await plain._feed_page(keys=list(script_keys), args=list(args))

            plain._run_feed_page = script_call
            users = [U, U + 1, U + 4, U + 5, U + 7, U + 999]
            a = [await direct.feed_page(u, 4) for u in users]
            b = [await plain.feed_page(u, 4) for u in users]
            await aclient.script_flush()
            c = [await direct.feed_page(u, 4) for u in users]
            return a, b, c
        finally:
            await aclient.aclose()

    direct, plain, after_flush = asyncio.run(pages())
    assert direct == plain == after_flush
    assert any(page.personalized and page.items for page in direct)


def test_the_fast_path_answers_exactly_as_fastapi_does(api, monkeypatch):
    """The feed route answers plainly valid requests without FastAPI's parameter solving and
    response validation; it must produce the same bytes and headers as the FastAPI path."""
    import serving_api.routers.feed as feed_router

    requests = [
        (f"/v1/feed/{U + 1}", {"limit": 5}),
        (f"/v1/feed/{U + 1}", {"limit": "007", "cursor": ""}),
        (f"/v1/feed/{U + 4}", {"limit": 16, "unrelated": "x"}),
        (f"/v1/feed/{U + 7}", {}),
        (f"/v1/feed/{U + 999}", {"limit": 3, "age_band": "18-24", "country": "BR"}),
        (f"/v1/feed/{U + 5}", [("limit", "2"), ("limit", "4")]),  # the last one wins
    ]
    first = api.get(f"/v1/feed/{U + 1}", params={"limit": 5}).json()
    requests.append((f"/v1/feed/{U + 1}", {"limit": 5, "cursor": first["next_cursor"]}))
    fast = [api.get(path, params=params) for path, params in requests]
    monkeypatch.setattr(feed_router, "fast_args", lambda scope: None)
    slow = [api.get(path, params=params) for path, params in requests]
    for f, s in zip(fast, slow, strict=True):
        assert f.status_code == s.status_code == 200
        assert f.content == s.content
        assert f.headers["content-type"] == s.headers["content-type"] == "application/json"
    assert len(fast[5].json()["items"]) == 4


@pytest.mark.parametrize("query", ["limit=1001", "limit=", "limit=-1", "country=" + "x" * 9])
def test_parameters_the_fast_path_does_not_take_get_fastapis_answer(api, query):
    for path in ("/v1/feed/abc", f"/v1/feed/{2**53}", f"/v1/feed/{U + 1}?{query}"):
        r = api.get(path)
        assert r.status_code == 422 and r.json()["errors"][0]["type"], path
    # not plain digits, but an int to pydantic: FastAPI's path serves it
    assert len(api.get(f"/v1/feed/{U + 1}", params={"limit": "+2"}).json()["items"]) == 2
