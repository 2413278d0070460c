"""Where the servers are: settings -> Postgres DSN, Valkey URL, S3 endpoint. Never starts anything.

The one resolver every library module, job and the API uses. An endpoint comes from the
settings (``FYP_POSTGRES_DSN``, ``FYP_VALKEY_URL``, ``FYP_S3_ENDPOINT_URL``; inside an Airflow
task, ``orchestration.connections`` turns the ``fyp_*`` Connections into those settings first).
When Postgres or Valkey is not configured, the embedded server of this ``FYP_HOME`` is used *if it
is running*, found by plain file reads of the state its server leaves under
``<home>/services`` (Postgres's ``postmaster.pid``; Valkey's pid file and recorded port). If it is
not running, :class:`EndpointNotConfigured` says which setting to set: a Spark executor, an
Airflow worker or an API host with a missing setting fails instead of booting its own database.

Starting the embedded servers is the application layer's job (``infra/stack.py``, called by
``fyp stack up``, ``fyp up``, ``fyp demo``, ``fyp build``, ``fyp serve`` and the test fixtures).
The file layout read here is the one ``infra/stack.py`` writes: :func:`embedded_postgres_dir`
and :func:`embedded_valkey_dir` are the single definition both sides use.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from fyplake.config import Settings, get_settings

#: The database the embedded Postgres serves (created by ``infra/stack.py``).
EMBEDDED_DATABASE = "fyplake"


class EndpointNotConfigured(RuntimeError):
    """A server endpoint is neither configured nor provided by a running embedded stack."""


@dataclass(frozen=True)
class ServerEndpoints:
    """The resolved endpoints of the servers (``s3`` None: the AWS default endpoint)."""

    postgres: str
    valkey: str
    s3: str | None


def embedded_postgres_dir(settings: Settings) -> Path:
    """The embedded Postgres's data directory (``infra/stack.py`` runs its server there)."""
    return Path(settings.services_dir) / "postgres"


def embedded_valkey_dir(settings: Settings) -> Path:
    """The embedded Valkey's directory: ``endpoint.json`` (its port), ``valkey.pid``."""
    return Path(settings.services_dir) / "valkey"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user (pgserver's user when run as root)
        return True
    return True


def running_embedded_postgres(settings: Settings | None = None) -> str | None:
    """The DSN of this home's embedded Postgres if its server is running, else None.

    Reads ``postmaster.pid`` (pid, data dir, start time, port, socket dir, host, shmem, status)
    the way pgserver builds its URI: the Unix socket when there is one, else host:port.
    """
    settings = settings or get_settings()
    pid_file = embedded_postgres_dir(settings) / "postmaster.pid"
    try:
        lines = [line.strip() for line in pid_file.read_text().splitlines()]
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    if len(lines) < 5:
        return None
    try:
        pid = int(lines[0])
        port = int(lines[3]) if lines[3] else None
    except ValueError:
        return None
    if not _pid_alive(pid):
        return None
    socket_dir = lines[4]
    host = lines[5] if len(lines) > 5 else ""
    if socket_dir:
        return f"postgresql://postgres:@/{EMBEDDED_DATABASE}?host={socket_dir}"
    if port is not None and host:
        return f"postgresql://postgres:@{host}:{port}/{EMBEDDED_DATABASE}"
    return None


def running_embedded_valkey(settings: Settings | None = None) -> str | None:
    """The URL of this home's embedded Valkey if its server is running, else None."""
    settings = settings or get_settings()
    root = embedded_valkey_dir(settings)
    try:
        pid = int((root / "valkey.pid").read_text().strip())
        port = int(json.loads((root / "endpoint.json").read_text())["port"])
    except (FileNotFoundError, NotADirectoryError, PermissionError, ValueError, KeyError):
        return None
    if not _pid_alive(pid):
        return None
    return f"redis://127.0.0.1:{port}/0"


def _missing(what: str, setting: str) -> EndpointNotConfigured:
    return EndpointNotConfigured(
        f"{what} is not configured and no embedded stack is running: "
        f"run `fyp stack up` or set {setting}"
    )


def postgres_dsn(settings: Settings | None = None) -> str:
    """``FYP_POSTGRES_DSN`` as configured (untouched), else the running embedded Postgres."""
    settings = settings or get_settings()
    if settings.postgres_dsn:
        return settings.postgres_dsn
    dsn = running_embedded_postgres(settings)
    if dsn is None:
        raise _missing("Postgres", "FYP_POSTGRES_DSN")
    return dsn


def valkey_url(settings: Settings | None = None) -> str:
    """``FYP_VALKEY_URL`` as configured (untouched), else the running embedded Valkey."""
    settings = settings or get_settings()
    if settings.valkey_url:
        return settings.valkey_url
    url = running_embedded_valkey(settings)
    if url is None:
        raise _missing("Valkey", "FYP_VALKEY_URL")
    return url


def s3_endpoint(settings: Settings | None = None) -> str | None:
    """``FYP_S3_ENDPOINT_URL`` (an S3-compatible server), or None for AWS's own endpoint."""
    settings = settings or get_settings()
    return settings.s3_endpoint_url or None


def resolve(settings: Settings | None = None) -> ServerEndpoints:
    """All three at once; raises :class:`EndpointNotConfigured` naming the first one missing."""
    settings = settings or get_settings()
    return ServerEndpoints(
        postgres=postgres_dsn(settings), valkey=valkey_url(settings), s3=s3_endpoint(settings)
    )
