"""Flush view/like/comment/share counters from Valkey into Postgres, exactly once.

Plain Python, no Spark: the hourly DAG calls :func:`flush` from a task (or runs this file), and
``fyp feeds flush-counters`` does the same by hand; neither records a run. ``run`` is the job
``flush_counters`` of the registry, so ``fyp job flush_counters`` drives it like the Spark jobs:
through the job skeleton (``jobs.jobrun``), whose ``gold.runs`` row records as outputs the videos
whose counters it updated (``postgres.videos``) and the batches it applied
(``postgres.counter_flush_batches``).
See ``fyplake.serving.counters`` for the exactly-once protocol.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from fyplake.config import Settings, get_settings


def flush(settings: Settings | None = None) -> dict:
    import psycopg

    from fyplake.serving.clients import resolve_postgres_dsn, valkey_client
    from fyplake.serving.counters import flush_counters

    settings = settings or get_settings()
    client = valkey_client(settings)
    try:
        with psycopg.connect(resolve_postgres_dsn(settings), autocommit=True) as conn:
            return flush_counters(client, conn, chunk=settings.counter_flush_chunk).as_dict()
    finally:
        client.close()


def run(spark: Any, settings: Settings, ds: dt.date) -> dict:
    from jobs.jobrun import JobRun, run_job

    def body(run: JobRun) -> dict:
        result = flush(settings)
        run.wrote("postgres.videos", result["videos"])
        run.wrote("postgres.counter_flush_batches", len(result["applied"]))
        return result

    return run_job("flush_counters", spark, settings, ds, body)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.stdout.write("FYP_RESULT " + json.dumps(flush()) + "\n")
