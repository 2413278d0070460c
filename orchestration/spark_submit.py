"""``FypSparkSubmitOperator``: a fyplake job (its module's file, ``jobs/<stage>/<module>.py``,
from ``jobs.registry``) as a real Spark application.

It is the provider's SparkSubmitOperator (connection ``spark_default``, so the same DAG runs on a
cluster) with our settings filled in at execute time: Spark conf from ``infra.spark``, Delta's
cached jars, endpoints from Airflow Connections as FYP_* environment, and the job's result JSON
(the Delta versions it read and wrote) returned as the task's XCom.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

from jobs.registry import job_file
from orchestration.defaults import LAKE_WRITERS_POOL
from orchestration.inprocess import drop_cached_data as _drop_cached_data  # noqa: F401 - tests/conftest.py
from orchestration.inprocess import run_task
from orchestration.intervals import run_ds


class FypSparkSubmitOperator(SparkSubmitOperator):
    template_fields = (*SparkSubmitOperator.template_fields, "job_params")

    def __init__(
        self,
        *,
        job: str,
        job_params: dict[str, str] | None = None,
        run_if_param: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``run_if_param``: a boolean DAG param; a run whose param is false skips this task
        (e.g. ``fyp run fyp_nightly ... --conf '{"evaluate": false}'`` in a long backfill)."""
        kwargs.setdefault("conn_id", "spark_default")
        kwargs.setdefault("name", f"fyp-{job}")
        kwargs.setdefault("pool", LAKE_WRITERS_POOL)
        super().__init__(application=str(job_file(job)), **kwargs)
        self.job = job
        self.job_params = job_params or {}
        self.run_if_param = run_if_param

    def execute(self, context: Any) -> dict | None:
        from fyplake import storage
        from fyplake.config import reload_settings
        from fyplake.run_files import read_result, run_dir
        from infra.spark import _packages, cached_jars, spark_conf
        from orchestration.connections import endpoint_env

        if self.run_if_param and not run_param(context, self.run_if_param, reload_settings()):
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(f"skipped: the run's {self.run_if_param!r} is false")
        env = endpoint_env()
        os.environ.update(env)
        settings = reload_settings()
        ds = run_ds(context).isoformat()
        run_files = run_dir(settings, self.dag_id, context["run_id"])
        result_file = storage.join(run_files, f"{self.task_id}.json")
        storage.remove(result_file)
        if settings.spark_task_mode == "inprocess":
            return self._run_in_process(ds, result_file)

        conf = spark_conf(settings, self.name)
        conf.pop("spark.master", None)  # the connection decides the master
        self.conf = {**conf, **(self.conf or {})}
        jars = cached_jars(settings, _packages(settings))
        if jars:
            self.jars = ",".join(jars)
        else:  # first run on this machine: let spark-submit resolve (and cache) them
            self.packages = ",".join(_packages(settings))
            self.conf["spark.jars.ivy"] = str(settings.cache_dir / "ivy")
        self.env_vars = {
            **(self.env_vars or {}),
            **env,
            "FYP_HOME": str(settings.home),
            "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", "python3"),
        }
        # The job's date: the interval start, or the day an asset-triggered run was for.
        args = ["--ds", ds, "--result-file", str(result_file)]
        for key, value in self.job_params.items():
            args += ["--param", f"{key}={value}"]
        self.application_args = args
        super().execute(context)
        result = read_result(result_file)
        if result is not None:
            self.log.info("job %s result: %s", self.job, result)
        return result

    def _run_in_process(self, ds: str, result_file: str | Path) -> dict:
        """The embedded default's shortcut: the same job entry point on this worker's local
        Spark session (reused by later tasks in the same process), no spark-submit JVM start."""
        from fyplake.run_files import write_result
        from jobs._entry import parse_ds

        result = run_task(self.job, parse_ds(ds), self.job_params)
        self.log.info("job %s result (in process): %s", self.job, result)
        return write_result(result_file, result)


def run_param(context: Any, name: str, settings: Any) -> bool:
    """A boolean DAG param as the run asked for it: its conf's value when the conf names it,
    else the deployment's default for runs that do not say (``FYP_NIGHTLY_<NAME>``, e.g. an
    Asset-scheduled nightly), else the DAG's default."""
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    if name in conf:
        return bool(conf[name])
    deployment_default = getattr(settings, f"nightly_{name}", None)
    if deployment_default is not None:
        return bool(deployment_default)
    return bool((context.get("params") or {}).get(name, True))
