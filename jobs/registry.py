"""Job name -> module. Every module listed has ``run(spark, settings, ds) -> dict`` (built on the
job skeleton, ``jobs.jobrun``) and runs as a file: ``spark-submit jobs/<stage>/<module>.py``.

The names are the user's contract (``fyp job NAME``, the DAGs' tasks); the modules are grouped by
stage: ``jobs.lake`` (landing -> bronze -> silver -> gold, gates, maintenance), ``jobs.nightly``
(the recommendation engine's jobs and its evaluation) and ``jobs.publish`` (the serving stores).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

JOBS: dict[str, str] = {
    "ingest": "jobs.lake.ingest",
    "silver": "jobs.lake.silver",
    "gold": "jobs.lake.gold",
    "quality_gate": "jobs.lake.quality_gate",
    "maintenance": "jobs.lake.maintenance",
    "features": "jobs.nightly.features",
    "embeddings": "jobs.nightly.embeddings",
    "exploration": "jobs.nightly.exploration",
    "candidates": "jobs.nightly.candidates",
    "train_ranker": "jobs.nightly.train_ranker",
    "rank": "jobs.nightly.rank",
    "evaluate": "jobs.nightly.evaluate",
    "publish_postgres": "jobs.publish.postgres",
    "publish_feeds": "jobs.publish.feeds",
    "flush_counters": "jobs.publish.counters",
}


def _known(name: str) -> str:
    try:
        return JOBS[name]
    except KeyError:
        raise KeyError(f"unknown job {name!r}; known jobs: {', '.join(sorted(JOBS))}") from None


def job_module(name: str) -> ModuleType:
    return importlib.import_module(_known(name))


def job_file(name: str) -> Path:
    """The job's module as a file (what spark-submit runs), e.g. ``jobs/lake/ingest.py``."""
    *packages, module = _known(name).split(".")
    return Path(__file__).resolve().parent.parent.joinpath(*packages, f"{module}.py")
