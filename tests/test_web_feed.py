"""The web feed page in a real browser (issue 17 item 2): headless Chromium opens the page for a
user whose feed is three transcoded clips, the first video really plays (``currentTime``
advances), a swipe leaves it as a watch and a quick second swipe leaves the next as a skip, and
both land in the landing zone through the page's viewer session with the ``watch_ms`` the
browser could have measured and a time to first frame."""

from __future__ import annotations

import time

import pytest
import web_player as wp

from fyplake.config import Settings

pytestmark = pytest.mark.slow

U, CREATOR = 5_600_001, 5_600_000
#: A generated world's user and videos (ready in Postgres, no media until demo_media gives some).
DEMO_USER, DEMO_VIDEOS = 5_600_002, (5_600_101, 5_600_102)


@pytest.fixture(scope="module")
def browser():
    try:
        wp.browser_paths()
    except wp.BrowserMissing as exc:
        pytest.skip(str(exc))
    driver = wp.chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    import redis

    from fyplake.serving.testing import clear_serving_keys

    wp.ensure_hlsjs()
    settings = Settings(pointer_refresh_s=0.0, feed_shards=2, lists_shards=2)
    client = redis.Redis.from_url(stack.valkey)
    clear_serving_keys(client)
    ids = wp.transcoded_world(
        settings,
        stack.postgres,
        stack.valkey,
        tmp_path_factory.mktemp("web-clips"),
        user_id=U,
        creator_id=CREATOR,
        videos=3,
    )
    yield settings, ids
    clear_serving_keys(client)
    client.close()


@pytest.fixture(scope="module")
def base_url(world):
    from test_api_hardening import live_server

    with live_server(world[0]) as base:
        yield base


def _time_of(driver, index: int) -> float:
    cards = wp.state(driver).get("cards") or []
    return (cards[index]["current_time"] or 0.0) if len(cards) > index else 0.0


def test_the_page_plays_the_feed_and_reports_watches_and_skips(browser, world, base_url):
    settings, ids = world
    opened = time.monotonic()
    browser.get(f"{base_url}/web/?user={U}")
    wp.wait_for(lambda: wp.state(browser).get("current") == 0, timeout=30)
    assert [c["video_id"] for c in wp.state(browser)["cards"]] == ids

    # the first video really plays: its clock moves
    wp.wait_for(lambda: _time_of(browser, 0) > 0.2, timeout=30)
    first = _time_of(browser, 0)
    time.sleep(1.5)
    played = _time_of(browser, 0)
    assert played > first + 0.5, (first, played)
    # the next two are prefetched: attached to players of their own already
    assert [c["attached"] for c in wp.state(browser)["cards"]] == [True, True, True]
    time.sleep(1.5)  # past the 3 s skip threshold
    seen_ms = _time_of(browser, 0) * 1000  # at least this much was played before the swipe
    swiped_first = time.monotonic()
    assert browser.execute_script("return window.fyp.next()")
    # the page counts until it sees the swipe: no more than this can have been played
    wp.wait_for(lambda: wp.state(browser).get("current") == 1, timeout=10)
    wall_ms = (time.monotonic() - opened) * 1000

    # the second plays too, and is left within a second: a skip
    wp.wait_for(lambda: _time_of(browser, 1) > 0.1, timeout=20)
    assert browser.execute_script("return window.fyp.next()")
    wp.wait_for(lambda: wp.state(browser).get("current") == 2, timeout=10)
    skip_wall_ms = (time.monotonic() - swiped_first) * 1000
    wp.flush(browser)

    page = wp.state(browser)
    assert page["queued"] == 0 and page["sent"] >= 2
    assert all(c["level_height"] for c in page["cards"][:2]), page["cards"]
    events = wp.wait_for(lambda: wp.landed_events(settings, U), timeout=10)
    by_video = {e["video_id"]: e for e in events if e["event_type"] in ("watch", "skip")}
    watch, skip = by_video[ids[0]], by_video[ids[1]]
    assert watch["event_type"] == "watch", (watch, seen_ms, wall_ms)
    assert seen_ms - 300 <= watch["watch_ms"] <= wall_ms, (seen_ms, watch, wall_ms)
    assert skip["event_type"] == "skip"
    assert 50 <= skip["watch_ms"] <= min(skip_wall_ms, 3000), (skip, skip_wall_ms)
    for ev in (watch, skip):
        assert ev["source"] == "api" and 0 <= ev["ttff_ms"] < 10_000, ev
    assert page["cards"][0]["ttff_ms"] == watch["ttff_ms"]


def test_a_new_viewer_starts_from_the_form(browser, world, base_url):
    from selenium.webdriver.common.by import By

    from fyplake.ids import PLATFORM_ID_BASE

    browser.get(f"{base_url}/web/")
    form = browser.find_element(By.ID, "start")
    form.find_element(By.NAME, "country").clear()
    form.find_element(By.NAME, "country").send_keys("br")
    form.find_element(By.CSS_SELECTOR, "button[value=new]").click()
    user = wp.wait_for(lambda: wp.state(browser).get("user_id"), timeout=20)
    assert user >= PLATFORM_ID_BASE
    wp.wait_for(lambda: wp.state(browser).get("ended"), timeout=20)  # cold start: no lists here
    assert f"user={user}" in browser.current_url and "country=BR" in browser.current_url
    assert not browser.find_element(By.ID, "feed").get_attribute("hidden")


def test_a_generated_worlds_feed_gets_media_and_plays(browser, world, base_url, stack):
    """What ``fyp demo`` does for its user: the generator's videos are ready rows without
    media; ``give_media`` gives each a synthetic clip through the real pipeline (HLS ladder,
    thumbnails, master playlist), idempotently, and the page plays the first of the feed."""
    import httpx
    import psycopg
    import redis

    from fyplake.media.catalog import video_media
    from fyplake.media.demo_media import give_media
    from fyplake.serving.publish import publish_feeds
    from fyplake.serving.ready import sync_ready_from_postgres

    settings, ids = world
    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        for i, vid in enumerate(DEMO_VIDEOS):
            conn.execute(
                """INSERT INTO videos (id, creator_id, title, hashtags, status)
                   VALUES (%s, %s, %s, %s, 'ready') ON CONFLICT (id) DO NOTHING""",
                (vid, CREATOR, f"generated video {i}", ["demo"]),
            )
        assert video_media(conn, DEMO_VIDEOS[0], settings)["url"] is None
    done = give_media(DEMO_VIDEOS, settings=settings, width=180, height=320, fps=10)
    assert [d["status"] for d in done] == ["ready", "ready"], done
    again = give_media(DEMO_VIDEOS, settings=settings)
    assert [d["status"] for d in again] == ["had media", "had media"]
    client = redis.Redis.from_url(stack.valkey)
    try:
        with psycopg.connect(stack.postgres, autocommit=True) as conn:
            sync_ready_from_postgres(client, conn)
            media = video_media(conn, DEMO_VIDEOS[0], settings)
        publish_feeds(
            client,
            [
                (U, ids, [3.0, 2.0, 1.0], ["web"] * 3),
                (DEMO_USER, list(DEMO_VIDEOS), [2.0, 1.0], ["web"] * 2),
            ],
            settings=settings,
        )
    finally:
        client.close()
    assert media["status"] == "ready" and media["url"].endswith("/hls/master.m3u8")
    assert media["renditions"] and media["thumbnails"]
    master = httpx.get(
        f"{base_url}{media['url']}" if media["url"].startswith("/") else media["url"]
    )
    assert master.status_code == 200 and master.text.startswith("#EXTM3U")

    browser.get(f"{base_url}/web/?user={DEMO_USER}")
    wp.wait_for(lambda: wp.state(browser).get("current") == 0, timeout=30)
    assert [c["video_id"] for c in wp.state(browser)["cards"]] == list(DEMO_VIDEOS)
    wp.wait_for(lambda: _time_of(browser, 0) > 0.5, timeout=30)
