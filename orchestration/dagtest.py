"""``airflow dags test`` for one or more logical dates in one process, with a JSON line per run.

    python -m orchestration.dagtest DAG_ID LOGICAL_DATE [LOGICAL_DATE ...]
        [--conf JSON] [--mark-success-pattern REGEX]

Each date is Airflow's own ``dags test`` command (the same parser and ``dag.test()``), run one
after the other, stopping at the first run that does not succeed (``fyp run`` gives it a batch
of ``backfill_dates_per_process`` dates: in-process Spark tasks share one driver within a batch,
and each batch starts a fresh one). After each
run it prints one line

    FYP_DAGRUN {"dag_id", "logical_date", "run_id", "state", "tasks": [{task_id, state,
                try_number, map_index, duration_s}]}

read from the metadata DB, which ``orchestration.runner`` parses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

MARKER = "FYP_DAGRUN "


def _run_report(dag_id: str, logical_date: str) -> dict:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    when = dt.datetime.fromisoformat(logical_date)
    with create_session() as session:
        dr = session.scalars(
            select(DagRun)
            .where(DagRun.dag_id == dag_id, DagRun.logical_date == when)
            .order_by(DagRun.id.desc())
        ).first()
        if dr is None:
            return {
                "dag_id": dag_id,
                "logical_date": logical_date,
                "run_id": None,
                "state": "failed",
                "tasks": [],
            }
        tis = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == dr.run_id
            )
        ).all()
        tasks = [
            {
                "task_id": ti.task_id,
                "state": str(ti.state.value if hasattr(ti.state, "value") else ti.state or ""),
                "try_number": ti.try_number,
                "map_index": ti.map_index,
                "duration_s": round(ti.duration, 2) if ti.duration is not None else None,
            }
            for ti in sorted(
                tis,
                key=lambda t: (t.start_date or dt.datetime.max.replace(tzinfo=dt.UTC), t.task_id),
            )
        ]
        state = dr.state.value if hasattr(dr.state, "value") else str(dr.state)
        return {
            "dag_id": dag_id,
            "logical_date": logical_date,
            "run_id": dr.run_id,
            "state": state,
            "tasks": tasks,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.dagtest")
    parser.add_argument("dag_id")
    parser.add_argument("logical_dates", nargs="+")
    parser.add_argument("--conf")
    parser.add_argument("--mark-success-pattern")
    args = parser.parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # the run log is read line by line as it is written
        stream.reconfigure(line_buffering=True)

    from airflow.cli import cli_parser
    from airflow.configuration import write_default_airflow_configuration_if_needed

    write_default_airflow_configuration_if_needed()
    airflow_parser = cli_parser.get_parser()
    for logical in args.logical_dates:
        cmd = ["dags", "test", args.dag_id, logical]
        if args.conf:
            cmd += ["--conf", args.conf]
        if args.mark_success_pattern:
            cmd += ["--mark-success-pattern", args.mark_success_pattern]
        ns = airflow_parser.parse_args(cmd)
        try:
            ns.func(ns)
        except SystemExit as exc:  # `dags test` exits when the run failed
            if exc.code not in (None, 0):
                print(f"dags test {args.dag_id} {logical}: {exc}", file=sys.stderr, flush=True)
        report = _run_report(args.dag_id, logical)
        print(MARKER + json.dumps(report, default=str), flush=True)
        if report["state"] != "success":
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
