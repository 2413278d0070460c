"""Job: 128-d video embeddings (ALS + content) and user embeddings.

Reads silver as of ds; writes gold.video_embeddings, gold.user_embeddings and the
co-engagement neighbours gold.video_neighbours (ds partition).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs._entry import job_main
from jobs.recsys.jobrun import run_stage
from jobs.recsys.lakeio import read_silver
from jobs.recsys.pipeline import prepare, stage_embeddings


def _stage(reads, p, ds):
    return stage_embeddings(prepare(read_silver(reads), ds, p), p)


def run(spark: Any, settings: Any, ds: dt.date, versions: dict[str, int] | None = None) -> dict:
    return run_stage("embeddings", spark, settings, ds, _stage, versions)


if __name__ == "__main__":
    job_main("embeddings", run)
