"""``fyp_hourly``: the hour's landing files into the lake, then the fast-moving serving lists.

    ingest -> silver -> quality gate -> flush view counters
                                     -> features (trending, hashtag, sound lists, cold-start pools)
                                        -> exploration pool (new videos)
                                           -> users/videos/sounds to Postgres -> publish lists/pools
                                              -> close the day (the day's last hour only)

The last hour of a UTC day ends with ``close_day``: it emits the ``silver.day_closed`` Asset
(``extra={"ds": day}``), which schedules ``fyp_nightly`` for that day, so the nightly starts
when the day's silver is in and gated, not at a clock time; in every other hour it is skipped
(a skipped task emits no Asset event).

The data interval is one hour; ``ingest`` consumes the landing files that arrived in it (plus
any earlier files not yet consumed, within the configured catch-up window). Every task is
idempotent for its interval: MERGEs on business keys, partition rebuilds, versioned publishes.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from orchestration.assets import EMBEDDINGS_PUBLISHED, POOLS_PUBLISHED, SILVER_DAY_CLOSED, lake
from orchestration.defaults import DEFAULT_ARGS, INTERVAL_PARAMS, START_DATE, TAGS
from orchestration.spark_submit import FypSparkSubmitOperator


@dag(
    dag_id="fyp_hourly",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "hourly"],
    doc_md=__doc__,
)
def fyp_hourly():
    ingest = FypSparkSubmitOperator(
        task_id="ingest",
        job="ingest",
        job_params=INTERVAL_PARAMS,
        outlets=[
            lake("bronze.events"),
            lake("quarantine.events"),
            lake("silver.users"),
            lake("silver.videos"),
            lake("silver.sounds"),
            lake("silver.hashtags"),
        ],
    )
    silver = FypSparkSubmitOperator(
        task_id="silver",
        job="silver",
        outlets=[lake("silver.watch_history"), lake("silver.follows")],
    )
    gate = FypSparkSubmitOperator(
        task_id="quality_gate", job="quality_gate", job_params={"layer": "silver"}
    )

    @task
    def flush_counters() -> dict:
        from orchestration.connections import apply_endpoint_env

        apply_endpoint_env()
        from jobs.publish.counters import flush

        return flush()

    features = FypSparkSubmitOperator(
        task_id="features",
        job="features",
        # the cold-start prior the last nightly validated, not a validation every hour
        job_params={"cold_prior": "reuse"},
        outlets=[lake("gold.trending"), lake("gold.coldstart_pools")],
    )
    exploration = FypSparkSubmitOperator(
        task_id="exploration_pool", job="exploration", outlets=[lake("gold.exploration_pool")]
    )
    sync_metadata = FypSparkSubmitOperator(
        task_id="sync_metadata_to_postgres", job="publish_postgres", outlets=[EMBEDDINGS_PUBLISHED]
    )
    publish_lists = FypSparkSubmitOperator(
        task_id="publish_lists",
        job="publish_feeds",
        job_params={"datasets": "lists"},
        outlets=[POOLS_PUBLISHED],
    )

    @task(outlets=[SILVER_DAY_CLOSED])
    def close_day(**context) -> str:
        from orchestration.intervals import close_day_event

        return close_day_event(context, SILVER_DAY_CLOSED)

    ingest >> silver >> gate
    gate >> flush_counters()
    gate >> features >> exploration >> sync_metadata >> publish_lists >> close_day()


fyp_hourly()
