"""Flush view/like/comment/share counters from Valkey into Postgres, exactly once.

Plain Python, no Spark: the hourly DAG calls :func:`flush` from a task (or runs this file), and
``fyp feeds flush-counters`` does the same by hand. ``run`` exists so the job registry and
``fyp job flush_counters`` can drive it like the Spark jobs (it ignores the session).
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
    return flush(settings)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.stdout.write("FYP_RESULT " + json.dumps(flush()) + "\n")
