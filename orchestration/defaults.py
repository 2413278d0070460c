"""Defaults every fyplake DAG shares (owner, retries with exponential back-off, start date).

The first retry's delay is Airflow's ``[core] default_task_retry_delay``: ``fyp run``/``fyp up``
set it to 30 s unless ``AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY`` is given (the end-to-end tests
give 1 s); later retries back off exponentially up to ``max_retry_delay``.
"""

from __future__ import annotations

import datetime as dt

# The pool of every task that writes the lake or the serving stores (defined beside the
# Airflow set-up that creates it).
from infra.airflow_env import LAKE_WRITER_SLOTS, LAKE_WRITERS_POOL  # noqa: F401

START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

DEFAULT_ARGS = {
    "owner": "fyplake-data",
    "retries": 2,
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=10),
}

TAGS = ["fyplake"]

#: Template for the hourly/nightly jobs: the data interval, explicit (not the logical date).
INTERVAL_PARAMS = {
    "start": "{{ data_interval_start.isoformat() }}",
    "end": "{{ data_interval_end.isoformat() }}",
}
