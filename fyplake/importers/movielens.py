"""MovieLens 100K (``ml-100k/``) -> landing users, videos, events.

* ``u.user`` (``id|age|gender|occupation|zip``) -> users: ``age_band`` from the age (under 18
  -> ``13-17``), country ``US``, language ``en``; signup = the user's first rating. Gender,
  occupation and zip have no landing field and are not kept.
* ``u.item`` (``id|title|release date|video release date|IMDb URL|19 genre flags``, Latin-1)
  -> videos: the flagged genres (names from ``u.genre``) become hashtags, lower case with
  non-alphanumerics removed (``Sci-Fi`` -> ``scifi``); every movie is a
  ``NOMINAL_DURATION_MS`` clip without a creator (``creator_id`` null: a rating log names no
  uploader); created_at = release date. No user record is made for a creator.
* ``u.data`` (``user\titem\trating\tunix time``) -> events by ``common.rating_events`` with the
  rating normalised as stars / 5.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from fyplake.config import Settings
from fyplake.importers.common import (
    NO_CREATOR,
    NOMINAL_DURATION_MS,
    ImportSummary,
    LandingWriter,
    age_band,
    epoch_to_iso,
    int_or_raw,
    parse_time,
    rating_events,
)
from fyplake.landing import iso_utc

SOURCE = "movielens"
DEFAULT_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
RATING_SCALE = 5.0


def hashtag(genre: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", genre.lower())


def _genres(folder: Path) -> list[str]:
    path = folder / "u.genre"
    if not path.exists():
        return DEFAULT_GENRES
    pairs = []
    for line in path.read_text(encoding="latin-1").splitlines():
        if "|" in line:
            name, idx = line.rsplit("|", 1)
            pairs.append((int(idx), name))
    return [name for _, name in sorted(pairs)] or DEFAULT_GENRES


def _release(text: str) -> str | None:
    try:
        return iso_utc(dt.datetime.strptime(text.strip(), "%d-%b-%Y"))
    except ValueError:
        return None


def import_movielens(
    settings: Settings, folder: str | Path, id_offset: int = 0, arrival: dt.datetime | None = None
) -> ImportSummary:
    folder = Path(folder)
    data = folder / "u.data"
    if not data.is_file():
        raise FileNotFoundError(f"{folder} is not a MovieLens 100K folder: no u.data")
    writer = LandingWriter(settings, SOURCE, folder, arrival)

    def shift(value):
        return value + id_offset if isinstance(value, int) else value

    ratings = []
    first_seen: dict[object, float] = {}
    for line in data.read_text(encoding="latin-1").splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        parts += [""] * (4 - len(parts))
        user, item, rating, ts = parts[:4]
        ratings.append((user, item, rating, ts))
        try:
            t = float(ts)
            u = int_or_raw(user)
            first_seen[u] = min(first_seen.get(u, t), t)
        except ValueError:
            pass

    users_file = folder / "u.user"
    if users_file.exists():
        for line in users_file.read_text(encoding="latin-1").splitlines():
            if not line.strip():
                continue
            uid, age, *_ = (line.split("|") + ["", ""])[:5]
            u = int_or_raw(uid)
            age_int = int_or_raw(age)
            since = first_seen.get(u)
            writer.add(
                "users",
                {
                    "user_id": shift(u),
                    "age_band": age_band(age_int) if isinstance(age_int, int) else None,
                    "country": "US",
                    "language": "en",
                    "signup_time": epoch_to_iso(since) if since is not None else None,
                    "is_creator": False,
                    "source": SOURCE,
                },
            )

    genres = _genres(folder)
    items_file = folder / "u.item"
    if items_file.exists():
        for line in items_file.read_text(encoding="latin-1").splitlines():
            if not line.strip():
                continue
            parts = line.split("|")
            flags = parts[5 : 5 + len(genres)]
            tags = [hashtag(g) for g, f in zip(genres, flags, strict=False) if f.strip() == "1"]
            item = int_or_raw(parts[0])
            title = parts[1] if len(parts) > 1 else None
            writer.add(
                "videos",
                {
                    "video_id": shift(item),
                    "creator_id": NO_CREATOR,
                    "duration_ms": NOMINAL_DURATION_MS,
                    "title": title,
                    "description": title,
                    "hashtags": [t for t in tags if t],
                    "sound_id": None,
                    "language": "en",
                    "status": "ready",
                    "created_at": _release(parts[2]) if len(parts) > 2 else None,
                    "source": SOURCE,
                },
            )

    for user, item, rating, ts in ratings:
        when = parse_time(ts) or (ts or None)
        stars = int_or_raw(rating)
        norm = stars / RATING_SCALE if isinstance(stars, int) else None
        for event in rating_events(
            SOURCE, shift(int_or_raw(user)), shift(int_or_raw(item)), when, norm
        ):
            writer.add("events", event)
    return writer.close()
