"""`fyp generate`: a synthetic world (users, videos, sounds, events) into the landing zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from cli._common import FypError, emit_json, json_option, progress
from fyplake.synth.shapes import SHAPES, knob_defaults

_D = knob_defaults()


def _shape_epilog() -> str:
    lines = ["\b", "World shapes (--shape NAME; knob flags given as well override the preset):"]
    for name, shape in SHAPES.items():
        lines.append(f"  {name:<8} {shape.description}")
        flags = [f"--{k.replace('_', '-')} {v:g}" for k, v in shape.knobs.items()]
        row = " " * 10
        for flag in flags or ["(every knob at its default)"]:
            if len(row) + 1 + len(flag) > 78:
                lines.append(row)
                row = " " * 10
            row += " " + flag
        lines.append(row)
    return "\n".join(lines)


#: (flag, click type, help) of each shape knob; its default comes from the preset.
_KNOB_OPTIONS: tuple[tuple[str, Any, str], ...] = (
    (
        "--events-per-user-day",
        click.FloatRange(min=0, min_open=True),
        "History length: mean events (all types) per signed-up user per day (the realised mean is "
        "lower when users exhaust what they are shown: one impression per user, video and day).",
    ),
    (
        "--activity-shape",
        click.FloatRange(0.05, 100),
        "History spread: gamma shape of per-user activity (coefficient of variation "
        "1/sqrt(x)); low: many sparse users and a few heavy ones.",
    ),
    (
        "--topic-concentration",
        click.FloatRange(0, 100, min_open=True),
        "Topic purity of users: Dirichlet concentration of their interest mixtures (creators' "
        "niches use 0.75x); 0.1 near single-topic, 5 broad.",
    ),
    (
        "--second-topic-share",
        click.FloatRange(0, 1),
        "Topic purity of videos: share of videos with a second topic.",
    ),
    (
        "--second-topic-weight",
        click.FloatRange(0, 0.5, min_open=True),
        "Weight of a video's second topic in its topic vector (0.5: two equal topics).",
    ),
    (
        "--popularity-skew",
        click.FloatRange(0, 4),
        "Popularity skew: Zipf exponent of video popularity (0 flat, 1.5 very skewed).",
    ),
    (
        "--new-video-share",
        click.FloatRange(0, 1, max_open=True),
        "New items: share of videos created during the simulated days (the rest before day 0).",
    ),
    (
        "--new-video-days",
        click.IntRange(min=1),
        "New items are created during the last N simulated days (default: all of them); 1 puts "
        "the whole --new-video-share on the last day.",
    ),
)


def _knob_options(fn: Any) -> Any:
    for flag, kind, text in reversed(_KNOB_OPTIONS):
        name = flag[2:].replace("-", "_")
        default = _D[name] if _D[name] is not None else "all days"
        fn = click.option(
            flag,
            type=kind,
            default=None,
            help=f"{text} [default shape: {default}]",
        )(fn)
    return fn


@click.command(epilog=_shape_epilog())
@click.option(
    "--users",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Users (creators are a subset; some sign up during the simulated days).",
)
@click.option(
    "--videos",
    type=click.IntRange(min=1),
    default=10000,
    show_default=True,
    help="Videos (a share is created during the simulated days, the rest before).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="Simulated days of events, starting at --start-date.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=42,
    show_default=True,
    help="Random seed: same seed and flags give byte-identical files.",
)
@click.option(
    "--start-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-11-01",
    show_default=True,
    help="First simulated day (UTC).",
)
@click.option(
    "--shape",
    type=click.Choice(list(SHAPES)),
    default="default",
    show_default=True,
    help="Named world shape (preset of the knobs below; see the list at the end).",
)
@_knob_options
@json_option
def generate(
    users: int,
    videos: int,
    days: int,
    seed: int,
    start_date: datetime,
    shape: str,
    as_json: bool,
    **knobs: Any,
) -> None:
    """Generate a synthetic world into <lake>/landing, with its ground truth in <lake>/ground_truth.

    Behaviour follows hidden topic interests, quality and popularity (see fyplake.synth), so a
    personalised recommender can measurably beat most-popular. The world's shape (topic purity,
    popularity skew, history length per user, share of new items) comes from --shape and the knob
    flags; the default shape is the world the engine was first built on. Re-running with the same
    seed and flags overwrites the same files with the same bytes.
    """
    from fyplake.synth import generate_world

    try:
        summary = generate_world(
            users,
            videos,
            days,
            seed,
            start_date=start_date.date(),
            shape=shape,
            progress=progress,
            **knobs,
        )
    except ValueError as exc:
        raise FypError(str(exc)) from exc
    if as_json:
        emit_json(summary.as_dict())
        return
    c = summary.counts
    click.echo(
        f"world {summary.world_id} (seed {summary.seed}, shape {shape}), "
        f"{summary.start_date}..{summary.end_date}: {c['users']} users "
        f"({c['creators']} creators), {c['videos']} videos, {c['sounds']} sounds"
    )
    types = ", ".join(f"{k} {v}" for k, v in summary.events_by_type.items())
    click.echo(f"{summary.events} events ({types}); {summary.late_events} arrive late")
    click.echo(
        f"{summary.files} files in {summary.landing} in {summary.seconds:.1f}s "
        f"({summary.events_per_s:,.0f} events/s); ground truth in {summary.ground_truth}"
    )
