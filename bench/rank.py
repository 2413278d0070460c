"""Ranking throughput: user-candidate pairs per second of the ranking kernel, beside a tight
batched gather + dot + top-k reference over the same vectors, in the same run.

    .venv/bin/python bench/rank.py [--users 100000] [--candidates 1000] [--videos 50000]

The kernel (``jobs.recsys.ranking.rank_block``, what ``mapInArrow`` runs per batch of users)
gathers each candidate's 128-d vector, scores the hybrid ranker (similarity x quality x creator
x freshness x popularity x co-engagement x fatigue), applies creator diversity and cuts the top
200. The reference does only the part every ranker needs, written the tight way: per block of
users (as many as the kernel gathers at once, ``ranking.GATHER_CANDIDATES``) one gather of the
candidate vectors (float32) into a reused buffer, one batched matrix product, ``argpartition``
top-200 and a sort of those.
Both run over the same users in calls of ``--block`` users; candidate indices come from a seeded
generator outside the timed sections. Each call is timed ``--reps`` times, kernel and reference
alternating; the reported time is the median over the repetitions of their totals.
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


def reference_topk(
    emb: np.ndarray, idx: np.ndarray, users: np.ndarray, k: int, sub: int, buf: np.ndarray
) -> np.ndarray:
    """Top ``k`` candidates of each user by dot product, (users, k) column indices: per block
    of ``sub`` users one gather into ``buf`` (sub, candidates, dim), one batched matmul,
    ``argpartition`` and a sort of the k."""
    n, c = idx.shape
    k = min(k, c)
    out = np.empty((n, k), np.int64)
    for lo in range(0, n, sub):
        hi = min(n, lo + sub)
        vecs = np.take(emb, idx[lo:hi], axis=0, out=buf[: hi - lo])
        s = np.matmul(vecs, users[lo:hi, :, None])[..., 0]
        top = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < c else np.argsort(-s, axis=1)
        v = np.take_along_axis(s, top, axis=1)
        out[lo:hi] = np.take_along_axis(top, np.argsort(-v, axis=1), axis=1)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--candidates", type=int, default=1_000)
    ap.add_argument("--videos", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--block", type=int, default=256, help="users per kernel call")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions (median)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    cat = make_catalog(args.videos, args.dim, rng)
    cfg = ranking.RankConfig.from_params(RecParams())
    k, b = args.candidates, args.block
    sub = max(1, ranking.GATHER_CANDIDATES // k)  # users per gather + dot, as the kernel
    buf = np.empty((sub, k, args.dim), np.float32)
    t_kernel = np.zeros(args.reps)
    t_ref = np.zeros(args.reps)
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
        for r in range(args.reps):
            t0 = time.perf_counter()
            order, adj, _pos = ranking.rank_block(
                cat, flat, seg, n, users, src, fatigue, cfg, cowatch=cowatch
            )
            t_kernel[r] += time.perf_counter() - t0
            t0 = time.perf_counter()
            top = reference_topk(cat.emb, idx, users, cfg.top_n, sub, buf)
            t_ref[r] += time.perf_counter() - t0
        checksum += float(adj[:1].sum()) + float(top[0, 0])

    pairs = args.users * k
    tk, tr = float(np.median(t_kernel)), float(np.median(t_ref))
    res = {
        "users": args.users,
        "candidates_per_user": k,
        "dim": args.dim,
        "catalogue": args.videos,
        "users_per_step": sub,
        "reps": args.reps,
        "kernel_s": round(tk, 2),
        "kernel_pairs_per_s": round(pairs / tk),
        "reference_s": round(tr, 2),
        "reference_pairs_per_s": round(pairs / tr),
        "kernel_vs_reference": round(tr / tk, 3),
        "checksum": round(checksum, 3),
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(
            f"ranking {args.users:,} users x {k:,} candidates "
            f"({args.dim}-d, catalogue {args.videos:,}; {sub} users per step, "
            f"median of {args.reps})"
        )
        print(
            f"  kernel (score + diversity + top-{cfg.top_n}):   {tk:8.2f} s  "
            f"{res['kernel_pairs_per_s']:>12,} user-candidate pairs/s"
        )
        print(
            f"  reference (gather + dot + top-{cfg.top_n}):     {tr:8.2f} s  "
            f"{res['reference_pairs_per_s']:>12,} pairs/s"
        )
        print(f"  kernel throughput / reference throughput = {res['kernel_vs_reference']:.3f}")
    return res


if __name__ == "__main__":
    main()
