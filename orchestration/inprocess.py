"""A job run the way an in-process DAG task runs it: the job's entry point on this process's
Spark session, with what it cached released afterwards.

The in-process Spark operator, ``fyp job`` and ``fyp build`` all call :func:`run_task`, so a
job behaves the same whichever of them runs it; :func:`run_tasks` walks a task list
(``orchestration.tasks.LAKE_TASKS``, ``NIGHTLY_TASKS``) through it (``fyp build``, tests).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fyplake.config import Settings
    from orchestration.tasks import Task

#: ``stage(task)``: a context around one task that yields a callback taking its result.
Stage = Callable[["Task"], contextlib.AbstractContextManager[Callable[[dict], None]]]


def run_task(
    job: str,
    ds: dt.date,
    params: dict[str, Any] | None = None,
    spark: Any = None,
    settings: Settings | None = None,
) -> dict:
    """Run registered ``job`` for interval ``ds``; returns its (strict JSON) result.
    ``settings``: the job's settings (default: ``get_settings()``)."""
    from jobs._entry import run_job
    from jobs.registry import job_module

    try:
        return run_job(
            job,
            job_module(job).run,
            ds,
            spark=spark,
            params={k: str(v) for k, v in (params or {}).items()},
            settings=settings,
        )
    finally:
        drop_cached_data()


@contextlib.contextmanager
def _silent(task: Task) -> Iterator[Callable[[dict], None]]:
    yield lambda result: None


def run_tasks(
    tasks: Iterable[Task],
    ds: dt.date,
    *,
    spark: Any = None,
    settings: Settings | None = None,
    gates: bool = True,
    params: dict[str, dict[str, Any]] | None = None,
    skip: Callable[[Task], bool] | None = None,
    stage: Stage | None = None,
) -> dict[str, dict]:
    """Run ``tasks`` in order for interval ``ds``, each through :func:`run_task`; returns each
    task id's result. A failing task (a quality gate that fails) raises and stops the rest.

    ``gates=False`` leaves the quality gates out; ``params``: extra parameters by job name
    (``{"ingest": {"force": True}, "quality_gate": {"suites_dir": ...}}``), over the task's
    own; ``skip(task)``: True leaves that task out (asked just before it would run);
    ``stage(task)``: a context around each task run, yielding a callback for its result
    (``fyp build`` reports progress with it)."""
    from orchestration.tasks import GATE_JOB

    out: dict[str, dict] = {}
    for task in tasks:
        if (not gates and task.job == GATE_JOB) or (skip is not None and skip(task)):
            continue
        with (stage or _silent)(task) as note:
            extra = (params or {}).get(task.job) or {}
            result = run_task(
                task.job, ds, {**task.params, **extra}, spark=spark, settings=settings
            )
            note(result)
        out[task.task_id] = result
    return out


def drop_cached_data() -> None:
    """Unpersist everything the job cached: a submitted job's cache dies with its application,
    and in process the session outlives the job (later tasks, every date of a backfill), so
    without this the cached frames of every task pile up in the driver until it runs out of
    memory."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    sc = SparkContext._active_spark_context  # noqa: SLF001
    if sc is None:
        return
    SparkSession.builder.getOrCreate().catalog.clearCache()  # the running session
    for rdd in list(sc._jsc.getPersistentRDDs().values()):  # noqa: SLF001
        rdd.unpersist(False)
