"""Small synthetic logs in the importers' formats (MovieLens 100K folder, the generic CSV), for
the "Bring your own log" tests: users like one of a few genres, rate what they like higher,
and rate in the 1990s, like the real MovieLens 100K."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

GENRES = 19  # u.item's genre flags
START = dt.datetime(1997, 9, 20, tzinfo=dt.UTC)


def ratings(users: int, items: int, per_user: int, days: int, seed: int = 0) -> list[tuple]:
    """(user, item, stars 1-5, unix time), ids from 1, each user rating distinct items."""
    rng = np.random.default_rng(seed)
    taste = rng.integers(0, 4, size=users)
    genre = np.arange(items) % 4  # item id i has genre flag 1 + (i - 1) % 4 in u.item
    popularity = 1.0 / np.arange(1, items + 1) ** 0.7
    rows = []
    for u in range(users):
        weight = popularity * np.where(genre == taste[u], 4.0, 1.0)
        chosen = rng.choice(
            items, size=min(per_user, items), replace=False, p=weight / weight.sum()
        )
        for i in chosen:
            liked = genre[i] == taste[u]
            stars = int(np.clip(rng.normal(4.2 if liked else 2.4, 0.8), 1, 5).round())
            when = START + dt.timedelta(seconds=float(rng.uniform(0, days * 86_400)))
            rows.append((u + 1, int(i) + 1, stars, int(when.timestamp())))
    return rows


def movielens_folder(folder: Path, rows: list[tuple], users: int, items: int) -> Path:
    """``u.data``, ``u.item`` (one genre flag per item) and ``u.user`` as MovieLens 100K has."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    lines = []
    for i in range(1, items + 1):
        flags = ["0"] * GENRES
        flags[1 + (i - 1) % 4] = "1"
        lines.append(
            f"{i}|Movie {i} (1995)|01-Jan-1995||http://example.invalid/{i}|" + "|".join(flags)
        )
    (folder / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
    (folder / "u.user").write_text(
        "".join(f"{u}|{18 + u % 50}|{'MF'[u % 2]}|other|0{u:04d}\n" for u in range(1, users + 1))
    )
    return folder


def csv_log(path: Path, rows: list[tuple]) -> Path:
    """The CSV importer's format: ``user,item,timestamp,weight``."""
    path.write_text(
        "user,item,timestamp,weight\n" + "".join(f"{u},{i},{t},{r}\n" for u, i, r, t in rows)
    )
    return path
