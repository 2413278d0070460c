"""Job: every user's candidates generated and ranked into a top-N feed in one pass per batch of
users (cold start and exploration included), so no user x candidate table is written or read.

Reads silver as of ds and the gold of ds the candidates job reads (lists, embeddings,
neighbours, affinities, exploration assignments) plus gold.coldstart_pools; writes gold.feeds
(ds partition) with the run id that names the input versions; gold.runs records them. For the
users gold.candidates samples, the candidates ranked are the ones it holds.

With ``rec_ranker=learned`` it also reads gold.models (and scores with the affinities): the newest
accepted ranker of a ds at or before this one scores the candidates (``jobs/recsys/learned.py``);
with none (too little history to train, none trained yet, features changed) the fallback formula
(``rec_ranker_fallback``) ranks. Which one ran (``ranker_used``, ``model_id``, ``ranker_note``)
is in the run's gold.runs params, the job's result and the log.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pyspark.sql import functions as F

from fyplake import catalog, delta_io
from jobs._entry import job_main
from jobs.recsys import learned
from jobs.recsys.jobrun import run_stage
from jobs.recsys.lakeio import CANDIDATE_GOLD, read_gold, read_silver
from jobs.recsys.params import LEARNED
from jobs.recsys.pipeline import prepare, stage_recommend

logger = logging.getLogger(__name__)

#: The gold of ds the fused candidates + ranking pass reads (``pipeline.stage_recommend``).
RANK_INPUTS = (*CANDIDATE_GOLD.values(), catalog.GOLD_COLDSTART_POOLS)


def choose_ranker(reads, p, ds: dt.date) -> tuple[str, learned.Model | None, str]:  # noqa: ANN001
    """(ranker that ranks, its model or None, why): the configured formula, or for
    ``learned`` the newest accepted model of gold.models, else the fallback formula."""
    if p.ranker != LEARNED:
        return p.ranker, None, f"rec_ranker={p.ranker}"
    if not delta_io.table_exists(reads.spark, catalog.GOLD_MODELS, reads.settings):
        model, note = None, "no gold.models table (train_ranker never ran)"
    else:
        model, note = learned.latest_model(reads.table(catalog.GOLD_MODELS), ds)
    if model is None:
        logger.warning(
            "rank %s: learned ranker unavailable (%s); the %s formula ranks",
            ds,
            note,
            p.ranker_fallback,
        )
        return p.ranker_fallback, None, note
    logger.info("rank %s: the learned ranker ranks (%s)", ds, note)
    return LEARNED, model, note


def _stage(reads, p, ds, report: dict[str, Any]):  # noqa: ANN001
    ranker, model, note = choose_ranker(reads, p, ds)
    report.update(
        {"ranker_used": ranker, "model_id": model.model_id if model else None, "ranker_note": note}
    )
    prep = prepare(read_silver(reads), ds, p)
    gold = read_gold(reads, RANK_INPUTS, ds)
    feeds = stage_recommend(
        prep, p, gold, model=model, report=report, ranker=ranker, blend_with_served_lists=False
    )
    return {"feeds": feeds}


def _with_run_id(frames, run_id):
    return {"feeds": frames["feeds"].withColumn("run_id", F.lit(run_id))}


def run(spark: Any, settings: Any, ds: dt.date, versions: dict[str, int] | None = None) -> dict:
    report: dict[str, Any] = {}
    return run_stage(
        "rank",
        spark,
        settings,
        ds,
        lambda reads, p, d: _stage(reads, p, d, report),
        versions,
        finish=_with_run_id,
        report=report,
    )


if __name__ == "__main__":
    job_main("rank", run)
