"""Job name -> module. Every module listed has ``run(spark, settings, ds) -> dict``."""

from __future__ import annotations

import importlib
from types import ModuleType

JOBS: dict[str, str] = {
    "ingest": "jobs.ingest",
    "silver": "jobs.silver",
    "gold": "jobs.gold",
    "quality_gate": "jobs.quality_gate",
    "maintenance": "jobs.maintenance",
    "publish_postgres": "jobs.publish_postgres",
    "publish_feeds": "jobs.publish_feeds",
    "flush_counters": "jobs.flush_counters",
    "features": "jobs.features",
    "embeddings": "jobs.embeddings",
    "exploration": "jobs.exploration",
    "candidates": "jobs.candidates",
    "train_ranker": "jobs.train_ranker",
    "rank": "jobs.rank",
    "evaluate": "jobs.evaluate",
}


def job_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(JOBS[name])
    except KeyError:
        raise KeyError(f"unknown job {name!r}; known jobs: {', '.join(sorted(JOBS))}") from None
