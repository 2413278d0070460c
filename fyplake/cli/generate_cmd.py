"""`fyp generate`: a synthetic world (users, videos, sounds, events) into the landing zone."""

from __future__ import annotations

from datetime import datetime

import click

from fyplake.cli._common import FypError, emit_json, json_option, progress


@click.command()
@click.option("--users", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Users (creators are a subset; some sign up during the simulated days).")
@click.option("--videos", type=click.IntRange(min=1), default=10000, show_default=True,
              help="Videos (a share is created during the simulated days, the rest before).")
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True,
              help="Simulated days of events, starting at --start-date.")
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True,
              help="Random seed: same seed and flags give byte-identical files.")
@click.option("--start-date", type=click.DateTime(formats=["%Y-%m-%d"]), default="2026-11-01",
              show_default=True, help="First simulated day (UTC).")
@click.option("--events-per-user-day", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Mean events (all types) per signed-up user per day.")
@json_option
def generate(
    users: int,
    videos: int,
    days: int,
    seed: int,
    start_date: datetime,
    events_per_user_day: float,
    as_json: bool,
) -> None:
    """Generate a synthetic world into <lake>/landing, with its ground truth in <lake>/ground_truth.

    Behaviour follows hidden topic interests, quality and popularity (see fyplake.synth), so a
    personalised recommender can measurably beat most-popular. Re-running with the same seed and
    flags overwrites the same files with the same bytes.
    """
    from fyplake.synth import generate_world

    try:
        summary = generate_world(
            users, videos, days, seed,
            start_date=start_date.date(),
            events_per_user_day=events_per_user_day,
            progress=progress,
        )
    except ValueError as exc:
        raise FypError(str(exc)) from exc
    if as_json:
        emit_json(summary.as_dict())
        return
    c = summary.counts
    click.echo(
        f"world {summary.world_id} (seed {summary.seed}), "
        f"{summary.start_date}..{summary.end_date}: {c['users']} users "
        f"({c['creators']} creators), {c['videos']} videos, {c['sounds']} sounds"
    )
    types = ", ".join(f"{k} {v}" for k, v in summary.events_by_type.items())
    click.echo(f"{summary.events} events ({types}); {summary.late_events} arrive late")
    click.echo(
        f"{summary.files} files in {summary.landing} in {summary.seconds:.1f}s "
        f"({summary.events_per_s:,.0f} events/s); ground truth in {summary.ground_truth}"
    )
