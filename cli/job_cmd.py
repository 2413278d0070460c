"""`fyp job NAME [--date D]`: one Spark job for one data interval (what the DAGs run), followed
by the quality gate the DAGs run after it."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import click

from cli._common import FypError, emit_json, json_option

#: Jobs that write Postgres/Valkey. The library never starts a server (fyplake.endpoints), so
#: `fyp job` starts the embedded stack for them when it is not up (as `fyp build` does).
SERVER_JOBS = frozenset({"publish_postgres", "publish_feeds", "flush_counters"})


def job_summaries() -> dict[str, str]:
    """Job name -> the first sentence of its module's docstring (read, not imported: the
    modules pull in Spark and the engine, and `--help` should stay instant)."""
    from jobs.registry import JOBS

    out = {}
    for name, module in sorted(JOBS.items()):
        spec = importlib.util.find_spec(module)
        source = Path(spec.origin).read_text() if spec and spec.origin else ""
        doc = ast.get_docstring(ast.parse(source)) or ""
        first = " ".join(doc.split("\n\n")[0].split()).removeprefix("Job: ").replace("``", "")
        first = first.split(". ")[0].rstrip(".")
        out[name] = first[:1].upper() + first[1:]
    return out


class JobCommand(click.Command):
    """`fyp job --help` ends with the jobs it can run."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Jobs"):
            formatter.write_dl(list(job_summaries().items()))


@click.command(cls=JobCommand)
@click.argument("name")
@click.option("--date", "ds", help="Data interval date YYYY-MM-DD (default: today, UTC).")
@click.option("--param", "params", multiple=True, help="Job parameter key=value (repeatable).")
@click.option(
    "--no-gates",
    is_flag=True,
    help="Do not run the quality gate the DAGs run after this job (ingest -> bronze, silver "
    "-> silver, gold -> gold, rank -> gold.feeds).",
)
@json_option
def job(name: str, ds: str | None, params: tuple[str, ...], no_gates: bool, as_json: bool) -> None:
    """Run Spark job NAME for one data interval, then its quality gate (jobs listed below)."""
    from cli.summary import brief
    from jobs._entry import parse_ds, parse_params
    from jobs.quality import QualityGateFailed
    from jobs.registry import JOBS
    from orchestration.inprocess import run_task
    from orchestration.tasks import GATE_JOB, gate_after

    if name not in JOBS:
        raise FypError(f"unknown job {name!r}; known jobs: {', '.join(sorted(JOBS)) or 'none'}")
    try:
        day = parse_ds(ds)
        extra = parse_params(list(params))
    except ValueError as exc:
        raise FypError(str(exc)) from None
    if name in SERVER_JOBS:
        from fyplake.config import get_settings
        from infra.stack import Stack

        Stack(get_settings()).endpoints()
    try:
        result = run_task(name, day, extra)
    except ValueError as exc:
        raise FypError(str(exc)) from None
    layer = None if no_gates else gate_after(name)
    if layer:
        try:
            result["gate"] = run_task(GATE_JOB, day, {"layer": layer})["message"]
        except QualityGateFailed as exc:
            raise FypError(f"{name} ran, but its quality gate failed: {exc}") from None
    if as_json:
        emit_json(result)
    else:
        for key, value in result.items():
            click.echo(f"{key:20} {brief(value)}")
