"""The Airflow environment of one FYP_HOME: home, DAGs folder, and Connections for our endpoints.

Connections come from the environment (``AIRFLOW_CONN_*``) unless the user already defined them,
so a real deployment sets its own ``spark_default`` / ``fyp_postgres`` / ``fyp_valkey`` /
``fyp_s3`` and the embedded default needs nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from fyplake.config import REPO_ROOT, Settings, get_settings

DAGS_FOLDER = REPO_ROOT / "dags"

CONN_SPARK = "spark_default"
CONN_POSTGRES = "fyp_postgres"
CONN_VALKEY = "fyp_valkey"
CONN_S3 = "fyp_s3"

#: The Airflow pool every task that writes the lake or the serving stores runs in (the DAGs'
#: defaults, ``orchestration.defaults``). ``ensure_airflow_db`` creates it with one slot, so the
#: hourly, nightly and maintenance DAGs' writers take turns task by task and OPTIMIZE/VACUUM
#: never overlaps a writer. Maintenance asks for ``LAKE_WRITER_SLOTS`` slots, the whole pool:
#: a deployment that wants two writers at once raises both together.
LAKE_WRITERS_POOL = "fyp_lake_writers"
LAKE_WRITER_SLOTS = 1


def _postgres_conn(dsn: str) -> str:
    """A DSN as an Airflow connection JSON (keeps Unix-socket hosts given as ?host=...)."""
    parts = urlsplit(dsn)
    query = dict(q.split("=", 1) for q in parts.query.split("&") if "=" in q)
    host = query.pop("host", parts.hostname or "")
    conn = {
        "conn_type": "postgres",
        "host": host,
        "login": parts.username or "",
        "password": parts.password or "",
        "schema": parts.path.lstrip("/"),
        "extra": query,
    }
    if parts.port:
        conn["port"] = parts.port
    return json.dumps(conn)


def _valkey_conn(url: str) -> str:
    parts = urlsplit(url)
    conn = {
        "conn_type": "redis",
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 6379,
        "password": parts.password or "",
        "extra": {"db": int(parts.path.lstrip("/") or 0), "ssl": parts.scheme == "rediss"},
    }
    return json.dumps(conn)


def airflow_environ(settings: Settings | None = None, endpoints=None) -> dict[str, str]:  # noqa: ANN001
    """Environment variables that make `airflow ...` run against this FYP_HOME."""
    settings = settings or get_settings()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        "AIRFLOW_HOME": settings.airflow_home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "utc",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # first retry after 30 s (then exponential back-off, orchestration.defaults)
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": os.environ.get(
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY", "30"
        ),
        "AIRFLOW__API__PORT": os.environ.get("AIRFLOW__API__PORT", "8080"),
        "FYP_HOME": str(settings.home),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
    }
    if endpoints is not None:
        defaults = {
            CONN_SPARK: json.dumps({"conn_type": "spark", "host": settings.spark_master}),
            CONN_POSTGRES: _postgres_conn(endpoints.postgres),
            CONN_VALKEY: _valkey_conn(endpoints.valkey),
        }
        if settings.s3_endpoint_url:
            defaults[CONN_S3] = json.dumps(
                {
                    "conn_type": "aws",
                    "extra": {
                        "endpoint_url": settings.s3_endpoint_url,
                        "region_name": settings.s3_region,
                    },
                }
            )
        for conn_id, value in defaults.items():
            var = f"AIRFLOW_CONN_{conn_id.upper()}"
            env[var] = os.environ.get(var, value)
    return env


def ensure_airflow_db(settings: Settings | None = None) -> None:
    """`airflow db migrate` and the lake writers' pool, once per FYP_HOME (a stamp file
    remembers the Airflow version and the pool it made)."""
    settings = settings or get_settings()
    home = Path(settings.airflow_home)
    home.mkdir(parents=True, exist_ok=True)
    import airflow

    stamp = home / ".fyp-db-migrated"
    done = f"{airflow.__version__} {LAKE_WRITERS_POOL}={LAKE_WRITER_SLOTS}"
    if stamp.exists() and stamp.read_text().strip() == done:
        return
    env = {**os.environ, **airflow_environ(settings)}
    steps = (
        ["db", "migrate"],
        [
            "pools",
            "set",
            LAKE_WRITERS_POOL,
            str(LAKE_WRITER_SLOTS),
            "Tasks that write the lake or the serving stores (fyp_hourly, fyp_nightly, "
            "fyp_maintenance): one at a time, so maintenance never overlaps a writer",
        ],
    )
    for args in steps:
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
    stamp.write_text(done)
