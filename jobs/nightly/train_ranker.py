"""Job: train the learned ranker for ds (``jobs/recsys/learned.py``) and record it.

Reads silver (labels from (T', ds], T' = ds - ``rec_ranker_horizon_days``, and the users'
history as of T') and the engine's gold tables of T' (the nightly of T' wrote them; when the
lake has no gold of T' the stages run in memory on silver as of T'). Writes the model to
``<lake>/models/ranker/<model_id>/`` and one ``gold.models`` row (ds, kind=ranker; re-running
a ds replaces it), including a row with status ``skipped`` and the reason when there is too
little history to train; ``gold.runs`` records the versions read (pinned through the job
skeleton, ``jobs.jobrun``) and the gold.models version written.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from fyplake import catalog, delta_io
from jobs._entry import job_main
from jobs.jobrun import JobRun, Reads, run_job
from jobs.recsys import learned
from jobs.recsys.lakeio import CANDIDATE_GOLD, read_gold, read_silver
from jobs.recsys.params import RecParams

logger = logging.getLogger(__name__)


def _gold_of(reads: Reads, spark: Any, settings: Any, as_of: dt.date) -> dict | None:
    """The gold partitions of ``as_of`` when the nightly of that date wrote every one of them
    (video features and embeddings non-empty), else None."""
    for spec in CANDIDATE_GOLD.values():
        if not delta_io.table_exists(spark, spec, settings):
            return None
    gold = read_gold(reads, CANDIDATE_GOLD.values(), as_of)
    if (
        gold["video_features"].limit(1).count() == 0
        or gold["user_embeddings"].limit(1).count() == 0
    ):
        return None
    return gold


def run(spark: Any, settings: Any, ds: dt.date) -> dict:
    from jobs.recsys.pipeline import prepare

    p = RecParams.from_settings(settings)

    def body(run: JobRun) -> dict:
        silver = read_silver(run)
        as_of, _, _ = learned.training_window(ds, p)
        source = None
        result = learned.too_little_history(silver.watch, ds, p)
        if result is None:
            gold = _gold_of(run, spark, settings, as_of)
            source = "lake" if gold is not None else "in_memory"
            if gold is None:
                prep, gold = learned.gold_as_of(silver, as_of, p)
            else:
                prep = prepare(silver, as_of, p)
            result = learned.train(silver, ds, p, gold=gold, prep=prep)
        path = None
        if result.model is not None:
            path = learned.model_path(settings, result.model.model_id)
            learned.save(result, path)
        row = learned.models_row(result, ds, p, run.inputs, path)
        run.wrote(
            catalog.GOLD_MODELS,
            delta_io.upsert_rows(spark, [row], catalog.GOLD_MODELS, settings=settings),
        )
        run.params["gold_as_of"] = source
        logger.info(
            "train_ranker %s: %s (%s) %s", ds, result.status, result.reason or "", path or ""
        )
        return {
            "inputs": run.inputs,
            "outputs": run.outputs,
            "model_id": row[0],
            "status": result.status,
            "reason": result.reason,
            "path": path,
            "counts": result.counts,
            "metrics": result.metrics,
            "gold_as_of": source,
        }

    return run_job("train_ranker", spark, settings, ds, body, params=p.as_dict())


def models_of(spark: Any, settings: Any, reads: Reads | None = None):  # noqa: ANN201
    """gold.models (pinned through ``reads`` when given), or None when the table is absent."""
    if not delta_io.table_exists(spark, catalog.GOLD_MODELS, settings):
        return None
    if reads is not None:
        return reads.table(catalog.GOLD_MODELS)
    return delta_io.read_table(spark, catalog.GOLD_MODELS, settings=settings)


if __name__ == "__main__":
    job_main("train_ranker", run)
