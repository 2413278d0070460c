"""Job: the new-video exploration pool (Thompson sampling on completion) and its audience.

Reads silver as of ds, gold.video_features and gold.video_embeddings/user_embeddings of ds;
writes gold.exploration_pool and gold.exploration_assignments (ds partition).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fyplake import catalog
from jobs._entry import job_main
from jobs.recsys.jobrun import run_stage
from jobs.recsys.lakeio import read_silver
from jobs.recsys.pipeline import prepare, stage_exploration


def _stage(reads, p, ds):
    prep = prepare(read_silver(reads), ds, p)
    return stage_exploration(
        prep,
        p,
        reads.gold(catalog.GOLD_VIDEO_FEATURES, ds),
        reads.gold(catalog.GOLD_VIDEO_EMBEDDINGS, ds),
        reads.gold(catalog.GOLD_USER_EMBEDDINGS, ds),
    )


def run(spark: Any, settings: Any, ds: dt.date, versions: dict[str, int] | None = None) -> dict:
    return run_stage("exploration", spark, settings, ds, _stage, versions)


if __name__ == "__main__":
    job_main("exploration", run)
