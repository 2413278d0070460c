"""``fyp_maintenance``: OPTIMIZE and VACUUM (>= 7 days) every lake table; expire old feed versions.

Its OPTIMIZE/VACUUM task takes the whole ``fyp_lake_writers`` pool, so it never overlaps a task
of the hourly or nightly DAG that writes the lake (they wait for it, and it for them).
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from orchestration.defaults import (
    DEFAULT_ARGS,
    LAKE_WRITER_SLOTS,
    LAKE_WRITERS_POOL,
    START_DATE,
    TAGS,
)
from orchestration.spark_submit import FypSparkSubmitOperator


@dag(
    dag_id="fyp_maintenance",
    schedule=CronDataIntervalTimetable("30 4 * * 0", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "maintenance"],
    doc_md=__doc__,
)
def fyp_maintenance():
    optimize_vacuum = FypSparkSubmitOperator(
        task_id="optimize_vacuum", job="maintenance", pool_slots=LAKE_WRITER_SLOTS
    )

    @task(pool=LAKE_WRITERS_POOL)
    def expire_feed_versions() -> dict:
        from orchestration.connections import apply_endpoint_env

        apply_endpoint_env()
        from fyplake.serving.versions import expire_old_versions

        return expire_old_versions()

    optimize_vacuum >> expire_feed_versions()


fyp_maintenance()
