"""Job: rank candidates into each user's top-N feed (cold start and exploration included).

Reads silver as of ds and gold.video_features, gold.video_embeddings, gold.user_embeddings,
gold.coldstart_pools and gold.candidates of ds; writes gold.feeds (ds partition) with the run id
that names the input versions; gold.runs records them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import functions as F

from fyplake import catalog
from jobs._entry import job_main
from jobs.recsys.jobrun import run_stage
from jobs.recsys.pipeline import prepare, stage_rank


def _stage(reads, p, ds):
    prep = prepare(reads.silver(), ds, p)
    g = lambda spec: reads.gold(spec, ds)  # noqa: E731
    feeds = stage_rank(
        prep,
        p,
        video_features=g(catalog.GOLD_VIDEO_FEATURES),
        video_emb=g(catalog.GOLD_VIDEO_EMBEDDINGS),
        user_emb=g(catalog.GOLD_USER_EMBEDDINGS),
        coldstart_pools=g(catalog.GOLD_COLDSTART_POOLS),
        candidates_df=g(catalog.GOLD_CANDIDATES),
        neighbours=g(catalog.GOLD_VIDEO_NEIGHBOURS),
    )
    return {"feeds": feeds}


def _with_run_id(frames, run_id):
    return {"feeds": frames["feeds"].withColumn("run_id", F.lit(run_id))}


def run(spark: Any, settings: Any, ds: dt.date, versions: dict[str, int] | None = None) -> dict:
    return run_stage("rank", spark, settings, ds, _stage, versions, finish=_with_run_id)


if __name__ == "__main__":
    job_main("rank", run)
