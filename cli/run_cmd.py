"""`fyp run DAG_ID [--date D] [--to D2] [--only REGEX]`: DAG runs through Airflow itself
(a backfill with --to: one run per date, each in its own Airflow process)."""

from __future__ import annotations

import datetime as dt
import json

import click

from cli._common import FypError, emit_json, json_option


@click.command()
@click.argument("dag_id")
@click.option(
    "--date",
    "when",
    help="Data interval: YYYY-MM-DD (hourly: that day's last hour, "
    "or YYYY-MM-DDTHH:00 for one hour). Default: the latest complete interval.",
)
@click.option(
    "--to",
    "until",
    help="Backfill: run every date from --date to this date (inclusive), in order, "
    "each in its own Airflow process; stops at the first run that fails.",
)
@click.option("--conf", "conf_json", help="Run conf as JSON, e.g. '{\"video_id\": 7}'.")
@click.option(
    "--only",
    "only",
    metavar="REGEX",
    help="Run only the tasks whose id matches REGEX and mark the others success "
    "without running them (re-running part of a date whose other tasks already ran).",
)
@click.option("--verbose-log", is_flag=True, help="Stream Airflow's log to stderr.")
@json_option
def run(
    dag_id: str,
    when: str | None,
    until: str | None,
    conf_json: str | None,
    only: str | None,
    verbose_log: bool,
    as_json: bool,
) -> None:
    """Run DAG_ID through Airflow (`airflow dags test`) against this FYP_HOME."""
    from orchestration.runner import run_dags

    conf = None
    if conf_json:
        try:
            conf = json.loads(conf_json)
        except json.JSONDecodeError as exc:
            raise FypError(f"--conf is not valid JSON: {exc}") from None
    dates: list[str | None] = [when]
    if until:
        if not when:
            raise FypError("--to needs --date (the first date of the backfill)")
        try:
            first, last = dt.date.fromisoformat(when[:10]), dt.date.fromisoformat(until)
        except ValueError as exc:
            raise FypError(f"bad date: {exc}") from None
        if last < first:
            raise FypError("--to is before --date")
        dates = [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    try:
        results = run_dags(dag_id, dates, conf=conf, echo=verbose_log, only=only)
    except ValueError as exc:
        raise FypError(str(exc)) from None
    if not as_json:
        for result in results:
            click.echo(
                f"{dag_id} @ {result.logical_date}: {result.state}  (log: {result.log_path})"
            )
            for t in result.tasks:
                idx = "" if t.get("map_index") in (None, -1) else f"[{t['map_index']}]"
                tries = f"  (try {t['try_number']})" if (t.get("try_number") or 1) > 1 else ""
                secs = f"  {t['duration_s']:.1f}s" if t.get("duration_s") is not None else ""
                click.echo(f"   {t['task_id']}{idx:5} {t['state']}{secs}{tries}")
    if as_json:
        emit_json([r.as_dict() for r in results])
    failed = [r for r in results if not r.ok]
    if failed:
        raise FypError(
            f"{dag_id} run for {failed[0].logical_date} ended {failed[0].state}; "
            f"see {failed[0].log_path}"
        )
