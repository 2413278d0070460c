"""Ranking throughput: user-candidate scores per second of the ranking kernel, beside a bare
numpy batched dot product of the same vectors, in the same run.

    .venv/bin/python bench/rank.py [--users 100000] [--candidates 1000] [--videos 50000]

The kernel (``jobs.recsys.ranking.rank_block``, what ``mapInArrow`` runs per batch of users)
gathers each candidate's 128-d vector, scores the hybrid ranker (similarity x quality x creator
x freshness x popularity x co-engagement x fatigue), applies creator diversity and cuts the top
200. The baseline only gathers the same
vectors and takes the batched dot product (``einsum('bkd,bd->bk')``). Both run over the same
users in blocks; candidate indices come from a seeded generator outside the timed sections.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs.recsys import ranking  # noqa: E402
from jobs.recsys.catalogue import Catalog  # noqa: E402
from jobs.recsys.params import RecParams  # noqa: E402


def make_catalog(n_videos: int, dim: int, rng: np.random.Generator) -> Catalog:
    emb = rng.standard_normal((n_videos, dim), dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return Catalog(
        ids=np.arange(1, n_videos + 1, dtype=np.int64),
        emb=emb,
        log_quality=np.log(rng.uniform(0.5, 2.0, n_videos)),
        log_creator=np.log(rng.uniform(0.7, 1.5, n_videos)),
        log_freshness=np.log(rng.uniform(0.1, 1.0, n_videos)),
        log1p_pop=np.log1p(rng.exponential(2.0, n_videos)),
        creator=rng.integers(0, n_videos // 20 + 1, n_videos),
    )


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--candidates", type=int, default=1_000)
    ap.add_argument("--videos", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--block", type=int, default=256, help="users per kernel call")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    cat = make_catalog(args.videos, args.dim, rng)
    cfg = ranking.RankConfig.from_params(RecParams())
    k, b = args.candidates, args.block
    t_kernel = t_numpy = 0.0
    checksum = 0.0
    for lo in range(0, args.users, b):
        n = min(b, args.users - lo)
        brng = np.random.default_rng([1, lo])
        idx = brng.integers(0, args.videos, (n, k))
        users = brng.standard_normal((n, args.dim), dtype=np.float32)
        users /= np.linalg.norm(users, axis=1, keepdims=True)
        src = brng.integers(0, 5, n * k)
        fatigue = np.zeros(n * k)
        # about a fifth of a user's candidates were co-engaged with their history
        cowatch = brng.random(n * k) * (brng.random(n * k) < 0.2)
        seg = np.repeat(np.arange(n), k)
        flat = idx.ravel()

        t0 = time.perf_counter()
        order, adj, _pos = ranking.rank_block(
            cat, flat, seg, n, users, src, fatigue, cfg, cowatch=cowatch
        )
        t_kernel += time.perf_counter() - t0
        checksum += float(adj[:1].sum())

        t0 = time.perf_counter()
        dots = np.einsum("bkd,bd->bk", cat.emb[idx], users)
        t_numpy += time.perf_counter() - t0
        checksum += float(dots[0, 0])

    scores = args.users * k
    res = {
        "users": args.users,
        "candidates_per_user": k,
        "dim": args.dim,
        "catalogue": args.videos,
        "kernel_s": round(t_kernel, 2),
        "kernel_scores_per_s": round(scores / t_kernel),
        "numpy_dot_s": round(t_numpy, 2),
        "numpy_dot_scores_per_s": round(scores / t_numpy),
        "kernel_vs_numpy_dot": round(t_numpy / t_kernel, 3),
        "checksum": round(checksum, 3),
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(
            f"ranking {args.users:,} users x {k:,} candidates "
            f"({args.dim}-d, catalogue {args.videos:,})"
        )
        print(
            f"  kernel (score + diversity + top-{cfg.top_n}): {res['kernel_s']:8.2f} s  "
            f"{res['kernel_scores_per_s']:>14,} user-candidate scores/s"
        )
        print(
            f"  bare numpy batched dot product:        {res['numpy_dot_s']:8.2f} s  "
            f"{res['numpy_dot_scores_per_s']:>14,} scores/s"
        )
        print(f"  kernel throughput / numpy dot throughput = {res['kernel_vs_numpy_dot']:.3f}")
    return res


if __name__ == "__main__":
    main()
