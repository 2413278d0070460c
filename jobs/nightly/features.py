"""Job: video features, user affinities, candidate lists, trending, cold-start pools.

Reads silver.watch_history/users/videos/follows as of ds; writes gold.video_features,
gold.user_affinities, gold.trending, gold.hashtag_top, gold.sound_top, gold.creator_top and
gold.coldstart_pools (ds partition).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fyplake import catalog
from jobs._entry import job_main
from jobs.recsys import coldstart
from jobs.recsys.jobrun import run_stage
from jobs.recsys.lakeio import read_silver
from jobs.recsys.pipeline import prepare, stage_features

COLD_PRIOR_MODES = ("validate", "reuse")


def run(
    spark: Any,
    settings: Any,
    ds: dt.date,
    versions: dict[str, int] | None = None,
    cold_prior: str = "validate",
) -> dict:
    """``cold_prior``: ``validate`` (the nightly: the cold-start prior chosen on this run's own
    target) or ``reuse`` (the hourly runs: the latest earlier day's choice from gold.runs,
    validated here only when there is none), so the hour does not repeat the validation."""
    if cold_prior not in COLD_PRIOR_MODES:
        raise ValueError(f"cold_prior must be one of {COLD_PRIOR_MODES}, got {cold_prior!r}")
    report: dict[str, Any] = {}  # the cold-start prior's validation (run params, result)

    def stage(reads, p, ds):  # noqa: ANN001, ANN202
        prep = prepare(read_silver(reads), ds, p)
        if cold_prior == "reuse" and p.cold_prior_strength is None:
            prep.cold_prior = coldstart.earlier_prior(reads.table(catalog.GOLD_RUNS), ds)
        frames = stage_features(prep, p)
        report.update(prep.cold_prior or {})
        return frames

    return run_stage("features", spark, settings, ds, stage, versions, report=report)


if __name__ == "__main__":
    job_main("features", run)
