"""Airflow Connections -> the FYP_* settings a task (or its spark-submit child) runs with."""

from __future__ import annotations

import logging
from urllib.parse import quote

logger = logging.getLogger(__name__)


def _get(conn_id: str):  # noqa: ANN202 - airflow's Connection
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - an undefined connection means "use the default"
        return None


def postgres_dsn_from(conn) -> str:  # noqa: ANN001
    extra = dict(conn.extra_dejson or {})
    user = quote(conn.login or "", safe="")
    password = f":{quote(conn.password, safe='')}" if conn.password else ":"
    host = conn.host or ""
    db = conn.schema or "postgres"
    if host.startswith("/"):  # Unix-socket directory
        extra["host"] = host
        hostport = ""
    else:
        hostport = host + (f":{conn.port}" if conn.port else "")
    query = "&".join(f"{k}={v}" for k, v in extra.items() if isinstance(v, str | int))
    return f"postgresql://{user}{password}@{hostport}/{db}" + (f"?{query}" if query else "")


def valkey_url_from(conn) -> str:  # noqa: ANN001
    extra = conn.extra_dejson or {}
    scheme = "rediss" if extra.get("ssl") else "redis"
    auth = f":{quote(conn.password, safe='')}@" if conn.password else ""
    return f"{scheme}://{auth}{conn.host or '127.0.0.1'}:{conn.port or 6379}/{extra.get('db', 0)}"


def endpoint_env() -> dict[str, str]:
    """FYP_* variables for the endpoints defined as Airflow Connections (absent ones left out)."""
    from infra.airflow_env import CONN_POSTGRES, CONN_S3, CONN_SPARK, CONN_VALKEY

    env: dict[str, str] = {}
    if (conn := _get(CONN_POSTGRES)) is not None:
        env["FYP_POSTGRES_DSN"] = postgres_dsn_from(conn)
    if (conn := _get(CONN_VALKEY)) is not None:
        env["FYP_VALKEY_URL"] = valkey_url_from(conn)
    if (conn := _get(CONN_SPARK)) is not None and conn.host:
        master = (
            conn.host
            if ("://" in conn.host or conn.host.startswith("local"))
            else (f"{conn.conn_type}://{conn.host}" + (f":{conn.port}" if conn.port else ""))
        )
        env["FYP_SPARK_MASTER"] = master
    if (conn := _get(CONN_S3)) is not None:
        extra = conn.extra_dejson or {}
        if extra.get("endpoint_url"):
            env["FYP_S3_ENDPOINT_URL"] = extra["endpoint_url"]
        if extra.get("region_name"):
            env["FYP_S3_REGION"] = extra["region_name"]
        if conn.login:
            env["AWS_ACCESS_KEY_ID"] = conn.login
        if conn.password:
            env["AWS_SECRET_ACCESS_KEY"] = conn.password
    return env


def apply_endpoint_env() -> dict[str, str]:
    """Put the Connection endpoints into this process's environment and reload the settings."""
    import os

    from fyplake.config import reload_settings

    env = endpoint_env()
    os.environ.update(env)
    reload_settings()
    return env
