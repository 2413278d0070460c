"""Job: offline evaluation of the engine against most-popular and item-item co-occurrence.

Reads silver (pinned versions, built by the lake pipeline), holds
out data per user, runs every engine stage in memory on the rest, and writes the metrics to
gold.evaluation (ds = the last date of the data, or the ds given).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from typing import Any

from fyplake import catalog, delta_io
from jobs._entry import job_main
from jobs.recsys.lakeio import Reads, record_run, run_id_for
from jobs.recsys.params import RecParams

logger = logging.getLogger(__name__)


def run(
    spark: Any,
    settings: Any,
    ds: dt.date | None,
    k: int | str | None = None,
    holdout: str | None = None,
    versions: dict[str, int] | str | None = None,
) -> dict:
    from jobs.recsys.offline import evaluate

    started = dt.datetime.now(dt.UTC)
    k = int(k) if k is not None else settings.rec_eval_k
    holdout = holdout or settings.rec_eval_holdout
    if holdout not in ("time", "random"):
        raise ValueError(f"holdout must be 'time' or 'random', got {holdout!r}")
    if isinstance(versions, str):
        versions = {a: int(b) for a, b in json.loads(versions).items()}
    p = RecParams.from_settings(settings)
    reads = Reads(spark, settings, versions)
    if not delta_io.table_exists(spark, catalog.SILVER_WATCH_HISTORY, settings):
        raise FileNotFoundError(
            "silver.watch_history does not exist: run the ingest and silver jobs first"
        )
    silver = reads.silver()
    ground_truth = settings.lake_path("ground_truth") if settings.lake_is_local else None
    from jobs.recsys.pipeline import Silver

    silver = Silver(*(x.cache() for x in (silver.watch, silver.users, silver.videos, silver.follows)))
    res = evaluate(
        spark,
        silver,
        p,
        ds=ds,
        k=k,
        holdout=holdout,
        fraction=settings.rec_eval_holdout_fraction,
        seed=settings.rec_seed,
        min_completion=settings.rec_eval_positive_completion,
        ground_truth=ground_truth,
    )
    day = res["ds"]
    params = {**p.as_dict(), "k": k, "holdout": holdout,
              "fraction": settings.rec_eval_holdout_fraction,
              "min_completion": settings.rec_eval_positive_completion}
    run_id = run_id_for(day, reads.versions, params)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [
        (run_id, day, m, metric, kk, v, holdout, now)
        for m, metric, kk, v in res["rows"]
        if not math.isnan(v)
    ]
    out_version = delta_io.upsert_rows(spark, rows, catalog.GOLD_EVALUATION, settings=settings)
    record_run(
        spark, settings, ds=day, job="evaluate", run_id=run_id, started_at=started,
        inputs=reads.versions, outputs={catalog.GOLD_EVALUATION.full_name: out_version},
        params=params,
    )
    return {
        "job": "evaluate",
        "ds": day.isoformat(),
        "run_id": run_id,
        "k": k,
        "holdout": holdout,
        "inputs": reads.versions,
        "outputs": {catalog.GOLD_EVALUATION.full_name: out_version},
        "counts": res["counts"],
        "timings": res["timings"],
        "metrics": [
            {"model": m, "metric": metric, "k": kk, "value": v} for m, metric, kk, v in res["rows"]
        ],
    }


if __name__ == "__main__":
    job_main("evaluate", run)
