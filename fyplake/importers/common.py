"""What every importer shares: a chunked landing writer and the rating -> engagement mapping."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fyplake.config import Settings
from fyplake.landing import iso_utc, landing_root, write_records

#: Imported items have no duration; they are treated as clips of this length.
NOMINAL_DURATION_MS = 60_000
#: A normalised rating at or below this is a skip; the rest are watches.
SKIP_AT_OR_BELOW = 0.2
#: A normalised rating at or above this adds a like; at 1.0 (the top rating) also a share.
LIKE_AT_OR_ABOVE = 0.8
SHARE_AT_OR_ABOVE = 1.0
#: The creator of an imported item: none. A rating log names no uploader, and inventing one
#: would add a user who never watched anything (and gets a feed) and give every item the same
#: creator, so creator features and diversity would be constant. Landed as an explicit null.
NO_CREATOR = None


@dataclass
class ImportSummary:
    source: str
    input: str
    arrival_hour: str
    records: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "input": self.input,
            "arrival_hour": self.arrival_hour,
            "records": self.records,
            "files": self.files,
        }


class LandingWriter:
    """Buffers records per entity and writes them as landing files of ``chunk`` records.

    File names are deterministic (producer, entity, input digest, chunk number), so importing
    the same input twice within one arrival hour rewrites the same files instead of adding
    copies; a later re-import lands new files whose events the ingest reports as duplicates.
    """

    def __init__(
        self,
        settings: Settings,
        source: str,
        input_path: Path,
        arrival: dt.datetime | None = None,
        chunk: int = 100_000,
    ) -> None:
        self.settings = settings
        self.root = landing_root(settings)
        self.source = source
        self.arrival = (arrival or dt.datetime.now(dt.UTC)).replace(
            minute=0, second=0, microsecond=0
        )
        self.chunk = chunk
        self.digest = _digest(input_path)
        self.buffers: dict[str, list[Mapping[str, Any]]] = {}
        self.chunks: dict[str, int] = {}
        self.summary = ImportSummary(
            source=source,
            input=str(input_path),
            arrival_hour=self.arrival.strftime("%Y-%m-%dT%H:00Z"),
        )

    def add(self, entity: str, record: Mapping[str, Any]) -> None:
        buf = self.buffers.setdefault(entity, [])
        buf.append(record)
        self.summary.records[entity] = self.summary.records.get(entity, 0) + 1
        if len(buf) >= self.chunk:
            self._flush(entity)

    def _flush(self, entity: str) -> None:
        buf = self.buffers.get(entity)
        if not buf:
            return
        n = self.chunks.get(entity, 0)
        self.chunks[entity] = n + 1
        path = write_records(
            self.root,
            entity,
            buf,
            producer=self.source,
            arrival=self.arrival,
            token=f"{entity}-{self.digest}-{n:05d}",
            settings=self.settings,
        )
        if path is not None:
            self.summary.files.append(str(path))
        self.buffers[entity] = []

    def close(self) -> ImportSummary:
        for entity in ("users", "sounds", "videos", "events"):
            self._flush(entity)
        return self.summary


def _digest(path: Path) -> str:
    """A short digest of the input's name, size and mtime (cheap; not of its bytes)."""
    h = hashlib.sha1()
    for p in sorted(path.iterdir()) if path.is_dir() else [path]:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def epoch_to_iso(seconds: float) -> str:
    return iso_utc(dt.datetime.fromtimestamp(seconds, dt.UTC))


def parse_time(value: str) -> str | None:
    """Epoch seconds (or milliseconds if > 1e11) or an ISO-8601 / 'YYYY-MM-DD HH:MM:SS' string
    -> the landing spelling; None if unreadable (the caller then lands the raw value)."""
    text = (value or "").strip()
    if not text or text.lower() == "nan":
        return None
    try:
        num = float(text)
    except ValueError:
        num = None
    if num is not None:
        if num != num:  # NaN
            return None
        return epoch_to_iso(num / 1000 if num > 1e11 else num)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return iso_utc(parsed)


def int_or_raw(value: str) -> int | str | None:
    """An integer id, or the raw text (the ingest quarantines it as mistyped), or None."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            f = float(text)
            return int(f) if f.is_integer() else text
        except ValueError:
            return text


def rating_events(
    source: str,
    user_id: Any,
    item_id: Any,
    event_time: str | None,
    normalised: float | None,
    duration_ms: int = NOMINAL_DURATION_MS,
) -> list[dict[str, Any]]:
    """One explicit rating (normalised to [0, 1] by its scale, e.g. stars / 5) -> events.

    ========================  ==========================================================
    normalised rating r       events (same user and item; times in seconds after the rating)
    ========================  ==========================================================
    r <= 0.2  (1 of 5 stars)  skip with watch_ms = r x duration
    0.2 < r < 0.8 (2-3 stars) watch with watch_ms = r x duration (completion = r)
    0.8 <= r < 1 (4 stars)    watch (completion r) + like (+1 s)
    r = 1     (5 stars)       watch (completion 1) + like (+1 s) + share (+2 s)
    ========================  ==========================================================
    """
    base = f"{source}:{user_id}:{item_id}:{event_time}"
    common = {"user_id": user_id, "video_id": item_id, "source": source}
    if normalised is None:  # unreadable rating: an impression without watch_ms -> quarantined
        return [
            {"event_id": f"{base}:watch", "event_type": "watch", "event_time": event_time, **common}
        ]
    r = max(0.0, min(1.0, normalised))
    kind = "skip" if r <= SKIP_AT_OR_BELOW else "watch"
    out = [
        {
            "event_id": f"{base}:{kind}",
            "event_type": kind,
            "event_time": event_time,
            "watch_ms": int(round(r * duration_ms)),
            **common,
        }
    ]

    def later(seconds: int) -> str | None:
        try:
            t0 = dt.datetime.fromisoformat(str(event_time).replace("Z", "+00:00"))
        except ValueError:  # unreadable time: keep it as it is (the ingest quarantines it)
            return event_time
        return iso_utc(t0 + dt.timedelta(seconds=seconds))

    if r >= LIKE_AT_OR_ABOVE:
        out.append(
            {"event_id": f"{base}:like", "event_type": "like", "event_time": later(1), **common}
        )
    if r >= SHARE_AT_OR_ABOVE:
        out.append(
            {"event_id": f"{base}:share", "event_type": "share", "event_time": later(2), **common}
        )
    return out


def age_band(age: int | None) -> str | None:
    if age is None:
        return None
    if age < 18:
        return "13-17"
    if age < 25:
        return "18-24"
    if age < 35:
        return "25-34"
    if age < 45:
        return "35-44"
    return "45+"
