"""`fyp run DAG_ID [--date D] [--to D2]`: DAG runs through Airflow itself (backfill with --to)."""

from __future__ import annotations

import datetime as dt
import json

import click

from fyplake.cli._common import FypError, emit_json, json_option


@click.command()
@click.argument("dag_id")
@click.option("--date", "when", help="Data interval: YYYY-MM-DD (hourly: that day's last hour, "
              "or YYYY-MM-DDTHH:00 for one hour). Default: the latest complete interval.")
@click.option("--to", "until", help="Backfill: run every date from --date to this date (inclusive).")
@click.option("--conf", "conf_json", help='Run conf as JSON, e.g. \'{"video_id": 7}\'.')
@click.option("--verbose-log", is_flag=True, help="Stream Airflow's log to stderr.")
@json_option
def run(dag_id: str, when: str | None, until: str | None, conf_json: str | None,
        verbose_log: bool, as_json: bool) -> None:
    """Run DAG_ID through Airflow (`airflow dags test`) against this FYP_HOME."""
    from fyplake.orchestration.runner import run_dag

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
    results = []
    for day in dates:
        try:
            result = run_dag(dag_id, day, conf=conf, echo=verbose_log)
        except ValueError as exc:
            raise FypError(str(exc)) from None
        results.append(result)
        if not as_json:
            click.echo(f"{dag_id} @ {result.logical_date}: {result.state}  (log: {result.log_path})")
            for t in result.tasks:
                idx = "" if t.get("map_index") in (None, -1) else f"[{t['map_index']}]"
                click.echo(f"   {t['task_id']}{idx:5} {t['state']}")
        if not result.ok:
            break
    if as_json:
        emit_json([r.as_dict() for r in results])
    failed = [r for r in results if not r.ok]
    if failed:
        raise FypError(f"{dag_id} run for {failed[0].logical_date} ended {failed[0].state}; "
                       f"see {failed[0].log_path}")
