"""`fyp demo`: the README's main job, end to end on the embedded default.

stack -> synthetic world -> `fyp_hourly` and `fyp_nightly` through Airflow itself -> the feed
API -> real media for the first videos of the active user's feed (synthetic clips through the
upload pipeline: ``fyplake.media.demo_media``) -> the feeds of an active and a brand-new user ->
the offline evaluation table -> the web feed's address for the active user.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time

import click

from cli._common import FypError


@click.command()
@click.option("--users", default=500, show_default=True, help="Users in the generated world.")
@click.option("--videos", default=600, show_default=True, help="Videos in the generated world.")
@click.option("--days", default=2, show_default=True, help="Simulated days of history.")
@click.option("--seed", default=7, show_default=True, help="Random seed (deterministic world).")
@click.option(
    "--spark-submit",
    is_flag=True,
    help="Run every Spark task as its own spark-submit application (slower on one "
    "machine) instead of in the Airflow worker's local Spark session.",
)
@click.option(
    "--media",
    "media_videos",
    default=15,
    show_default=True,
    help="Videos at the top of the active user's feed that get a synthetic clip, transcoded by "
    "the upload pipeline, so the web feed plays them (0: none).",
)
def demo(
    users: int, videos: int, days: int, seed: int, spark_submit: bool, media_videos: int
) -> None:
    """Everything end to end: stack, world, hourly + nightly DAG runs, API, feeds, evaluation."""
    from fyplake.config import reload_settings
    from fyplake.synth import generate_world
    from infra.migrations import migrate
    from infra.stack import Stack
    from orchestration.runner import run_dag

    os.environ["FYP_SPARK_TASK_MODE"] = "submit" if spark_submit else "inprocess"
    # One catch-up ingest consumes every hour the generator landed.
    os.environ.setdefault("FYP_INGEST_CATCHUP_HOURS", str(24 * (days + 2)))
    settings = reload_settings()
    t0 = time.monotonic()

    click.echo("== 1/6 the embedded stack")
    endpoints = Stack(settings).up()
    migrate(endpoints.postgres)
    for name, value in endpoints.as_dict().items():
        click.echo(f"   {name:13} {value}")

    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days + 1)
    last_day = start + dt.timedelta(days=days - 1)
    click.echo(f"== 2/6 a synthetic world: {users} users, {videos} videos, {start}..{last_day}")
    summary = generate_world(users=users, videos=videos, days=days, seed=seed, start_date=start)
    click.echo(f"   {summary.events:,} events, {summary.files} landing files")

    for dag_id in ("fyp_hourly", "fyp_nightly"):
        step = "3/6" if dag_id == "fyp_hourly" else "4/6"
        click.echo(f"== {step} {dag_id} for {last_day} through Airflow (airflow dags test)")
        tick = time.monotonic()
        result = run_dag(dag_id, last_day.isoformat(), settings=settings)
        for task in result.tasks:
            secs = task.get("duration_s")
            click.echo(
                f"   {task['task_id']:28} {task['state']:8}"
                + (f" {secs:6.1f} s" if secs is not None else "")
            )
        click.echo(f"   {result.state} in {time.monotonic() - tick:.0f} s (log: {result.log_path})")
        if not result.ok:
            raise FypError(f"{dag_id} ended {result.state}; see {result.log_path}")

    click.echo("== 5/6 the feed API")
    port = _free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(base)
        click.echo(f"   serving on {base} (docs at {base}/docs)")
        active, newest = _pick_users(settings)
        if media_videos > 0:
            _give_media(base, active, media_videos, settings)
        for label, user_id in (("an active user", active), ("a brand-new user", newest)):
            _show_feed(base, label, user_id)
    finally:
        api.terminate()
        api.wait(timeout=20)

    click.echo("== 6/6 offline evaluation (engine vs baselines, this run)")
    _show_ranker(settings)
    _show_evaluation(settings)
    from fyplake.report import latest_report

    report = latest_report(settings)
    if report:
        click.echo(f"   nightly report: {report}")
    click.echo(f"done in {time.monotonic() - t0:.0f} s")
    port = settings.api_port
    played = (
        f"its first {media_videos} videos play synthetic clips made by the upload pipeline; "
        "later cards show titles and tags"
        if media_videos > 0
        else "the synthetic world has no media: cards show titles and tags; uploads play"
    )
    click.echo(
        f"web feed: run `fyp serve`, then open http://{settings.api_host}:{port}/web/?user={active}"
        f" ({played})"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(base: str, timeout: float = 60) -> None:
    """Poll ``base``/readyz until the API answers 200 (the demo and bench/playback.py)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise FypError(f"the feed API at {base} did not become ready in {timeout:.0f} s")


def _pick_users(settings) -> tuple[int, int]:  # noqa: ANN001
    """The user with the most watches, and the newest sign-up (fewest engagements)."""
    import duckdb

    from fyplake.catalog import table
    from fyplake.lake_query import arrow_dataset

    watches = arrow_dataset(settings, table("silver.watch_history"))
    users = arrow_dataset(settings, table("silver.users"))
    con = duckdb.connect()
    con.register("watches", watches)
    con.register("users", users)
    active = con.execute(
        "SELECT user_id FROM watches GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1"
    ).fetchone()[0]
    newest = con.execute(
        "SELECT u.user_id FROM users u LEFT JOIN watches w USING (user_id) "
        "GROUP BY u.user_id, u.signup_time ORDER BY count(w.user_id), u.signup_time DESC, "
        "u.user_id DESC LIMIT 1"
    ).fetchone()[0]
    return int(active), int(newest)


def _give_media(base: str, user_id: int, count: int, settings) -> None:  # noqa: ANN001
    """Real media for the first ``count`` videos of the user's feed: the generator makes no
    video files, so each gets a distinct synthetic clip (title drawn on it) run through the
    upload pipeline (HLS ladder, thumbnails, master playlist, ``ready``)."""
    import httpx

    from fyplake.media.demo_media import give_media

    feed = httpx.get(f"{base}/v1/feed/{user_id}", params={"limit": count}, timeout=10).json()
    ids = [item["video_id"] for item in feed.get("items", [])]
    tick = time.monotonic()
    done = give_media(ids, settings=settings)
    ready = sum(d["status"] in ("ready", "had media") for d in done)
    click.echo(
        f"   media: {ready} of the first {len(ids)} videos of user {user_id}'s feed ready to play "
        f"(synthetic clips through the upload pipeline) in {time.monotonic() - tick:.0f} s"
    )
    for d in done:
        if d["status"] not in ("ready", "had media"):
            click.echo(f"   video {d['video_id']}: {d['status']} ({d.get('reason')})")


def _show_feed(base: str, label: str, user_id: int, limit: int = 10) -> None:
    import httpx

    feed = httpx.get(f"{base}/v1/feed/{user_id}", params={"limit": limit}, timeout=10).json()
    cold = all(i["source"].startswith("coldstart") for i in feed.get("items", []))
    kind = "cold start" if cold or not feed.get("personalized") else "personalised"
    click.echo(f"   feed of {label} (user {user_id}, {kind}):")
    click.echo(f"   {'#':>3} {'video':>7} {'score':>8}  {'source':12} title / hashtags")
    for item in feed.get("items", []):
        video = httpx.get(f"{base}/v1/videos/{item['video_id']}", timeout=10).json()
        tags = " ".join(f"#{t}" for t in (video.get("hashtags") or [])[:4])
        title = (video.get("title") or "")[:44]
        click.echo(
            f"   {item['rank']:>3} {item['video_id']:>7} {item['score']:>8.4f}  "
            f"{item['source'][:12]:12} {title}  {tags}"
        )


def _show_ranker(settings) -> None:  # noqa: ANN001
    """Which model ranked the published feeds (the learned ranker, or the formula it fell back
    to, and why)."""
    from fyplake.report import last_ranker

    ranked = last_ranker(settings)
    if ranked is None:
        click.echo("   ranked by: (no rank run)")
        return
    line = f"   feeds of {ranked['ds']} ranked by: {ranked['ranker_used']}"
    if ranked.get("model_id"):
        line += f" (model {ranked['model_id']})"
    if ranked.get("ranker_note"):
        line += f"; {ranked['ranker_note']}"
    click.echo(line)


def _show_evaluation(settings) -> None:  # noqa: ANN001
    """The latest evaluation run from gold.evaluation, printed as `fyp evaluate` prints it."""
    from cli.evaluate_cmd import print_evaluation
    from fyplake.report import evaluation_history

    hist = evaluation_history(settings)
    if hist is None or not len(hist):
        click.echo("   (no evaluation results)")
        return
    latest = hist[hist["run_id"] == hist.sort_values("created_at")["run_id"].iloc[-1]]
    first = latest.iloc[0]
    users = latest[(latest["model"] == "fyp") & (latest["metric"] == "users")]["value"]
    print_evaluation(
        {
            "k": int(latest.loc[latest["metric"] == "ndcg", "k"].iloc[0]),
            "run_id": first["run_id"],
            "ds": str(first["ds"])[:10],
            "holdout": first["holdout"],
            "counts": {"test_users_with_relevant": int(users.iloc[0]) if len(users) else None},
            "metrics": latest[["model", "metric", "value"]].to_dict("records"),
        }
    )
