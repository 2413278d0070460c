"""Learned-ranker throughput: training rows/s of SparkXGBRanker beside XGBoost's own in-memory
training (``xgboost.train`` on a DMatrix of the same rows, same parameters and rounds), and
scoring candidates/s of the rank kernel with the learned model beside the formula, in one run.

    FYP_HOME=/tmp/lrw .venv/bin/python bench/train.py [--date 2026-11-04] [--rounds 100]
        [--users 20000] [--candidates 1000] [--videos 50000]

Training rows (the training users' rows, base margin included) are built once from the lake of
``FYP_HOME`` (a generated world: ``fyp generate``, then ``fyp job ingest`` and ``fyp job silver``):
the engine's stages as of
T' = date - horizon and labels from (T', date], exactly as ``train_ranker`` builds them
(``jobs.recsys.learned.training_data``), outside the timed sections. Both trainers get
``nthread`` = ``rec_ranker_workers`` (one core per Spark barrier task).

Scoring: the kernel's per-block work (``ranking.feature_matrix``, then either the formula's dot
product or the model's extra features + ``inplace_predict``, then diversity and the top-200 cut in
``rank_block``) on a synthetic catalogue and users, with the model trained above; candidate
indices come from a seeded generator outside the timed sections.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def training_rows(spark, settings, ds: dt.date, p):  # noqa: ANN001, ANN201
    from pyspark.sql import functions as F

    from jobs.jobrun import Reads
    from jobs.recsys import learned
    from jobs.recsys.lakeio import read_silver

    silver = read_silver(Reads(spark, settings))
    as_of, _, _ = learned.training_window(ds, p)
    prep, gold = learned.gold_as_of(silver, as_of, p)
    data = learned.training_data(silver.watch, prep, p, gold, ds)
    if data.rows is None:
        raise SystemExit(f"no training rows for {ds}: {data.reason}")
    rows = (
        data.rows.where(~F.col("validation"))
        .select("user_id", "video_id", "label", "features", "base_margin")
        .cache()
    )
    pdf = rows.orderBy("user_id", "video_id").toPandas()
    x = np.stack(pdf["features"].to_numpy()).astype(np.float32)
    return (
        rows,
        x,
        pdf["label"].to_numpy(np.float32),
        pdf["user_id"].to_numpy(np.int64),
        pdf["base_margin"].to_numpy(np.float64),
    )


def train_throughput(rows, x, y, qid, margin, p) -> dict:  # noqa: ANN001
    import xgboost as xgb

    from jobs.recsys import learned

    t = time.perf_counter()
    spark_model = learned.spark_ranker(p).fit(rows)
    t_spark = time.perf_counter() - t
    params = {**learned.xgb_params(p), "nthread": p.ranker_workers}
    t = time.perf_counter()
    dm = xgb.DMatrix(x, y, qid=qid, base_margin=margin, missing=np.nan, nthread=p.ranker_workers)
    booster = xgb.train(params, dm, num_boost_round=p.ranker_rounds)
    t_mem = time.perf_counter() - t
    n = len(y)
    return {
        "rows": n,
        "groups": int(len(np.unique(qid))),
        "rounds": p.ranker_rounds,
        "spark_s": round(t_spark, 2),
        "spark_rows_per_s": round(n / t_spark),
        "xgboost_train_s": round(t_mem, 2),
        "xgboost_train_rows_per_s": round(n / t_mem),
        "ratio_spark_to_in_memory": round(t_mem / t_spark, 3),
        "_booster": booster,
        "_spark_booster": spark_model.get_booster(),
    }


def score_throughput(
    booster_raw: bytes,
    users: int,
    k: int,
    n_videos: int,
    dim: int,
    block: int = 256,
    base: tuple[float, ...] = (),
) -> dict:
    from rank import make_catalog  # bench/rank.py

    from jobs.recsys import learned, ranking
    from jobs.recsys.params import RecParams

    rng = np.random.default_rng(0)
    cat = make_catalog(n_videos, dim, rng)
    n_tags = 500
    tags = rng.integers(0, n_tags, (n_videos, 2))
    side = learned.VideoSide(rates=rng.uniform(0, 0.5, (n_videos, 5)))
    vocab_tags = {f"t{i}": i for i in range(n_tags)}
    side.vocab = {"hashtag": vocab_tags, "sound": {}, "creator": {}}
    side.ptr = {
        "hashtag": np.arange(0, 2 * n_videos + 1, 2, dtype=np.int64),
        "sound": np.zeros(n_videos + 1, np.int64),
        "creator": np.zeros(n_videos + 1, np.int64),
    }
    side.keys = {
        "hashtag": tags.reshape(-1).astype(np.int64),
        "sound": np.zeros(0, np.int64),
        "creator": np.zeros(0, np.int64),
    }
    p = RecParams()
    vocab = {"age_band": ["18-24", "25-34"], "country": ["DE", "US"], "language": ["en"]}
    model = learned.BoundRanker(side, vocab, booster_raw=booster_raw, model_id="bench", base=base)
    cfg = ranking.RankConfig.from_params(p, ranker="design")
    t_formula = t_learned = 0.0
    checksum = 0.0
    for lo in range(0, users, block):
        b = min(block, users - lo)
        uvec = rng.standard_normal((b, dim)).astype(np.float32)
        uvec /= np.linalg.norm(uvec, axis=1, keepdims=True)
        idx = rng.integers(0, n_videos, b * k)
        seg = np.repeat(np.arange(b), k)
        src = rng.integers(0, 7, b * k)
        src[src == 5] = 1  # no exploration among ranked candidates
        fatigue = rng.poisson(0.2, b * k).astype(np.float64)
        cw = rng.exponential(0.05, b * k)
        cscore = rng.uniform(0, 1, b * k)
        nsrc = rng.integers(1, 3, b * k).astype(np.float64)
        n_aff = 20
        aff = (
            np.arange(0, (b + 1) * n_aff, n_aff),
            ["hashtag"] * (b * n_aff),
            [f"t{i}" for i in rng.integers(0, n_tags, b * n_aff)],
            rng.uniform(0, 0.2, b * n_aff),
        )
        n_eng = rng.integers(20, 500, b)
        segs = ["18-24|US|en"] * b
        t = time.perf_counter()
        order, adj, _ = ranking.rank_block(cat, idx, seg, b, uvec, src, fatigue, cfg, cowatch=cw)
        t_formula += time.perf_counter() - t
        checksum += float(adj.sum())
        t = time.perf_counter()
        codes = model.user_codes(n_eng, segs, uvec, {"affinity": aff})
        x = ranking.feature_matrix(cat, idx, seg, uvec, src, fatigue, cw, cfg.cowatch_scale)
        ls = model.log_scores(x, cat, idx, seg, codes, cscore, nsrc)
        order, adj, _ = ranking.rank_block(
            cat, idx, seg, b, uvec, src, fatigue, cfg, cowatch=cw, log_score=ls
        )
        t_learned += time.perf_counter() - t
        checksum += float(np.minimum(adj, 1e300).sum())
    n = users * k
    return {
        "candidates": n,
        "formula_candidates_per_s": round(n / t_formula),
        "learned_candidates_per_s": round(n / t_learned),
        "ratio_learned_to_formula": round(t_formula / t_learned, 3),
        "checksum": checksum,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--date", help="ds to train for (default: the last event date in silver)")
    ap.add_argument("--rounds", type=int, default=None, help="boosting rounds (rec_ranker_rounds)")
    ap.add_argument("--users", type=int, default=20_000, help="scoring: users")
    ap.add_argument("--candidates", type=int, default=1_000, help="scoring: candidates per user")
    ap.add_argument("--videos", type=int, default=50_000, help="scoring: catalogue size")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from pyspark.sql import functions as F

    from fyplake.config import get_settings
    from infra.spark import get_spark
    from jobs.jobrun import Reads
    from jobs.recsys.lakeio import read_silver
    from jobs.recsys.params import RecParams

    settings = get_settings()
    spark = get_spark("bench-train", settings)
    spark.sparkContext.setLogLevel("ERROR")
    p = RecParams.from_settings(settings)
    if args.rounds:
        p = p.replace(ranker_rounds=args.rounds)
    if args.date:
        ds = dt.date.fromisoformat(args.date)
    else:
        ds = read_silver(Reads(spark, settings)).watch.agg(F.max("event_date")).first()[0]
        if ds is None:
            raise SystemExit(
                f"no silver events under {settings.lake}: generate and ingest a world first"
            )
    t = time.perf_counter()
    rows, x, y, qid, margin = training_rows(spark, settings, ds, p)
    build_s = time.perf_counter() - t
    train = train_throughput(rows, x, y, qid, margin, p)
    raw = bytes(train.pop("_spark_booster").save_raw("json"))
    train.pop("_booster")
    from jobs.recsys import learned

    score = score_throughput(
        raw, args.users, args.candidates, args.videos, args.dim, base=learned.base_weights(p)
    )
    out = {"ds": ds.isoformat(), "build_rows_s": round(build_s, 1), "train": train, "score": score}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"training rows of {ds}: {train['rows']:,} rows, {train['groups']:,} users "
            f"(built in {build_s:.0f} s), {train['rounds']} rounds"
        )
        print(
            f"  SparkXGBRanker     {train['spark_rows_per_s']:>12,} rows/s  ({train['spark_s']} s)"
        )
        print(
            f"  xgboost.train      {train['xgboost_train_rows_per_s']:>12,} rows/s  "
            f"({train['xgboost_train_s']} s)"
        )
        print(f"  ratio (Spark / in-memory throughput): {train['ratio_spark_to_in_memory']}")
        print(
            f"scoring {score['candidates']:,} candidates "
            "(kernel block: features, score, diversity, top-200):"
        )
        print(f"  formula            {score['formula_candidates_per_s']:>12,} candidates/s")
        print(f"  learned model      {score['learned_candidates_per_s']:>12,} candidates/s")
        print(f"  ratio (learned / formula): {score['ratio_learned_to_formula']}")
    spark.stop()
    return out


if __name__ == "__main__":
    main()
