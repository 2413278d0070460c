"""Time to first frame of the web feed page in headless Chromium, prefetch on vs off, on loopback.

    .venv/bin/python bench/playback.py [--swipes 50] [--dwell 1.5] [--width 360] [--height 640]
                                       [--fps 30] [--json]

Starts an embedded stack in a throw-away FYP_HOME, uploads and transcodes ``swipes + 1``
generated 15 s clips (cached nowhere: a couple of seconds each), publishes them as the feed of
two users, serves the API with ``fyp serve`` (its own process, one worker), and for each mode
opens a fresh headless Chromium (empty cache) on ``/web/?user=...`` (``&prefetch=0`` for off),
then swipes ``--swipes`` times, ``--dwell`` seconds after each video's first frame. The page
measures each impression's time from the swipe to the first frame presented
(``requestVideoFrameCallback``) or playback start (``playing``), whichever comes first, and
sends it with the watch/skip event (``ttff_ms``); the bench reads the same figures from the page
and counts the landed events that carry them. Prints p50/p95/max per mode and the load average
before and after (the figures move with it on a shared machine). The first video (page load,
not a swipe) is left out. The server's page cache is warmed by reading every media file once,
so both modes see the same server; the browser's cache starts empty in each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

USERS = {"on": 5_700_001, "off": 5_700_002}
CREATOR = 5_700_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _warm(media_root: Path) -> int:
    total = 0
    for path in media_root.rglob("*"):
        if path.is_file() and "originals" not in path.parts:
            total += len(path.read_bytes())
    return total


def run_mode(base: str, mode: str, args, settings) -> dict:  # noqa: ANN001
    import web_player as wp

    user = USERS[mode]
    url = f"{base}/web/?user={user}" + ("" if mode == "on" else "&prefetch=0")
    driver = wp.chromium(args.width, args.height)
    try:
        driver.get(url)
        wp.wait_for(lambda: wp.state(driver).get("current") == 0, timeout=60)
        ttff_of = lambda i: (wp.state(driver)["cards"][i] or {}).get("ttff_ms")  # noqa: E731
        wp.wait_for(lambda: ttff_of(0) is not None, timeout=60)
        for i in range(1, args.swipes + 1):
            time.sleep(args.dwell)
            wp.wait_for(lambda i=i: len(wp.state(driver)["cards"]) > i, timeout=60)
            assert driver.execute_script("return window.fyp.next()"), f"no video {i}"
            wp.wait_for(lambda i=i: wp.state(driver).get("current") == i, timeout=30)
            wp.wait_for(lambda i=i: ttff_of(i) is not None, timeout=30)
        time.sleep(args.dwell)
        driver.execute_script("window.fyp.next()")  # leave the last one too
        time.sleep(0.3)
        wp.flush(driver)
        cards = wp.state(driver)["cards"][1 : args.swipes + 1]
    finally:
        driver.quit()
    landed = [e for e in wp.landed_events(settings, user) if e.get("ttff_ms") is not None]
    values = [c["ttff_ms"] for c in cards]
    return {
        "mode": mode,
        "swipes": len(values),
        "p50_ms": _pct(values, 50),
        "p95_ms": _pct(values, 95),
        "max_ms": max(values),
        "by": {k: sum(1 for c in cards if c["ttff_by"] == k) for k in ("frame", "playing")},
        # each signal alone (a new frame presented after the swipe; the playing event)
        "frame_p50_ms": _pct([c["frame_ms"] for c in cards if c["frame_ms"] is not None], 50),
        "playing_p50_ms": _pct([c["playing_ms"] for c in cards if c["playing_ms"] is not None], 50),
        "landed_with_ttff": len(landed),
        "rendition_heights": sorted({c["level_height"] for c in cards if c["level_height"]}),
    }


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--swipes", type=int, default=50)
    parser.add_argument("--dwell", type=float, default=1.5, help="Seconds on each video.")
    parser.add_argument("--width", type=int, default=360, help="Clip and window width.")
    parser.add_argument("--height", type=int, default=640, help="Clip and window height.")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--modes", default="on,off", help="Order of the runs.")
    parser.add_argument("--silent", action="store_true", help="Clips without an audio track.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="fyp-bench-playback-")
    os.environ["FYP_HOME"] = home
    for var in ("FYP_LAKE", "FYP_MEDIA", "FYP_POSTGRES_DSN", "FYP_VALKEY_URL", "FYP_CONFIG"):
        os.environ.pop(var, None)
    from fyplake.config import reload_settings
    from infra.migrations import migrate
    from infra.stack import Stack

    settings = reload_settings()
    stack = Stack(settings)
    api = None
    try:
        import web_player as wp

        wp.ensure_hlsjs()
        wp.browser_paths()
        endpoints = stack.up()
        migrate(endpoints.postgres)
        t0 = time.monotonic()
        n = args.swipes + 1
        print(f"transcoding {n} clips {args.width}x{args.height} {args.fps} fps ...", flush=True)
        ids = wp.transcoded_world(
            settings,
            endpoints.postgres,
            endpoints.valkey,
            Path(home) / "clips",
            user_id=USERS["on"],
            creator_id=CREATOR,
            videos=n,
            width=args.width,
            height=args.height,
            fps=args.fps,
            audio=not args.silent,
        )
        _publish_all(settings, endpoints.valkey, ids)
        print(f"  {time.monotonic() - t0:.0f} s; media warmed: {_warm(Path(settings.media)):,} B")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        api = _serve(port)
        from cli.demo_cmd import wait_until_ready

        wait_until_ready(base)
        results = []
        for mode in args.modes.split(","):
            load = os.getloadavg()[0]
            res = run_mode(base, mode, args, settings)
            res["load_before"], res["load_after"] = round(load, 2), round(os.getloadavg()[0], 2)
            results.append(res)
            print(
                f"prefetch {mode:3}: {res['swipes']} swipes, time to first frame "
                f"p50 {res['p50_ms']:.0f} ms, p95 {res['p95_ms']:.0f} ms, max {res['max_ms']} ms "
                f"(first: frame {res['by']['frame']}, playing {res['by']['playing']}; alone p50: "
                f"next frame {res['frame_p50_ms']:.0f} ms, playing {res['playing_p50_ms']:.0f} ms) "
                f"{res['landed_with_ttff']} events landed with ttff_ms; renditions "
                f"{res['rendition_heights']}; load avg {res['load_before']} -> {res['load_after']}",
                flush=True,
            )
        chromium_version = subprocess.run(
            [wp.browser_paths()[0], "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        print(f"{chromium_version}; {os.cpu_count()} CPUs; load avg {os.getloadavg()}")
        if args.json:
            print(json.dumps({"results": results, "chromium": chromium_version}, indent=2))
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=20)
        stack.down()
        shutil.rmtree(home, ignore_errors=True)


def _publish_all(settings, valkey: str, ids: list[int]) -> None:  # noqa: ANN001
    """The same feed for both users (one publish holds every user's feed)."""
    import redis

    from fyplake.serving.publish import publish_feeds

    client = redis.Redis.from_url(valkey)
    try:
        scores = [float(len(ids) - i) for i in range(len(ids))]
        rows = [(u, ids, scores, ["web"] * len(ids)) for u in USERS.values()]
        publish_feeds(client, rows, settings=settings)
    finally:
        client.close()


if __name__ == "__main__":
    main()
