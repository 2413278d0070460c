"""`fyp build [--as-of D]`: the landing zone to published feeds in one Spark application."""

from __future__ import annotations

import time

import click

from cli._common import FypError, emit_json, json_option


@click.command()
@click.option(
    "--as-of",
    "as_of",
    help="Recommend as of the end of this day, YYYY-MM-DD (default: the last event date in "
    "the lake, the earliest date that knows every event).",
)
@click.option(
    "--evaluate",
    is_flag=True,
    help="Also run the nightly's offline evaluation (engine vs baselines) and print its table "
    "(`fyp evaluate` does the same on its own).",
)
@click.option("--no-gates", is_flag=True, help="Skip the quality gates between the stages.")
@json_option
def build(as_of: str | None, evaluate: bool, no_gates: bool, as_json: bool) -> None:
    """Ingest every unconsumed landing file, rebuild silver and gold for the event dates it
    touched, run the quality gates and the nightly recommendation jobs, and publish the feeds:
    the tasks of the DAGs, in one Spark application. Prints one line per stage."""
    from cli.stages import ConsoleReporter
    from fyplake.config import get_settings
    from infra.migrations import migrate
    from infra.spark import get_spark
    from infra.stack import Stack
    from jobs._entry import parse_ds
    from jobs.quality import QualityGateFailed
    from orchestration.build import Reporter
    from orchestration.build import build as run_build

    try:
        day = parse_ds(as_of) if as_of else None
    except ValueError as exc:
        raise FypError(str(exc).replace("--ds/--date", "--as-of")) from None
    settings = get_settings()
    reporter = Reporter() if as_json else ConsoleReporter()
    t0 = time.monotonic()
    endpoints = Stack(settings).up()
    migrate(endpoints.postgres)
    reporter.info(f"stack: postgres {endpoints.postgres}, valkey {endpoints.valkey}")
    spark = get_spark("fyp-build", settings)
    try:
        result = run_build(
            spark, settings, day, evaluate=evaluate, gates=not no_gates, reporter=reporter
        )
    except (QualityGateFailed, ValueError, FileNotFoundError) as exc:
        raise FypError(f"{exc} (Spark's log: {settings.home / 'logs'})") from None
    result["seconds"] = round(time.monotonic() - t0, 1)
    if as_json:
        emit_json(result)
        return
    if evaluate and "evaluation" in result["tasks"]:
        from cli.evaluate_cmd import print_evaluation

        evaluation = result["tasks"]["evaluation"]
        for one in evaluation.get("runs", [evaluation]):
            print_evaluation(one)
    click.echo(f"built in {result['seconds']:.0f} s, one Spark application")
    if result["published"]:
        click.echo(f"feeds as of the end of {result['as_of']} published; see one: fyp feed USER_ID")
