"""Run a DAG through Airflow itself (``airflow dags test``) for one data interval, from Python.

This is what ``fyp run`` and ``fyp demo`` use: a real DAG run with real task instances in the
FYP_HOME's Airflow metadata DB, executed in-process by Airflow (no scheduler needed).
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

#: DAG id -> length of its data interval (a run for date D covers [D, D + interval) for daily
#: DAGs; for the hourly DAG a bare date means its last hour).
DAILY_DAGS = {"fyp_nightly", "fyp_maintenance"}
HOURLY_DAGS = {"fyp_hourly"}

_FINISHED = re.compile(r"DagRun Finished: dag_id=(?P<dag>[^,]+), .*?run_id=(?P<run>[^,]+), .*?state=(?P<state>\w+)")


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

    Our DAGs use data-interval timetables; a manual run at T covers the interval that ends at T.
    So a daily DAG run for date D is triggered at D+1 00:00, an hourly run for hour H at H+1.
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
            raise ValueError(f"--date must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, got {when!r}") from None
        if when_dt.tzinfo is None:
            when_dt = when_dt.replace(tzinfo=dt.UTC)
        date_only = len(when) <= 10
        if dag_id in HOURLY_DAGS and date_only:
            when_dt += dt.timedelta(hours=23)  # a bare date: that day's last hour
    if dag_id in DAILY_DAGS:
        end = dt.datetime.combine(when_dt.date(), dt.time(), dt.UTC) + dt.timedelta(days=1)
    elif dag_id in HOURLY_DAGS:
        end = when_dt.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    else:
        end = when_dt
    return end.isoformat()


def run_dag(
    dag_id: str,
    when: str | None = None,
    conf: dict | None = None,
    settings: Settings | None = None,
    extra_env: dict[str, str] | None = None,
    echo: bool = False,
) -> DagRunResult:
    from infra.airflow_env import airflow_environ, ensure_airflow_db
    from infra.migrations import migrate
    from infra.stack import Stack

    settings = settings or get_settings()
    endpoints = Stack(settings).up()
    migrate(endpoints.postgres)
    ensure_airflow_db(settings)
    logical = logical_date_for(dag_id, when)
    env = {**os.environ, **airflow_environ(settings, endpoints), **(extra_env or {})}
    cmd = [sys.executable, "-m", "airflow", "dags", "test", dag_id, logical]
    if conf:
        cmd += ["-c", json.dumps(conf)]
    log_dir = Path(settings.home) / "logs" / "dag-runs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    log_path = log_dir / f"{dag_id}-{logical[:19].replace(':', '')}-{stamp}.log"
    run_id, state = None, "failed"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if echo:
                sys.stderr.write(line)
            match = _FINISHED.search(line)
            if match:
                run_id, state = match.group("run"), match.group("state")
        proc.wait()
    if proc.returncode != 0 and state == "success":
        state = "failed"
    tasks = task_states(dag_id, run_id, env) if run_id else []
    return DagRunResult(dag_id, logical, run_id, state, str(log_path), tasks)


def task_states(dag_id: str, run_id: str, env: dict[str, str]) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "tasks", "states-for-dag-run", dag_id, run_id,
         "--output", "json"],
        env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        return []
    try:
        start = proc.stdout.index("[")
        rows = json.loads(proc.stdout[start:])
    except ValueError:
        return []
    return [
        {"task_id": r.get("task_id"), "state": r.get("state"), "map_index": r.get("map_index")}
        for r in rows
    ]
