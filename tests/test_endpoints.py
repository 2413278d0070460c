"""fyplake.endpoints: settings -> DSN/URL, a running embedded stack found by reading its state
files, and a clear error naming the setting otherwise. Nothing is ever started (no servers here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fyplake import endpoints
from fyplake.config import Settings
from fyplake.endpoints import EndpointNotConfigured


def _settings(tmp_path, **kw) -> Settings:
    return Settings(home=tmp_path, postgres_dsn=None, valkey_url=None, **kw)


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_nothing_configured_nothing_running_raises_naming_the_setting(tmp_path):
    settings = _settings(tmp_path)
    with pytest.raises(EndpointNotConfigured) as pg:
        endpoints.postgres_dsn(settings)
    assert str(pg.value) == (
        "Postgres is not configured and no embedded stack is running: "
        "run `fyp stack up` or set FYP_POSTGRES_DSN"
    )
    with pytest.raises(EndpointNotConfigured, match="Valkey .* set FYP_VALKEY_URL"):
        endpoints.valkey_url(settings)
    with pytest.raises(EndpointNotConfigured, match="FYP_POSTGRES_DSN"):
        endpoints.resolve(settings)
    # the library's clients resolve through the same function
    from fyplake.serving.clients import resolve_postgres_dsn, resolve_valkey_url

    with pytest.raises(EndpointNotConfigured, match="FYP_POSTGRES_DSN"):
        resolve_postgres_dsn(settings)
    with pytest.raises(EndpointNotConfigured, match="FYP_VALKEY_URL"):
        resolve_valkey_url(settings)
    # and nothing was started or created on the way
    assert not (tmp_path / "services").exists()


def test_configured_endpoints_are_returned_untouched(tmp_path):
    dsn = "postgresql://fyp:s%40cret@db.internal:6432/fyp?sslmode=require&application_name=x"
    url = "rediss://:pw@valkey.internal:6380/3"
    settings = Settings(
        home=tmp_path, postgres_dsn=dsn, valkey_url=url, s3_endpoint_url="http://minio:9000"
    )
    assert endpoints.postgres_dsn(settings) == dsn
    assert endpoints.valkey_url(settings) == url
    assert endpoints.resolve(settings) == endpoints.ServerEndpoints(
        postgres=dsn, valkey=url, s3="http://minio:9000"
    )
    assert endpoints.s3_endpoint(_settings(tmp_path)) is None  # AWS's own endpoint


def _postmaster_pid(settings: Settings, pid: int, socket_dir: str, host: str = "") -> None:
    pgdata = endpoints.embedded_postgres_dir(settings)
    pgdata.mkdir(parents=True)
    lines = [str(pid), str(pgdata), "1733400000", "5432", socket_dir, host, "0 1", "ready"]
    (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")


def _valkey_state(settings: Settings, pid: int, port: int) -> None:
    root = endpoints.embedded_valkey_dir(settings)
    root.mkdir(parents=True)
    (root / "valkey.pid").write_text(f"{pid}\n")
    (root / "endpoint.json").write_text(json.dumps({"port": port}))


def test_a_running_embedded_stack_is_found_from_its_state_files(tmp_path):
    """A live pid in the servers' state files: the embedded endpoints, built as infra/stack.py's
    servers publish them (Postgres on its Unix socket, Valkey on the recorded port)."""
    settings = _settings(tmp_path)
    _postmaster_pid(settings, os.getpid(), str(tmp_path / "services" / "postgres"))
    _valkey_state(settings, os.getpid(), 40123)
    assert endpoints.postgres_dsn(settings) == (
        f"postgresql://postgres:@/fyplake?host={tmp_path / 'services' / 'postgres'}"
    )
    assert endpoints.valkey_url(settings) == "redis://127.0.0.1:40123/0"


def test_postgres_on_tcp_when_there_is_no_socket(tmp_path):
    settings = _settings(tmp_path)
    _postmaster_pid(settings, os.getpid(), "", host="localhost")
    assert endpoints.postgres_dsn(settings) == "postgresql://postgres:@localhost:5432/fyplake"


def test_stale_state_files_are_not_a_running_stack(tmp_path):
    settings = _settings(tmp_path)
    dead = _dead_pid()
    _postmaster_pid(settings, dead, str(tmp_path))
    _valkey_state(settings, dead, 40123)
    with pytest.raises(EndpointNotConfigured, match="FYP_POSTGRES_DSN"):
        endpoints.postgres_dsn(settings)
    with pytest.raises(EndpointNotConfigured, match="FYP_VALKEY_URL"):
        endpoints.valkey_url(settings)
