"""Where a DAG run's files live: each task's result JSON (its XCom) and the nightly reports.

With a local lake they sit under ``$FYP_HOME``; with a lake in an object store, beside the lake
(``<lake>/_runs``, ``<lake>/_reports``), because the driver that writes a result, the Airflow
worker that reads it back and the report task may each run on a different machine. The
leading underscore keeps them out of Spark's and Delta's view of the lake's tables.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fyplake import storage
from fyplake.config import Settings

logger = logging.getLogger(__name__)


def _safe(name: str) -> str:
    return str(name).replace(":", "_").replace("+", "_").replace("/", "_")


def run_dir(settings: Settings, dag_id: str, run_id: str) -> str | Path:
    """``<runs>/<dag_id>/<run_id>``, the run id file-safe (``:``, ``+``, ``/`` -> ``_``)."""
    if settings.lake_is_local:
        return Path(settings.home) / "runs" / dag_id / _safe(run_id)
    return storage.join(settings.lake, "_runs", dag_id, _safe(run_id))


def reports_dir(settings: Settings) -> str | Path:
    if settings.lake_is_local:
        return Path(settings.home) / "reports" / "nightly"
    return storage.join(settings.lake, "_reports", "nightly")


def report_path(settings: Settings, ds: str, run_id: str) -> str | Path:
    return storage.join(reports_dir(settings), ds, f"{_safe(run_id)}.html")


def write_result(location: str | Path, result: Any, settings: Settings | None = None) -> Any:
    """Write a task's result JSON; returns it as a reader will see it (JSON-safe, for XCom)."""
    text = json.dumps(result, default=str)
    storage.write_atomic(location, text.encode(), settings)
    return json.loads(text)


def read_result(location: str | Path, settings: Settings | None = None) -> Any | None:
    """The result JSON at ``location``; ``None`` if there is none."""
    try:
        with storage.open_read(location, settings) as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        return None


def read_results(run: str | Path, settings: Settings | None = None) -> dict[str, Any]:
    """Every task result of a run, by task id (unreadable ones skipped)."""
    results = {}
    for path in storage.glob(storage.join(run, "*.json"), settings):
        try:
            results[Path(str(path)).stem] = read_result(path, settings)
        except json.JSONDecodeError:
            logger.warning("unreadable job result %s", path)
    return results
