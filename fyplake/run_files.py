"""Where a DAG run's files live: each task's result JSON (its XCom) and the report's inputs."""

from __future__ import annotations

from pathlib import Path

from fyplake.config import Settings


def run_dir(settings: Settings, dag_id: str, run_id: str) -> Path:
    """``$FYP_HOME/runs/<dag_id>/<run_id>``, the run id file-safe (``:`` and ``+`` -> ``_``)."""
    safe = str(run_id).replace(":", "_").replace("+", "_")
    return Path(settings.home) / "runs" / dag_id / safe
