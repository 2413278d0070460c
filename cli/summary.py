"""Short console descriptions of job results: a count and a range instead of long lists, one
line per job (the full result stays available through --json)."""

from __future__ import annotations

import datetime as dt
from typing import Any


def _is_date(value: Any) -> bool:
    if isinstance(value, dt.date):
        return True
    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def brief(value: Any, limit: int = 3) -> Any:
    """A list longer than ``limit`` as its count (and range, for dates); anything else as is."""
    if not isinstance(value, list | tuple) or len(value) <= limit:
        return value
    if all(_is_date(v) for v in value):
        days = sorted(str(v) for v in value)
        return f"{len(days)} dates, {days[0]}..{days[-1]}"
    return f"{len(value)} items"


def dates(values: list) -> str:
    """``"none"``, one date, or ``"N dates, first..last"``."""
    if not values:
        return "none"
    return str(values[0]) if len(values) == 1 else brief(list(values), limit=1)


def describe(job: str, result: dict) -> str:
    """One line on what ``job`` did, from its result."""
    if job == "ingest":
        return (
            f"{result.get('files_consumed', 0):,} files, {result.get('accepted', 0):,} accepted, "
            f"{result.get('quarantined', 0):,} quarantined; event dates: "
            + dates(result.get("event_dates") or [])
        )
    if job == "silver":
        return "watch history rebuilt for " + dates(result.get("dates") or [])
    if job == "gold":
        lo, hi = result.get("date_range") or ["?", "?"]
        return f"daily stats rebuilt for {lo}..{hi}"
    if job == "quality_gate":
        return str(result.get("message", ""))
    if job == "publish_feeds":
        parts = [
            f"{name} v{res['version']} ({res['items']:,} items)"
            for name in ("feed", "lists")
            if isinstance(res := result.get(name), dict) and "version" in res
        ]
        return "published " + (", ".join(parts) or "nothing")
    if job == "publish_postgres":
        counts = [
            f"{name.removeprefix('gold.')} {res['upserted']:,}"
            for name, res in result.items()
            if isinstance(res, dict) and "upserted" in res
        ]
        return "upserted " + ", ".join(counts)
    if job == "evaluate":
        return f"evaluation run {result.get('run_id', '?')} (holdout {result.get('holdout', '?')})"
    written = result.get("outputs") or result.get("versions") or {}
    line = "wrote " + (", ".join(f"{t} v{v}" for t, v in written.items()) or "nothing")
    if result.get("ranker_used"):
        line += f" (ranker: {result['ranker_used']})"
    return line
