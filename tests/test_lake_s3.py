"""The lake on S3: a real SeaweedFS server, ``FYP_LAKE=s3://bucket/prefix``, and the same
commands users run (``fyp generate``, ``fyp job``, ``fyp tables``) in processes of their own, so
Spark starts with S3A and delta-rs reads through its storage options. No mocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from seaweed import seaweed

from fyplake.config import Settings
from infra.seaweedfs import SeaweedS3

# Spark runs in the commands' own processes (a JVM with S3A), minutes in all
pytestmark = [pytest.mark.spark, pytest.mark.slow]

ACCESS_KEY, SECRET_KEY = "fyp-lake-key", "fyp-lake-secret"
BUCKET = "fyp-lake"
DAY = "2026-11-01"
FYP = str(Path(sys.executable).with_name("fyp"))


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with seaweed(tmp_path_factory.mktemp("seaweedfs"), ACCESS_KEY, SECRET_KEY, BUCKET) as server:
        yield server


@pytest.fixture(scope="module")
def env(s3, tmp_path_factory):
    home = tmp_path_factory.mktemp("s3home")
    # only what this test sets (another test's FYP_* or AWS_* left in os.environ must not leak)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FYP_", "AWS_", "AIRFLOW"))}
    return {
        **clean,
        "FYP_SPARK_MASTER": "local[2]",
        "FYP_SPARK_SHUFFLE_PARTITIONS": "2",
        "FYP_SPARK_DRIVER_MEMORY": "1g",
        "FYP_HOME": str(home),
        "FYP_LAKE": f"s3://{BUCKET}/lake",
        "FYP_S3_ENDPOINT_URL": s3.endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }


def _fyp(env: dict, *args: str, timeout: int = 600) -> str:
    proc = subprocess.run(
        [FYP, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"fyp {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _keys(s3: SeaweedS3, prefix: str) -> list[str]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture(scope="module")
def ingested(s3, env):
    _fyp(env, "generate", "--users", "40", "--videos", "30", "--days", "1", "--seed", "3")
    out = _fyp(env, "job", "ingest", "--date", DAY, "--no-gates", "--json")
    return json.loads(out[out.index("{") :])


def test_the_generator_lands_its_files_and_truth_in_the_bucket(s3, ingested):
    landing = _keys(s3, "lake/landing/")
    assert any(k.startswith(f"lake/landing/events/date={DAY}/hour=") for k in landing), landing
    assert {k.split("/")[2] for k in landing} >= {"events", "users", "videos"}
    assert not [k for k in landing if k.rsplit("/", 1)[1].startswith(".")], "no temporary names"
    assert "lake/ground_truth/meta.json" in _keys(s3, "lake/ground_truth/")


def test_spark_writes_the_delta_tables_into_the_bucket(s3, env, ingested):
    for table in ("bronze/events", "silver/users", "silver/videos"):
        logs = _keys(s3, f"lake/{table}/_delta_log/")
        assert any(k.endswith(".json") for k in logs), (table, logs)
    # delta-rs (fyp tables) reads them back through the object store's options
    tables = {t["table"]: t for t in json.loads(_fyp(env, "tables", "--json"))}
    assert tables["bronze.events"]["rows"] > 0, tables["bronze.events"]
    assert tables["silver.users"]["rows"] == 40, tables["silver.users"]
    # fyp sql's DuckDB path scans them through a native S3 filesystem
    rows = json.loads(
        _fyp(env, "sql", "SELECT count(DISTINCT user_id) AS n FROM silver.users", "--json")
    )
    assert rows == [{"n": 40}], rows


def _settings(s3, env) -> Settings:
    # the credentials from the settings this time (the commands above took the AWS env)
    return Settings(
        home=env["FYP_HOME"],
        lake=env["FYP_LAKE"],
        s3_endpoint_url=s3.endpoint,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
    )


def test_api_event_landing_and_counts_go_to_the_bucket(s3, env, ingested):
    from fyplake.landing_stats import landing_counts
    from fyplake.serving.events import append_events

    settings = _settings(s3, env)
    before = landing_counts(settings)["events"]
    event = {
        "event_id": "s3-api-1",
        "event_type": "watch",
        "user_id": 1,
        "video_id": 1,
        "watch_ms": 1000,
        "event_time": f"{DAY}T12:00:00.000Z",
        "source": "api",
    }
    path = append_events([event], settings)
    after = landing_counts(settings)["events"]
    assert str(path).startswith(f"s3://{BUCKET}/lake/landing/events/date=")
    key = str(path).split(f"s3://{BUCKET}/", 1)[1]
    body = s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert json.loads(body)["event_id"] == "s3-api-1"
    assert after == (before[0] + 1, before[1] + 1)


def test_job_results_and_the_nightly_report_go_to_the_bucket(s3, env, ingested):
    """The driver that writes a task's result, the Airflow worker that reads it back and the
    report task may run on three machines: all of it sits beside the lake."""
    import datetime as dt

    from fyplake.report import latest_report, write_report
    from fyplake.run_files import read_result, read_results, run_dir, write_result
    from fyplake.storage import join, remove

    settings = _settings(s3, env)
    run = run_dir(settings, "fyp_nightly", "manual__2026-11-01T00:00:00+00:00")
    assert run == f"s3://{BUCKET}/lake/_runs/fyp_nightly/manual__2026-11-01T00_00_00_00_00"
    write_result(join(run, "ingest.json"), {"job": "ingest", "rows": 7}, settings)
    write_result(join(run, "silver.json"), {"job": "silver", "ds": dt.date(2026, 11, 1)}, settings)
    assert read_results(run, settings) == {
        "ingest": {"job": "ingest", "rows": 7},
        "silver": {"job": "silver", "ds": "2026-11-01"},
    }
    remove(join(run, "silver.json"), settings)
    remove(join(run, "silver.json"), settings)  # already gone: no error
    assert read_result(join(run, "silver.json"), settings) is None
    assert "lake/_runs/fyp_nightly/manual__2026-11-01T00_00_00_00_00/ingest.json" in _keys(
        s3, "lake/_runs/"
    )

    path = write_report(settings, dt.date(2026, 11, 1), run, "manual__2026-11-01")
    assert path == f"s3://{BUCKET}/lake/_reports/nightly/2026-11-01/manual__2026-11-01.html"
    assert latest_report(settings) == f"s3://{BUCKET}/lake/_reports/nightly/latest.html"
    page = s3.client().get_object(Bucket=BUCKET, Key="lake/_reports/nightly/latest.html")
    assert b"<html" in page["Body"].read()
