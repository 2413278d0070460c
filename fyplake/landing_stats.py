"""Counts of what sits in the landing zone (for `fyp demo` and operators' sanity checks)."""

from __future__ import annotations

from fyplake import storage
from fyplake.config import Settings, get_settings
from fyplake.landing import ENTITIES, landing_root


def landing_counts(settings: Settings | None = None) -> dict[str, tuple[int, int]]:
    """entity -> (files, records), counting lines without parsing them."""
    settings = settings or get_settings()
    root = landing_root(settings)
    out: dict[str, tuple[int, int]] = {}
    for entity in ENTITIES:
        files = storage.glob(storage.join(root, entity, "date=*", "hour=*", "*.jsonl"), settings)
        records = 0
        for path in files:
            with storage.open_read(path, settings) as fh:
                records += sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 20), b""))
        out[entity] = (len(files), records)
    return out
