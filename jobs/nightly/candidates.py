"""Job: per-user candidates from every source, with quotas, dedupe and filters.

Reads silver as of ds and the gold lists/embeddings/assignments of ds; writes gold.candidates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs._entry import job_main
from jobs.recsys.jobrun import run_stage
from jobs.recsys.lakeio import CANDIDATE_GOLD, read_gold, read_silver
from jobs.recsys.pipeline import prepare, stage_candidates


def _stage(reads, p, ds):
    prep = prepare(read_silver(reads), ds, p)
    return {"candidates": stage_candidates(prep, p, read_gold(reads, CANDIDATE_GOLD.values(), ds))}


def run(spark: Any, settings: Any, ds: dt.date, versions: dict[str, int] | None = None) -> dict:
    return run_stage("candidates", spark, settings, ds, _stage, versions)


if __name__ == "__main__":
    job_main("candidates", run)
