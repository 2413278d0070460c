"""Job: offline evaluation of the engine against strong baselines on the same splits.

Reads silver (pinned versions, built by the lake pipeline), holds out data per user (by time,
by a seeded random draw, or both: ``holdout=both`` runs the two one after the other), runs every
engine stage in memory on the rest, scores the engine, the design's formula, most-popular,
item-kNN, ALS and EASE on the held-out part with standard errors, the paired difference engine
minus each baseline, and the engine's candidate recall per source, and writes the metrics to
gold.evaluation (ds = the last date of the data, or the ds given; one run_id per hold-out).

Standard errors are rows of their own (metric ``<name>_se``, e.g. ``ndcg_se``), not a new
column: gold.evaluation's key (run_id, model, metric, k) and schema stay as they were, every
old row reads as before, and a reader that does not know about errors simply sees more metrics.

Silver is read pinned once; each hold-out is a run of the job skeleton (``jobs.jobrun``) over
those reads, recorded in ``gold.runs`` (key ds, job: with ``both``, the second hold-out's row
replaces the first's when they share a ds).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from typing import Any

from fyplake import catalog, delta_io
from jobs._entry import job_main
from jobs.jobrun import JobRun, Reads
from jobs.recsys.lakeio import read_silver
from jobs.recsys.params import RecParams

logger = logging.getLogger(__name__)

HOLDOUTS = ("time", "random")


def run(
    spark: Any,
    settings: Any,
    ds: dt.date | None,
    k: int | str | None = None,
    holdout: str | None = None,
    versions: dict[str, int] | str | None = None,
) -> dict:
    """One hold-out: the result of that run. ``holdout="both"``: {"holdout": "both", "runs":
    [time run, random run], ...}; the exploration replay (independent of the hold-out) runs
    once and is recorded with each."""
    from jobs.recsys.offline import evaluate

    started = dt.datetime.now(dt.UTC)
    k = int(k) if k is not None else settings.rec_eval_k
    holdout = holdout or settings.rec_eval_holdout
    if holdout not in (*HOLDOUTS, "both"):
        raise ValueError(f"holdout must be 'time', 'random' or 'both', got {holdout!r}")
    if isinstance(versions, str):
        versions = {a: int(b) for a, b in json.loads(versions).items()}
    p = RecParams.from_settings(settings)
    reads = Reads(spark, settings, versions)
    if not delta_io.table_exists(spark, catalog.SILVER_WATCH_HISTORY, settings):
        raise FileNotFoundError(
            "silver.watch_history does not exist: run the ingest and silver jobs first"
        )
    silver = read_silver(reads)
    ground_truth = settings.lake_path("ground_truth") if settings.lake_is_local else None
    from jobs.recsys.pipeline import Silver

    silver = Silver(
        *(x.cache() for x in (silver.watch, silver.users, silver.videos, silver.follows))
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    runs, rows, bandit_rows = [], [], None
    for h in HOLDOUTS if holdout == "both" else (holdout,):
        res = evaluate(
            spark,
            silver,
            p,
            ds=ds,
            k=k,
            holdout=h,
            fraction=settings.rec_eval_holdout_fraction,
            seed=settings.rec_seed,
            min_completion=settings.rec_eval_positive_completion,
            ground_truth=ground_truth,
            bandit_rounds=7 if bandit_rows is None else None,
        )
        if bandit_rows is None:
            bandit_rows = [r for r in res["rows"] if r[0].startswith("bandit_")]
        else:
            res["rows"] += bandit_rows
        day = res["ds"]
        params = {
            **p.as_dict(),
            "k": k,
            "holdout": h,
            "fraction": settings.rec_eval_holdout_fraction,
            "min_completion": settings.rec_eval_positive_completion,
        }
        job = JobRun("evaluate", spark, settings, day, params=params, reads=reads, started=started)
        run_id = job.run_id
        rows += [
            (run_id, day, m, metric, kk, v, h, now)
            for m, metric, kk, v in res["rows"]
            if not math.isnan(v)
        ]
        runs.append((h, job, res))
    out_version = delta_io.upsert_rows(spark, rows, catalog.GOLD_EVALUATION, settings=settings)
    results = []
    for h, job, res in runs:
        job.wrote(catalog.GOLD_EVALUATION, out_version)
        results.append(
            job.finish(
                {
                    "k": k,
                    "holdout": h,
                    "inputs": reads.versions,
                    "outputs": {catalog.GOLD_EVALUATION.full_name: out_version},
                    "counts": res["counts"],
                    "timings": res["timings"],
                    "notes": res["notes"],
                    "metrics": [
                        {"model": m, "metric": metric, "k": kk, "value": v}
                        for m, metric, kk, v in res["rows"]
                    ],
                }
            )
        )
    if len(results) == 1:
        return results[0]
    return {
        "job": "evaluate",
        "ds": results[0]["ds"],
        "k": k,
        "holdout": "both",
        "run_ids": [r["run_id"] for r in results],
        "inputs": reads.versions,
        "outputs": {catalog.GOLD_EVALUATION.full_name: out_version},
        "timings": {"total_s": round(sum(r["timings"]["total_s"] for r in results), 1)},
        "runs": results,
    }


if __name__ == "__main__":
    job_main("evaluate", run)
