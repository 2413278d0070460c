"""The web feed page in a real browser, shared by tests/test_web_feed.py and bench/playback.py:
a small world of transcoded clips with a published feed, and Debian's headless Chromium driven
through selenium (installed by infra/web_setup.sh when missing)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HLSJS = REPO / "serving_api" / "static" / "vendor" / "hls.min.js"


class BrowserMissing(RuntimeError):
    """Chromium or its driver is not installed and could not be installed here."""


def _setup(what: str) -> str:
    proc = subprocess.run(
        ["bash", str(REPO / "infra" / "web_setup.sh"), what],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    return (proc.stdout + proc.stderr).strip()


def ensure_hlsjs() -> None:
    """The vendored player, fetched now if the set-up has not fetched it yet."""
    if not HLSJS.is_file():
        said = _setup("hlsjs")
        if not HLSJS.is_file():
            raise RuntimeError(
                f"hls.js is missing and infra/web_setup.sh could not fetch it: {said}"
            )


def browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver), installing them if missing; BrowserMissing when impossible."""
    found = shutil.which("chromium"), shutil.which("chromedriver")
    if not all(found):
        said = _setup("chromium")
        found = shutil.which("chromium"), shutil.which("chromedriver")
        if not all(found):
            raise BrowserMissing(
                f"chromium/chromium-driver not installed and not installable: {said}"
            )
    return found  # type: ignore[return-value]


def chromium(width: int = 400, height: int = 720) -> Any:
    """Headless Chromium at a phone-like window: autoplay allowed, sound muted, no sandbox (the
    tests may run as root)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = browser_paths()
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in (
        "--headless=new",
        f"--window-size={width},{height}",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=opts)


def state(driver: Any) -> dict:
    return driver.execute_script("return window.fyp ? window.fyp.state() : null") or {}


def flush(driver: Any) -> None:
    driver.execute_async_script("const done = arguments[0]; window.fyp.flush().then(done, done);")


def transcoded_world(
    settings: Any,
    postgres: str,
    valkey: str,
    workdir: Path,
    *,
    user_id: int,
    creator_id: int,
    videos: int,
    width: int = 180,
    height: int = 320,
    fps: int = 10,
    seed: int = 500,
    audio: bool = True,
) -> list[int]:
    """``videos`` generated clips, uploaded and transcoded in-process (ready, HLS in the media
    store), published as ``user_id``'s feed in that order; returns the video ids."""
    import media_clips
    import psycopg
    import redis

    from fyplake.media.uploads import run_inline, submit_upload
    from fyplake.serving.publish import publish_feeds
    from fyplake.serving.ready import sync_ready_from_postgres

    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, is_creator) VALUES (%s, true) ON CONFLICT DO NOTHING",
            (creator_id,),
        )
    ids = []
    for i in range(videos):
        clip = media_clips.make_clip(
            workdir / f"clip{i}.mp4",
            width=width,
            height=height,
            seconds=15,
            fps=fps,
            seed=seed + i,
            audio="melody" if audio else None,
        )
        vid = submit_upload(
            clip,
            creator_id,
            title=f"web clip {i}",
            hashtags=("web", f"clip{i}"),
            settings=settings,
            trigger=False,
        )
        result = run_inline(vid, settings=settings)
        assert result["status"] == "ready", result
        ids.append(vid)
        clip.unlink(missing_ok=True)
    client = redis.Redis.from_url(valkey)
    try:
        with psycopg.connect(postgres, autocommit=True) as conn:
            sync_ready_from_postgres(client, conn)
        scores = [float(len(ids) - i) for i in range(len(ids))]
        publish_feeds(client, [(user_id, ids, scores, ["web"] * len(ids))], settings=settings)
    finally:
        client.close()
    return ids


def landed_events(settings: Any, user_id: int) -> list[dict]:
    """The API's landing records of one user, in landing order."""
    out = []
    for path in sorted((Path(settings.lake) / "landing" / "events").rglob("api-*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec["user_id"] == user_id:
                out.append(rec)
    return out


def wait_for(check, timeout: float = 30.0, every: float = 0.1) -> Any:  # noqa: ANN001
    """Poll ``check()`` until it returns something truthy; AssertionError on timeout."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {check}")
        time.sleep(every)
