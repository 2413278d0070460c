"""Run a DAG through Airflow itself (``airflow dags test``) for data intervals, from Python.

This is what ``fyp run`` and ``fyp demo`` use: real DAG runs with real task instances in the
FYP_HOME's Airflow metadata DB, executed in-process by Airflow (no scheduler needed); several
intervals (a backfill) run one after the other (``orchestration.dagtest``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fyplake.config import Settings, get_settings
from orchestration.dagtest import MARKER

#: DAG id -> length of its data interval (a run for date D covers [D, D + interval) for daily
#: DAGs; for the hourly DAG a bare date means its last hour).
DAILY_DAGS = {"fyp_nightly", "fyp_maintenance"}
HOURLY_DAGS = {"fyp_hourly"}
#: Daily DAGs scheduled on an Asset, not a data-interval timetable: a manual run's interval is
#: just its logical date, so the run for day D has logical date D (``orchestration.intervals``).
ASSET_DAILY_DAGS = {"fyp_nightly"}


@dataclass
class DagRunResult:
    dag_id: str
    logical_date: str
    run_id: str | None
    state: str
    log_path: str
    tasks: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "success"

    def as_dict(self) -> dict:
        return {
            "dag_id": self.dag_id,
            "logical_date": self.logical_date,
            "run_id": self.run_id,
            "state": self.state,
            "log": self.log_path,
            "tasks": self.tasks,
        }


def logical_date_for(dag_id: str, when: str | None) -> str:
    """The logical date to pass `airflow dags test` so the run's data interval is ``when``.

    Our time-scheduled DAGs use data-interval timetables; a manual run at T covers the interval
    that ends at T. So a daily DAG run for date D is triggered at D+1 00:00, an hourly run for
    hour H at H+1. An asset-scheduled daily DAG's run for D is triggered at D 00:00.
    """
    now = dt.datetime.now(dt.UTC)
    if when is None:
        when_dt = now.replace(minute=0, second=0, microsecond=0)
        if dag_id in DAILY_DAGS:
            when_dt = when_dt.replace(hour=0) - dt.timedelta(days=1)
        elif dag_id in HOURLY_DAGS:
            when_dt -= dt.timedelta(hours=1)
        else:
            return now.isoformat()
    else:
        try:
            when_dt = dt.datetime.fromisoformat(when)
        except ValueError:
            raise ValueError(
                f"--date must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, got {when!r}"
            ) from None
        if when_dt.tzinfo is None:
            when_dt = when_dt.replace(tzinfo=dt.UTC)
        date_only = len(when) <= 10
        if dag_id in HOURLY_DAGS and date_only:
            when_dt += dt.timedelta(hours=23)  # a bare date: that day's last hour
    if dag_id in ASSET_DAILY_DAGS:
        end = dt.datetime.combine(when_dt.date(), dt.time(), dt.UTC)
    elif dag_id in DAILY_DAGS:
        end = dt.datetime.combine(when_dt.date(), dt.time(), dt.UTC) + dt.timedelta(days=1)
    elif dag_id in HOURLY_DAGS:
        end = when_dt.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    else:
        end = when_dt
    return end.isoformat()


def skip_pattern(only: str) -> str:
    """The ``--mark-success-pattern`` (matched against whole task ids) that marks every task
    except those matching ``only`` as success without running it."""
    try:
        re.compile(only)
    except re.error as exc:
        raise ValueError(f"--only is not a valid regex: {exc}") from None
    return f"(?!(?:{only})$).*"


def run_dag(
    dag_id: str,
    when: str | None = None,
    conf: dict | None = None,
    settings: Settings | None = None,
    extra_env: dict[str, str] | None = None,
    echo: bool = False,
    only: str | None = None,
) -> DagRunResult:
    """One DAG run for the interval ``when`` (see :func:`run_dags`)."""
    return run_dags(dag_id, [when], conf, settings, extra_env, echo, only)[0]


def run_dags(
    dag_id: str,
    whens: list[str | None],
    conf: dict | None = None,
    settings: Settings | None = None,
    extra_env: dict[str, str] | None = None,
    echo: bool = False,
    only: str | None = None,
) -> list[DagRunResult]:
    """DAG runs for the intervals ``whens``, one after the other (``backfill_dates_per_process``
    dates per Airflow process), stopping at the first run that does not succeed. ``only``: a
    regex of the task ids to run; the others are marked success without running (re-running
    part of an interval whose other tasks already ran).
    Returns the runs that were made, the last one failed if the backfill stopped."""
    from infra.airflow_env import airflow_environ, ensure_airflow_db
    from infra.migrations import migrate
    from infra.stack import Stack

    if not whens:
        raise ValueError("no interval to run")
    logicals = [logical_date_for(dag_id, when) for when in whens]
    extra: list[str] = []
    if conf:
        extra += ["--conf", json.dumps(conf)]
    if only:
        extra += ["--mark-success-pattern", skip_pattern(only)]
    settings = settings or get_settings()
    endpoints = Stack(settings).up()
    migrate(endpoints.postgres)
    ensure_airflow_db(settings)
    env = {**os.environ, **airflow_environ(settings, endpoints), **(extra_env or {})}
    log_dir = Path(settings.home) / "logs" / "dag-runs"
    log_dir.mkdir(parents=True, exist_ok=True)
    results: list[DagRunResult] = []
    size = settings.backfill_dates_per_process
    for batch in (logicals[i : i + size] for i in range(0, len(logicals), size)):
        # One Airflow process (and, in process, one Spark driver) per batch of dates: the
        # starts are paid once per batch, and a long backfill never carries one batch's driver
        # memory into the next.
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        span = batch[0][:19] if len(batch) == 1 else f"{batch[0][:10]}--{batch[-1][:10]}"
        log_path = log_dir / f"{dag_id}-{span.replace(':', '')}-{stamp}.log"
        cmd = [sys.executable, "-m", "orchestration.dagtest", dag_id, *batch, *extra]
        reports: list[dict] = []
        with open(log_path, "w", buffering=1) as log:  # line-buffered: follow it with tail -f
            proc = subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if echo:
                    sys.stderr.write(line)
                if line.startswith(MARKER):
                    reports.append(json.loads(line[len(MARKER) :]))
            proc.wait()
        for i, logical in enumerate(batch):
            # the process reports each date in order and stops at the first that fails
            report = reports[i] if i < len(reports) else {}
            state = report.get("state") or "failed"
            if proc.returncode != 0 and state == "success" and i == len(reports) - 1:
                state = "failed"
            results.append(
                DagRunResult(
                    dag_id,
                    logical,
                    report.get("run_id"),
                    state,
                    str(log_path),
                    report.get("tasks") or [],
                )
            )
            if state != "success":
                return results
    return results
