"""Job: per-user candidates from every source, with quotas, dedupe and filters.

Reads silver as of ds and the gold lists/embeddings/assignments of ds; writes gold.candidates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fyplake import catalog
from jobs._entry import job_main
from jobs.recsys.jobrun import run_stage
from jobs.recsys.lakeio import read_silver
from jobs.recsys.pipeline import prepare, stage_candidates


def _stage(reads, p, ds):
    prep = prepare(read_silver(reads), ds, p)
    g = lambda spec: reads.gold(spec, ds)  # noqa: E731
    cands = stage_candidates(
        prep,
        p,
        video_features=g(catalog.GOLD_VIDEO_FEATURES),
        user_affinities=g(catalog.GOLD_USER_AFFINITIES),
        hashtag_top=g(catalog.GOLD_HASHTAG_TOP),
        sound_top=g(catalog.GOLD_SOUND_TOP),
        creator_top=g(catalog.GOLD_CREATOR_TOP),
        trending=g(catalog.GOLD_TRENDING),
        video_emb=g(catalog.GOLD_VIDEO_EMBEDDINGS),
        user_emb=g(catalog.GOLD_USER_EMBEDDINGS),
        assignments=g(catalog.GOLD_EXPLORATION_ASSIGNMENTS),
        neighbours=g(catalog.GOLD_VIDEO_NEIGHBOURS),
    )
    return {"candidates": cands}


def run(spark: Any, settings: Any, ds: dt.date, versions: dict[str, int] | None = None) -> dict:
    return run_stage("candidates", spark, settings, ds, _stage, versions)


if __name__ == "__main__":
    job_main("candidates", run)
