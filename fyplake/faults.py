"""Fault injection for tests and drills: make a job die part-way through its work, on purpose.

A job calls :func:`maybe_fail` at a named point (for example right after the first of several
tables is written). Nothing happens unless the setting ``faults`` (``FYP_FAULTS``) names that
point::

    FYP_FAULTS="publish_feeds.partial_feed"        # fail the first time the point is reached
    FYP_FAULTS="features.partial_write=2,x.y=1"    # fail the first 2 times, and so on

Each firing is counted by a marker file under ``<home>/faults/`` (created atomically, so the count
holds across processes and across a task's retries): with ``=N`` the first N passes through the
point fail and later ones go through, which is how a test makes a task fail and its retry
succeed. The points in the code:

* ``<job>.partial_write``: a recommendation job that writes several gold tables (features,
  embeddings, exploration) dies after writing the first of them;
* ``publish_feeds.partial_feed``: publishing a feed version dies on the executors after part of
  the new version's users are written, before the version is committed;
* ``api.request``: the feed API answers a request with an unexpected error (a JSON 500 on a
  connection that stays usable: ``serving_api/guard.py``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fyplake.config import Settings, get_settings

logger = logging.getLogger(__name__)


class InjectedFault(RuntimeError):
    """Raised at a fault point named in the ``faults`` setting."""


def parse(spec: str) -> dict[str, int]:
    """``"a.b, c.d=2"`` -> ``{"a.b": 1, "c.d": 2}``."""
    points: dict[str, int] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, times = part.partition("=")
        try:
            points[name.strip()] = int(times) if times else 1
        except ValueError:
            raise ValueError(f"faults: {part!r} is not POINT or POINT=TIMES") from None
    return points


def _marker_dir(settings: Settings) -> Path:
    return Path(settings.home) / "faults"


def take(point: str, settings: Settings | None = None) -> bool:
    """True (and one firing used up) if the fault at ``point`` is armed and has firings left."""
    settings = settings or get_settings()
    times = parse(settings.faults).get(point, 0)
    if times <= 0:
        return False
    folder = _marker_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, times + 1):
        try:
            fd = os.open(folder / f"{point}.{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue
        os.close(fd)
        logger.warning("fault injected at %s (%d of %d)", point, i, times)
        return True
    return False


def maybe_fail(point: str, settings: Settings | None = None) -> None:
    """Raise :class:`InjectedFault` if the fault at ``point`` is armed (see the module doc)."""
    if take(point, settings):
        raise InjectedFault(f"injected fault at {point} (FYP_FAULTS)")


def fired(point: str, settings: Settings | None = None) -> int:
    """How many times the fault at ``point`` has fired in this FYP_HOME."""
    settings = settings or get_settings()
    folder = _marker_dir(settings)
    if not folder.exists():
        return 0
    return sum(1 for p in folder.iterdir() if p.name.rpartition(".")[0] == point)
