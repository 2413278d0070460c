"""Job: video features, user affinities, candidate lists, trending, cold-start pools.

Reads silver.watch_history/users/videos/follows as of ds; writes gold.video_features,
gold.user_affinities, gold.trending, gold.hashtag_top, gold.sound_top, gold.creator_top and
gold.coldstart_pools (ds partition).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jobs._entry import job_main
from jobs.recsys.jobrun import run_stage
from jobs.recsys.lakeio import read_silver
from jobs.recsys.pipeline import prepare, stage_features


def run(spark: Any, settings: Any, ds: dt.date, versions: dict[str, int] | None = None) -> dict:
    report: dict[str, Any] = {}  # the cold-start prior's validation (run params, result)

    def stage(reads, p, ds):  # noqa: ANN001, ANN202
        prep = prepare(read_silver(reads), ds, p)
        frames = stage_features(prep, p)
        report.update(prep.cold_prior or {})
        return frames

    return run_stage("features", spark, settings, ds, stage, versions, report=report)


if __name__ == "__main__":
    job_main("features", run)
