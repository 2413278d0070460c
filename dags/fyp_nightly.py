"""``fyp_nightly``: the day's recommendation run, published atomically.

    features -> embeddings -> exploration -> candidates -> train ranker -> ranking (with cold start)
      -> quality gate (gold) -> metadata + embeddings to Postgres/pgvector
      -> publish feeds (one atomic version flip) -> gold analytics -> gate -> evaluation -> report

The ``evaluate`` param (default true) lets a long backfill leave the offline evaluation out:
``fyp run fyp_nightly --date D1 --to D2 --conf '{"evaluate": false}'``; the report still runs.

It is scheduled on data, not the clock: the ``silver.day_closed`` Asset, which ``fyp_hourly``'s
run of a day's last hour emits once that day's silver is built and gated (``extra={"ds": day}``).
A run is for one UTC day (``orchestration.intervals.run_ds``: the triggering event's day, or a
manual run's logical date); the jobs read silver as of its end and write that day's partitions
of the gold tables, so a re-run of a date replaces its own output and a backfill of a date range
is a run per date. Every Spark task runs in the ``fyp_lake_writers`` pool (one writer at a
time across the hourly, nightly and maintenance DAGs). A failed gate stops the run before
anything is published, so the previous feed version keeps serving.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from orchestration.assets import EMBEDDINGS_PUBLISHED, FEEDS_PUBLISHED, SILVER_DAY_CLOSED, lake
from orchestration.defaults import DEFAULT_ARGS, START_DATE, TAGS
from orchestration.spark_submit import FypSparkSubmitOperator


@dag(
    dag_id="fyp_nightly",
    schedule=SILVER_DAY_CLOSED,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "nightly", "recsys"],
    params={
        "evaluate": Param(
            True, type="boolean", description="Run the offline evaluation (engine vs baselines)."
        )
    },
    doc_md=__doc__,
)
def fyp_nightly():
    def spark_job(  # noqa: ANN202
        task_id: str,
        job: str,
        outlets=(),
        run_if_param: str | None = None,
        **params,  # noqa: ANN001
    ):
        return FypSparkSubmitOperator(
            task_id=task_id,
            job=job,
            job_params=params or None,
            outlets=list(outlets),
            run_if_param=run_if_param,
        )

    features = spark_job(
        "features",
        "features",
        [lake("gold.video_features"), lake("gold.user_affinities"), lake("gold.trending")],
    )
    embeddings = spark_job(
        "embeddings",
        "embeddings",
        [
            lake("gold.video_embeddings"),
            lake("gold.user_embeddings"),
            lake("gold.video_neighbours"),
        ],
    )
    exploration = spark_job("exploration_pool", "exploration", [lake("gold.exploration_pool")])
    candidates = spark_job("candidates", "candidates", [lake("gold.candidates")])
    train_ranker = spark_job("train_ranker", "train_ranker", [lake("gold.models")])
    ranking = spark_job("ranking", "rank", [lake("gold.feeds")])
    gate_feeds = spark_job("quality_gate_feeds", "quality_gate", layer="gold.feeds")
    publish = spark_job("publish_feeds", "publish_feeds", [FEEDS_PUBLISHED], datasets="all")
    to_postgres = spark_job("embeddings_to_pgvector", "publish_postgres", [EMBEDDINGS_PUBLISHED])
    analytics = spark_job(
        "gold_analytics",
        "gold",
        [lake("gold.video_daily_stats"), lake("gold.creator_daily_stats")],
    )
    gate_gold = spark_job("quality_gate_gold", "quality_gate", layer="gold")
    evaluate = spark_job(
        "evaluation", "evaluate", [lake("gold.evaluation")], run_if_param="evaluate"
    )

    @task(trigger_rule="none_failed")  # also after a skipped evaluation
    def report(**context) -> str:
        from fyplake.report import write_run_report
        from orchestration.intervals import run_ds

        return write_run_report(context, run_ds(context))

    (
        features
        >> embeddings
        >> exploration
        >> candidates
        >> train_ranker
        >> ranking
        >> gate_feeds
        >> to_postgres
        >> publish
        >> analytics
        >> gate_gold
        >> evaluate
        >> report()
    )


fyp_nightly()
