"""Airflow's home and how its tasks run Spark."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AirflowSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    airflow_home: str = Field(default="", description="AIRFLOW_HOME. Default: <home>/airflow.")
    spark_task_mode: Literal["submit", "inprocess"] = Field(
        default="submit",
        description="How DAG tasks run Spark jobs: `submit` (spark-submit through the "
        "spark_default connection, a real Spark application) or `inprocess` (the same job entry "
        "on the Airflow worker's local Spark session; for the embedded demo and tests).",
    )
    backfill_dates_per_process: int = Field(
        default=7,
        ge=1,
        description="`fyp run --to`: how many dates one Airflow process runs in a row (one "
        "Airflow start and, in process, one Spark driver per batch; a long backfill still "
        "starts a fresh driver every batch).",
    )
    nightly_evaluate: bool = Field(
        default=True,
        description="Whether a `fyp_nightly` run whose conf does not say (a scheduled run) "
        "runs the offline evaluation; a run's conf `evaluate` wins. Off where the nightly's "
        "time budget is tight: `fyp evaluate` runs it on demand.",
    )
    faults: str = Field(
        default="",
        description="Test hook: fault points at which jobs die on purpose, `point[=times]` "
        "comma-separated (fyplake/faults.py). Empty in production.",
    )
