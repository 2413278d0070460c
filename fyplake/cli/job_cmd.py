"""`fyp job NAME [--date D]`: one Spark job for one data interval (what the DAGs submit)."""

from __future__ import annotations

import click

from fyplake.cli._common import FypError, emit_json, json_option


@click.command()
@click.argument("name")
@click.option("--date", "ds", help="Data interval date YYYY-MM-DD (default: today, UTC).")
@click.option("--param", "params", multiple=True, help="Job parameter key=value (repeatable).")
@json_option
def job(name: str, ds: str | None, params: tuple[str, ...], as_json: bool) -> None:
    """Run Spark job NAME for one data interval (`fyp job --help` lists them)."""
    from jobs._entry import parse_ds, parse_params, run_job
    from jobs.registry import JOBS, job_module

    if name not in JOBS:
        raise FypError(f"unknown job {name!r}; known jobs: {', '.join(sorted(JOBS)) or 'none'}")
    try:
        day = parse_ds(ds)
        extra = parse_params(list(params))
    except ValueError as exc:
        raise FypError(str(exc)) from None
    try:
        result = run_job(name, job_module(name).run, day, params=extra)
    except ValueError as exc:
        raise FypError(str(exc)) from None
    if as_json:
        emit_json(result)
    else:
        for key, value in result.items():
            click.echo(f"{key:20} {value}")
