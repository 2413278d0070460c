"""A generic interaction CSV -> landing users, videos, events.

Header required. Columns (first match wins, case-insensitive):

* user: ``user``, ``user_id``, ``userid``; item: ``item``, ``item_id``, ``itemid``,
  ``video_id``, ``movie_id``, ``movieid``; time: ``timestamp``, ``time``, ``ts``,
  ``event_time`` (epoch seconds, epoch milliseconds, or ISO-8601);
* optional ``completion`` (or ``watch_ratio``): a watch of that share of the item
  (a skip at or below 0.2), no like/share;
* optional ``weight`` (or ``rating``, ``score``): an explicit rating, normalised by
  ``rating_scale`` (default 5) and mapped by ``common.rating_events``;
* neither: implicit feedback, every row a complete watch.

Ids must be integers (others are landed as they are and quarantined as mistyped). Items are
``NOMINAL_DURATION_MS`` clips without a creator (``creator_id`` null).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from fyplake.config import Settings
from fyplake.importers.common import (
    NO_CREATOR,
    NOMINAL_DURATION_MS,
    SKIP_AT_OR_BELOW,
    ImportSummary,
    LandingWriter,
    int_or_raw,
    parse_time,
    rating_events,
)

SOURCE = "csv"
ALIASES = {
    "user": ("user", "user_id", "userid"),
    "item": ("item", "item_id", "itemid", "video_id", "movie_id", "movieid"),
    "timestamp": ("timestamp", "time", "ts", "event_time"),
    "completion": ("completion", "watch_ratio"),
    "weight": ("weight", "rating", "score"),
}


def _columns(fieldnames: list[str]) -> dict[str, str]:
    lower = {f.strip().lower(): f for f in fieldnames}
    found = {}
    for role, names in ALIASES.items():
        for name in names:
            if name in lower:
                found[role] = lower[name]
                break
    return found


def import_csv(
    settings: Settings,
    path: str | Path,
    rating_scale: float = 5.0,
    id_offset: int = 0,
    arrival: dt.datetime | None = None,
) -> ImportSummary:
    path = Path(path)
    writer = LandingWriter(settings, SOURCE, path, arrival)

    def shift(value):
        return value + id_offset if isinstance(value, int) else value

    users: dict[object, str | None] = {}
    items: dict[object, str | None] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = _columns(reader.fieldnames or [])
        missing = [r for r in ("user", "item", "timestamp") if r not in cols]
        if missing:
            raise ValueError(
                f"{path}: needs columns user, item, timestamp (missing {missing}; "
                f"header {reader.fieldnames})"
            )
        for row in reader:
            user = shift(int_or_raw(row[cols["user"]]))
            item = shift(int_or_raw(row[cols["item"]]))
            raw_time = row[cols["timestamp"]]
            when = parse_time(raw_time) or (raw_time.strip() or None)
            if "completion" in cols:
                events = _completion_events(user, item, when, row[cols["completion"]])
            elif "weight" in cols:
                try:
                    norm = float(row[cols["weight"]]) / rating_scale
                except ValueError:
                    norm = None
                events = rating_events(SOURCE, user, item, when, norm)
            else:
                events = rating_events(SOURCE, user, item, when, 0.5)
                events[0]["watch_ms"] = NOMINAL_DURATION_MS  # implicit: a complete watch
            for event in events:
                writer.add("events", event)
            parsed = parse_time(raw_time)
            for seen, key in ((users, user), (items, item)):
                if key not in seen or (parsed and (seen[key] is None or parsed < seen[key])):
                    seen[key] = parsed or seen.get(key)
    for user, since in users.items():
        writer.add(
            "users", {"user_id": user, "signup_time": since, "is_creator": False, "source": SOURCE}
        )
    for item, since in items.items():
        writer.add(
            "videos",
            {
                "video_id": item,
                "creator_id": NO_CREATOR,
                "duration_ms": NOMINAL_DURATION_MS,
                "hashtags": [],
                "status": "ready",
                "created_at": since,
                "source": SOURCE,
            },
        )
    return writer.close()


def _completion_events(user, item, when, raw: str) -> list[dict]:
    try:
        completion = float(raw)
    except ValueError:
        completion = None
    kind = "skip" if completion is not None and completion <= SKIP_AT_OR_BELOW else "watch"
    return [
        {
            "event_id": f"{SOURCE}:{user}:{item}:{when}:{kind}",
            "event_type": kind,
            "user_id": user,
            "video_id": item,
            "watch_ms": int(round(completion * NOMINAL_DURATION_MS))
            if completion is not None
            else raw,
            "event_time": when,
            "source": SOURCE,
        }
    ]
