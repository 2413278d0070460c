"""Throw-away test homes (FYP_HOME) and the cleanup after a killed test run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

#: In each throw-away test home: the pid of the pytest process that owns it.
OWNER_FILE = ".pytest-owner"


def own_home(home: str | Path) -> None:
    """Mark a throw-away test home as this process's (see :func:`reap_dead_sessions`)."""
    Path(home, OWNER_FILE).write_text(str(os.getpid()))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_sessions() -> None:
    """A killed test run leaves its homes and their embedded Postgres and Valkey behind: delete
    the homes whose owning pytest process is gone, then stop the servers left without a
    directory (``infra.orphans``). Homes of live sessions, and kept ones, have a live or no
    owner and are left alone."""
    from infra.orphans import stop_orphans

    for owner in Path(tempfile.gettempdir()).glob(f"fyp-*/{OWNER_FILE}"):
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(owner.parent, ignore_errors=True)
    stop_orphans()
