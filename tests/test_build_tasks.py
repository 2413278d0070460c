"""`fyp build` walks orchestration.tasks.NIGHTLY_TASKS: it must be fyp_nightly's own
Spark tasks, in the DAG's order, with the same jobs and parameters."""

from __future__ import annotations

import os

import pytest

from infra.airflow_env import DAGS_FOLDER, airflow_environ
from orchestration.tasks import NIGHTLY_TASKS, Task, gate_after

pytestmark = pytest.mark.airflow


def test_nightly_tasks_are_the_dags(settings):
    os.environ.update(airflow_environ(settings))
    from airflow.dag_processing.dagbag import DagBag

    from orchestration.spark_submit import FypSparkSubmitOperator

    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["fyp_nightly"]
    spark_tasks = [t for t in dag.topological_sort() if isinstance(t, FypSparkSubmitOperator)]
    assert [Task(t.task_id, t.job, dict(t.job_params)) for t in spark_tasks] == list(NIGHTLY_TASKS)


def test_gates_follow_the_jobs_that_write_gated_tables():
    assert {j: gate_after(j) for j in ("ingest", "silver", "gold", "rank", "features")} == {
        "ingest": "bronze",
        "silver": "silver",
        "gold": "gold",
        "rank": "gold.feeds",
        "features": None,
    }
