"""End to end through the `fyp` command line: a tiny world, `fyp_hourly` and `fyp_nightly` run by
Airflow itself with real Spark/Delta, Postgres and Valkey, then feeds served as the API serves
them; a re-run of the same nightly date gives the same feeds.

It runs in its own FYP_HOME (its own lake and embedded servers), so the other tests' tables
cannot leak into it. Spark tasks run in the Airflow worker's process (FYP_SPARK_TASK_MODE=
inprocess, the embedded default's mode); `test_spark_submit_task` covers the spark-submit path.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import psycopg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.airflow, pytest.mark.spark, pytest.mark.services]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("e2e")
    env = {
        **os.environ,
        "FYP_HOME": str(home),
        "FYP_SPARK_TASK_MODE": "inprocess",
        "FYP_SPARK_MASTER": "local[2]",
        "FYP_SPARK_SHUFFLE_PARTITIONS": "2",
        "FYP_INGEST_CATCHUP_HOURS": "120",
    }
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    last = start + dt.timedelta(days=1)

    def fyp(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "fyplake.cli", *args], env=env, capture_output=True, text=True
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"fyp {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    fyp("generate", "--users", "300", "--videos", "400", "--days", "2", "--seed", "5",
        "--start-date", start.isoformat())
    yield fyp, last
    fyp("stack", "down", check=False)


def _feeds(fyp, ds: dt.date) -> list[dict]:
    out = fyp(
        "sql",
        f"SELECT user_id, rank, video_id, source FROM gold.feeds WHERE ds = DATE'{ds}' "
        "ORDER BY user_id, rank",
        "--json", "--max-rows", "1000000",
    ).stdout
    return json.loads(out)


def test_hourly_then_nightly_serve_ranked_ready_videos(world):
    fyp, last = world
    hourly = json.loads(fyp("run", "fyp_hourly", "--date", last.isoformat(), "--json").stdout)
    assert hourly[0]["state"] == "success"
    nightly = json.loads(fyp("run", "fyp_nightly", "--date", last.isoformat(), "--json").stdout)
    assert nightly[0]["state"] == "success"
    assert {t["state"] for t in nightly[0]["tasks"]} == {"success"}

    feeds = _feeds(fyp, last)
    users = {r["user_id"] for r in feeds}
    assert len(users) >= 250, "nearly every user of the world should have a feed"

    status = json.loads(fyp("stack", "status", "--json").stdout)
    user_id = feeds[0]["user_id"]
    page = json.loads(fyp("feed", str(user_id), "--limit", "20", "--json").stdout)
    items = page["items"]
    assert len(items) == 20
    assert [i["rank"] for i in items] == sorted(i["rank"] for i in items)
    with psycopg.connect(status["postgres"]) as conn:
        rows = conn.execute(
            "SELECT id, status FROM videos WHERE id = ANY(%s)", ([i["video_id"] for i in items],)
        ).fetchall()
    assert {r[1] for r in rows} == {"ready"} and len(rows) == len(items)

    # Re-running the same nightly date replaces its own output: same feeds, no duplicates.
    again = json.loads(fyp("run", "fyp_nightly", "--date", last.isoformat(), "--json").stdout)
    assert again[0]["state"] == "success"
    assert _feeds(fyp, last) == feeds
