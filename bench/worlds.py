"""The engine against the textbook baselines on worlds of different shapes and on a
MovieLens-format log, both hold-outs: the table of the README's "engine vs baselines".

    .venv/bin/python bench/worlds.py [--shapes default,sparse,niche,viral] [--seeds 1,2]
        [--users 1000] [--videos 800] [--days 4] [--movielens] [--json OUT]

Each world gets a throw-away FYP_HOME: ``fyp generate --shape S --seed N``, ``fyp job ingest``
and ``fyp job silver`` over every arrival, then ``fyp evaluate --holdout both --json`` (as of
the last event date). The
MovieLens-format log (``--movielens``) is made here (``movielens_like``: latent tastes, a
power-law catalogue, 1-5 stars, 1990s timestamps; nothing of any real log) and taken through
``fyp import movielens`` the same way. Printed per (world, hold-out): the engine's nDCG@10,
the best baseline's, and the paired difference (engine minus each baseline over the same
users) with its standard error; ``ok`` when every difference is >= 0 within one standard error.
Every command runs as a user would run it (subprocesses of the ``fyp`` CLI).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
FYP = str(REPO / ".venv" / "bin" / "fyp")
BASELINES = ("most_popular", "item_cooccurrence", "als", "ease")


def fyp(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    e = {**os.environ, "FYP_HOME": str(home), **(env or {})}
    res = subprocess.run([FYP, *args], env=e, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(
            f"fyp {' '.join(args)} failed:\n{res.stdout[-2000:]}{res.stderr[-4000:]}"
        )
    return res.stdout


def lake_from_landing(home: Path) -> None:
    """Every arrival into bronze and silver (what ``fyp evaluate`` reads; ``fyp build`` would run
    the nightly and publish too, minutes per world the evaluation does not need): one ingest
    interval from the epoch to tomorrow, whose touched event dates silver then rebuilds."""
    epoch = "1970-01-01"
    end = f"{dt.datetime.now(dt.UTC) + dt.timedelta(days=1):%Y-%m-%dT00:00}"
    interval = ["--date", epoch, "--param", f"start={epoch}T00:00", "--param", f"end={end}"]
    fyp(home, "job", "ingest", "--no-gates", *interval)
    fyp(home, "job", "silver", "--no-gates", "--date", epoch)


def evaluate(home: Path) -> list[dict]:
    """``fyp evaluate --holdout both --json``: one result per hold-out."""
    out = fyp(home, "evaluate", "--holdout", "both", "--json")
    data = json.loads(out[out.index("{") :])
    return data.get("runs", [data])


def summarise(world: str, result: dict) -> dict:
    vals: dict[str, dict[str, float]] = {}
    for m in result["metrics"]:
        vals.setdefault(m["model"], {})[m["metric"]] = m["value"]
    row = {
        "world": world,
        "holdout": result["holdout"],
        "users": int(vals["fyp"]["users"]),
        "fyp": vals["fyp"]["ndcg"],
        "fyp_se": vals["fyp"]["ndcg_se"],
    }
    for b in BASELINES:
        if "ndcg" in vals.get(b, {}):
            row[b] = vals[b]["ndcg"]
            d = vals.get(f"fyp_minus_{b}", {})
            row[f"diff_{b}"] = d.get("ndcg_diff")
            row[f"diff_{b}_se"] = d.get("ndcg_diff_se")
    diffs = [(row[f"diff_{b}"], row[f"diff_{b}_se"]) for b in BASELINES if f"diff_{b}" in row]
    row["ok"] = all(d + se >= 0 for d, se in diffs)
    row["ranker"] = result.get("notes", {}).get("ranker")
    blend = result.get("notes", {}).get("blend") or {}
    if blend:  # the hybrid blend the engine ran with, and what validating it cost
        row["blend"] = blend.get("blend_weights")
        row["blend_source"] = blend.get("blend_source")
        row["blend_seconds"] = blend.get("blend_seconds")
    row["engine_s"] = (result.get("timings") or {}).get("engine_s")
    return row


def movielens_like(folder: Path, users: int, items: int, ratings: int, seed: int) -> None:
    """A MovieLens-100K-format folder (u.data, u.item, u.user, u.genre) from a latent-taste
    model: 19 genres, items with 1-3 genres and a power-law popularity, users with a
    heavy-tailed number of ratings (at least 20), stars from taste x quality, each user's
    ratings spread over weeks between 1997 and 1998."""
    rng = np.random.default_rng(seed)
    genres = [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
        "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
        "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ]  # fmt: skip
    g = len(genres)
    item_genres = np.zeros((items, g), int)
    for i in range(items):
        item_genres[i, rng.choice(np.arange(1, g), rng.integers(1, 4), replace=False)] = 1
    quality = rng.normal(0, 0.6, items)
    pop = rng.pareto(1.2, items) + 1
    taste = rng.dirichlet(np.full(g - 1, 0.3), users)
    n_per = np.minimum(20 + rng.pareto(1.3, users) * 25, items // 2).astype(int)
    n_per = np.maximum(20, (n_per * ratings / n_per.sum()).astype(int))
    t0 = dt.datetime(1997, 9, 20, tzinfo=dt.UTC).timestamp()
    lines = []
    for u in range(users):
        aff = item_genres[:, 1:] @ taste[u] / np.maximum(item_genres[:, 1:].sum(1), 1)
        w = pop * np.exp(4 * aff)
        chosen = rng.choice(items, n_per[u], replace=False, p=w / w.sum())
        score = 6 * aff[chosen] + quality[chosen] + rng.normal(0, 0.7, len(chosen))
        stars = np.clip(np.round(2.2 + score), 1, 5).astype(int)
        start = t0 + rng.uniform(0, 180) * 86400
        times = np.sort(start + rng.exponential(3 * 86400, len(chosen)).cumsum() / 4)
        rows = zip(chosen, stars, times, strict=True)
        lines += [f"{u + 1}\t{i + 1}\t{s}\t{int(t)}" for i, s, t in rows]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    (folder / "u.genre").write_text("".join(f"{n}|{i}\n" for i, n in enumerate(genres)))
    (folder / "u.item").write_text(
        "".join(
            f"{i + 1}|Movie {i + 1} (1995)|01-Jan-1995||http://example.invalid/{i + 1}|"
            + "|".join(map(str, item_genres[i]))
            + "\n"
            for i in range(items)
        ),
        encoding="latin-1",
    )
    ages = rng.integers(15, 70, users)
    (folder / "u.user").write_text(
        "".join(f"{u + 1}|{ages[u]}|M|other|00000\n" for u in range(users))
    )


def run_world(name: str, home: Path, make) -> list[dict]:
    t = time.monotonic()
    make(home)
    lake_from_landing(home)
    rows = [summarise(name, r) for r in evaluate(home)]
    for r in rows:
        r["seconds"] = round(time.monotonic() - t)
        print(json.dumps(r), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    head = (
        "| world | hold-out | users | fyp | "
        + " | ".join(BASELINES)
        + " | fyp - best baseline | ok |"
    )
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        best = max((b for b in BASELINES if b in r), key=lambda b: r[b])
        out.append(
            f"| {r['world']} | {r['holdout']} | {r['users']} "
            f"| {r['fyp']:.4f} ± {r['fyp_se']:.4f} | "
            + " | ".join(f"{r[b]:.4f}" if b in r else "-" for b in BASELINES)
            + f" | {r[f'diff_{best}']:+.4f} ± {r[f'diff_{best}_se']:.4f} ({best}) | "
            + ("yes" if r["ok"] else "no")
            + " |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="default,sparse,niche,viral")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--videos", type=int, default=800)
    ap.add_argument("--days", type=int, default=4)
    ap.add_argument("--movielens", action="store_true", help="add the MovieLens-format log")
    ap.add_argument("--ml-users", type=int, default=943)
    ap.add_argument("--ml-items", type=int, default=1682)
    ap.add_argument("--ml-ratings", type=int, default=100_000)
    ap.add_argument("--json", help="also write every row to this JSON file")
    ap.add_argument(
        "--workdir", help="keep each world's FYP_HOME under this folder (default: a temp folder)"
    )
    args = ap.parse_args()
    rows: list[dict] = []
    keep = contextlib.nullcontext(args.workdir) if args.workdir else None
    with keep or tempfile.TemporaryDirectory(prefix="fyp-worlds-") as tmp:
        for shape in filter(None, args.shapes.split(",")):
            for seed in map(int, filter(None, args.seeds.split(","))):
                home = Path(tmp, f"{shape}-{seed}")

                def make(h: Path, shape=shape, seed=seed) -> None:
                    size = ["--users", str(args.users), "--videos", str(args.videos)]
                    world = ["--days", str(args.days), "--seed", str(seed), "--shape", shape]
                    fyp(h, "generate", *size, *world)

                rows += run_world(f"{shape} s{seed}", home, make)
        if args.movielens:
            home = Path(tmp, "movielens")

            def make_ml(h: Path) -> None:
                folder = Path(tmp, "ml-format")
                movielens_like(folder, args.ml_users, args.ml_items, args.ml_ratings, seed=7)
                fyp(h, "import", "movielens", str(folder))

            rows += run_world("movielens-format", home, make_ml)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    sys.exit(0 if all(r["ok"] for r in rows) else 1)


if __name__ == "__main__":
    main()
