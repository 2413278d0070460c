"""KuaiRec matrix CSV (``user_id,video_id,play_duration,video_duration,time,date,timestamp,
watch_ratio``) -> landing users, videos, events.

KuaiRec is implicit feedback: every row is one impression of a video, kept as it is:
``watch_ms = play_duration``, ``duration_ms = video_duration`` (the first non-empty one per
video), event time = ``timestamp`` (epoch seconds), else ``time``, else ``date`` (midnight).
A row whose ``watch_ratio`` is at or below ``SKIP_AT_OR_BELOW`` (0.2) is a skip, the others
watches; KuaiRec has no likes, shares or comments. Watch ratios far above 1 (loops) stay as
they are: above ``max_watch_multiple`` the ingest quarantines them as ``absurd_watch_ms``.
Users carry only their id (KuaiRec's demographics live in another file); videos have no
creator (``creator_id`` null).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from fyplake.config import Settings
from fyplake.importers.common import (
    NO_CREATOR,
    SKIP_AT_OR_BELOW,
    ImportSummary,
    LandingWriter,
    int_or_raw,
    parse_time,
)
from fyplake.landing import iso_utc

SOURCE = "kuairec"
COLUMNS = (
    "user_id",
    "video_id",
    "play_duration",
    "video_duration",
    "time",
    "date",
    "timestamp",
    "watch_ratio",
)


def _event_time(row: dict[str, str]) -> str | None:
    for col in ("timestamp", "time"):
        value = parse_time(row.get(col) or "")
        if value:
            return value
    date = (row.get("date") or "").strip()
    if date.endswith(".0"):
        date = date[:-2]
    try:
        return iso_utc(dt.datetime.strptime(date, "%Y%m%d"))
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        f = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return None if f is None or f != f else f


def import_kuairec(
    settings: Settings, path: str | Path, id_offset: int = 0, arrival: dt.datetime | None = None
) -> ImportSummary:
    path = Path(path)
    writer = LandingWriter(settings, SOURCE, path, arrival)

    def shift(value):
        return value + id_offset if isinstance(value, int) else value

    users: dict[object, str | None] = {}
    videos: dict[object, tuple[object, str | None]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [
            c
            for c in ("user_id", "video_id", "play_duration")
            if c not in (reader.fieldnames or [])
        ]
        if missing:
            raise ValueError(f"{path}: not a KuaiRec matrix CSV, missing columns {missing}")
        for row in reader:
            user = shift(int_or_raw(row.get("user_id", "")))
            video = shift(int_or_raw(row.get("video_id", "")))
            when = _event_time(row)
            play = _float(row.get("play_duration"))
            ratio = _float(row.get("watch_ratio"))
            duration = _float(row.get("video_duration"))
            if ratio is None and play is not None and duration:
                ratio = play / duration
            kind = "skip" if ratio is not None and ratio <= SKIP_AT_OR_BELOW else "watch"
            raw_time = when or (row.get("time") or row.get("timestamp") or None)
            writer.add(
                "events",
                {
                    "event_id": f"{SOURCE}:{user}:{video}:{raw_time}",
                    "event_type": kind,
                    "user_id": user,
                    "video_id": video,
                    "watch_ms": int(round(play)) if play is not None else row.get("play_duration"),
                    "event_time": raw_time,
                    "source": SOURCE,
                },
            )
            if user not in users or (when and (users[user] is None or when < users[user])):
                users[user] = when or users.get(user)
            seen = videos.get(video)
            if seen is None or (seen[0] is None and duration):
                videos[video] = (int(round(duration)) if duration else None, when)
            elif when and (seen[1] is None or when < seen[1]):
                videos[video] = (seen[0], when)
    for user, since in users.items():
        writer.add(
            "users", {"user_id": user, "signup_time": since, "is_creator": False, "source": SOURCE}
        )
    for video, (duration, since) in videos.items():
        writer.add(
            "videos",
            {
                "video_id": video,
                "creator_id": NO_CREATOR,
                "duration_ms": duration,
                "hashtags": [],
                "status": "ready",
                "created_at": since,
                "source": SOURCE,
            },
        )
    return writer.close()
