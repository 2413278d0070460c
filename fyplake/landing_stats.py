"""Counts of what sits in the landing zone (for `fyp demo` and operators' sanity checks)."""

from __future__ import annotations

from pathlib import Path

from fyplake.config import Settings, get_settings
from fyplake.landing import ENTITIES


def landing_root(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return Path(settings.lake) / "landing"


def landing_counts(settings: Settings | None = None) -> dict[str, tuple[int, int]]:
    """entity -> (files, records), counting lines without parsing them."""
    root = landing_root(settings)
    out: dict[str, tuple[int, int]] = {}
    for entity in ENTITIES:
        files = sorted((root / entity).glob("date=*/hour=*/*.jsonl"))
        records = 0
        for path in files:
            with open(path, "rb") as fh:
                records += sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 20), b""))
        out[entity] = (len(files), records)
    return out
