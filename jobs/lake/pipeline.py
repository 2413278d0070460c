"""The lake's stages for one data interval, each followed by its quality gate:

    ingest -> gate bronze -> silver -> gate silver -> gold -> gate gold

A failing gate raises ``QualityGateFailed`` and the stages after it do not run. The DAGs wire
the same stages as separate tasks (``jobs/ingest.py``, ``jobs/quality_gate.py --param
layer=bronze``, ...); this function is the in-process equivalent (``fyp demo``, tests).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fyplake.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)


def run_lake_pipeline(
    spark: SparkSession,
    settings: Settings,
    ds: dt.date,
    *,
    gates: bool = True,
    suites_dir: Path | None = None,
    force: bool = False,
) -> dict:
    """Ingest arrival day ``ds`` and rebuild what it touched, gating each layer."""
    from jobs import gold, ingest, silver
    from jobs.quality import run_gate

    out: dict = {"ds": ds.isoformat(), "stages": []}

    def gate(layer: str) -> None:
        if gates:
            res = run_gate(spark, settings, layer, ds, suites_dir=suites_dir)
            out[f"gate_{layer}"] = res.message()
            out["stages"].append(f"gate_{layer}")

    out["ingest"] = ingest.run(spark, settings, ds, force=force)
    out["stages"].append("ingest")
    gate("bronze")
    out["silver"] = silver.run(spark, settings, ds)
    out["stages"].append("silver")
    gate("silver")
    out["gold"] = gold.run(spark, settings, ds)
    out["stages"].append("gold")
    gate("gold")
    return out


def landing_dates(settings: Settings) -> list[dt.date]:
    """Arrival dates present in the landing zone (local lakes), oldest first."""
    root = Path(settings.lake) / "landing"
    days = {p.name.removeprefix("date=") for p in root.glob("*/date=*") if p.is_dir()}
    return sorted(dt.date.fromisoformat(d) for d in days)
