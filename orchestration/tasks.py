"""The Spark tasks of the lake pipeline and of ``fyp_nightly``, in order, as data.

``fyp build`` walks these lists and ``fyp job`` reads which quality gate follows a job from
them; ``tests/test_build_tasks.py`` checks the nightly list against the DAG's own tasks, so
the command and the DAG cannot drift apart. Each task names a job of ``jobs/registry.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GATE_JOB = "quality_gate"


@dataclass(frozen=True)
class Task:
    task_id: str
    job: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def gate_layer(self) -> str | None:
        """The layer (or table) this task validates, if it is a quality gate."""
        return self.params.get("layer") if self.job == GATE_JOB else None


def _gate(layer: str, task_id: str | None = None) -> Task:
    return Task(task_id or f"quality_gate_{layer}", GATE_JOB, {"layer": layer})


#: One arrival interval into the lake, each layer gated (``fyp build`` and the tests run it with
#: ``orchestration.inprocess.run_tasks``; the hourly DAG runs the first half of it).
LAKE_TASKS: tuple[Task, ...] = (
    Task("ingest", "ingest"),
    _gate("bronze"),
    Task("silver", "silver"),
    _gate("silver"),
    Task("gold", "gold"),
    _gate("gold"),
)

#: ``dags/fyp_nightly.py``'s Spark tasks in its order (the report task is Airflow's own).
NIGHTLY_TASKS: tuple[Task, ...] = (
    Task("features", "features"),
    Task("embeddings", "embeddings"),
    Task("exploration_pool", "exploration"),
    Task("candidates", "candidates"),
    Task("train_ranker", "train_ranker"),
    Task("ranking", "rank"),
    _gate("gold.feeds", "quality_gate_feeds"),
    Task("embeddings_to_pgvector", "publish_postgres"),
    Task("publish_feeds", "publish_feeds", {"datasets": "all"}),
    Task("gold_analytics", "gold"),
    _gate("gold"),
    Task("evaluation", "evaluate"),
)

#: Tasks that write to the serving stores (skipped when there is nothing to publish).
PUBLISH_JOBS = frozenset({"publish_postgres", "publish_feeds"})


def through(tasks: tuple[Task, ...], task_id: str) -> tuple[Task, ...]:
    """``tasks`` up to and including ``task_id`` (the nightly's engine: through ``ranking``)."""
    ids = [t.task_id for t in tasks]
    if task_id not in ids:
        raise KeyError(f"no task {task_id!r} in {ids}")
    return tasks[: ids.index(task_id) + 1]


def gate_after(job: str) -> str | None:
    """The layer whose gate the pipelines run right after ``job`` (None: no gate follows it)."""
    for tasks in (LAKE_TASKS, NIGHTLY_TASKS):
        for task, following in zip(tasks, tasks[1:], strict=False):
            if task.job == job and following.gate_layer:
                return following.gate_layer
    return None
