"""Every DAG imports cleanly and cheaply, and follows the house rules (tags, owner, retries,
no cycles)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infra.airflow_env import DAGS_FOLDER, airflow_environ

pytestmark = pytest.mark.airflow

EXPECTED_DAGS = {"fyp_hourly", "fyp_nightly", "fyp_maintenance", "video_transcode"}


@pytest.fixture(scope="module")
def dagbag(settings):
    os.environ.update(airflow_environ(settings))
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_all_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert EXPECTED_DAGS <= set(dagbag.dag_ids)


def test_house_rules(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
        # topological sort raises on a cycle
        assert len(dag.topological_sort()) == len(dag.tasks)


def test_dag_files_are_cheap_to_import(settings):
    """No Spark, pandas, psycopg or FastAPI at DAG-parse time; parse well within the timeout."""
    code = (
        "import sys, time, runpy, glob\n"
        f"sys.path.insert(0, {str(DAGS_FOLDER)!r})\n"
        "import airflow.sdk\n"
        "import airflow.providers.apache.spark.operators.spark_submit\n"
        "before = set(sys.modules)\n"
        "t = time.monotonic()\n"
        f"for f in sorted(glob.glob({str(DAGS_FOLDER / '*.py')!r})):\n"
        "    runpy.run_path(f)\n"
        "print(round(time.monotonic() - t, 2))\n"
        "heavy = [m for m in ('pyspark', 'pandas', 'psycopg', 'fastapi', 'great_expectations', "
        "'av', 'boto3', 'numpy') if m in sys.modules and m not in before]\n"
        "print(','.join(heavy))\n"
    )
    env = {**os.environ, **airflow_environ(settings)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    seconds, heavy = float(out[0]), out[1]
    assert heavy == "", f"DAG files import heavy modules at parse time: {heavy}"
    assert seconds < 5, f"parsing all DAG files took {seconds}s"


def test_nightly_evaluation_can_be_left_out_of_a_run(dagbag, monkeypatch):
    """`--conf '{"evaluate": false}'` skips the evaluation task (a long backfill's biggest
    cost on a small world) and the run report still runs after it; a deployment can leave it
    out of the runs that do not say (the Asset-scheduled ones), and a run's conf still wins."""
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowSkipException

    from fyplake.config import Settings
    from orchestration.spark_submit import run_param

    def run(conf: dict) -> SimpleNamespace:
        return SimpleNamespace(conf=conf)

    dag = dagbag.dags["fyp_nightly"]
    assert dag.params["evaluate"] is True
    evaluation = dag.get_task("evaluation")
    with pytest.raises(AirflowSkipException, match="'evaluate' is false"):
        evaluation.execute({"params": {"evaluate": False}, "dag_run": run({"evaluate": False})})
    assert dag.get_task("report").trigger_rule == "none_failed"
    assert evaluation.downstream_task_ids == {"report"}

    scheduled = {"params": {"evaluate": True}, "dag_run": run({})}
    assert run_param(scheduled, "evaluate", Settings()) is True
    off = Settings(nightly_evaluate=False)
    assert run_param(scheduled, "evaluate", off) is False
    asked = {"params": {"evaluate": True}, "dag_run": run({"evaluate": True})}
    assert run_param(asked, "evaluate", off) is True
    monkeypatch.setenv("FYP_NIGHTLY_EVALUATE", "false")
    with pytest.raises(AirflowSkipException, match="'evaluate' is false"):
        evaluation.execute(scheduled)


def test_every_spark_tasks_parameters_are_its_jobs(dagbag):
    """A job refuses a parameter its ``run`` does not take, at run time: catch it at parse time.
    (The hourly features run reuses the nightly's cold-start prior through one.)"""
    import inspect

    from jobs.registry import job_module
    from orchestration.spark_submit import FypSparkSubmitOperator

    seen = {}
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if isinstance(task, FypSparkSubmitOperator):
                takes = inspect.signature(job_module(task.job).run).parameters
                unknown = set(task.job_params) - set(takes)
                assert not unknown, f"{dag.dag_id}.{task.task_id}: {task.job} takes no {unknown}"
                seen[(dag.dag_id, task.task_id)] = dict(task.job_params)
    assert seen[("fyp_hourly", "features")] == {"cold_prior": "reuse"}
    assert seen[("fyp_nightly", "features")] == {}
