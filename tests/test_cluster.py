"""The distributed deployment, proven on this machine (``make test-cluster``): ``fyp cluster up``
(SeaweedFS S3 lake, Spark standalone master + two workers, Airflow scheduler / DAG processor /
API server with the Celery executor and a Celery worker), a tiny generated world, ``fyp_hourly``
triggered through Airflow's REST API for the day's last hour, ``fyp_nightly`` scheduled by the
Asset that run emits, a Spark worker killed while the nightly runs; then the lake in the bucket,
the feed API on the same settings and event landing into the bucket. No mocks, no ``dags test``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from fastsettings import wiring_only
from testhomes import own_home

pytestmark = [pytest.mark.cluster]

FYP = str(Path(sys.executable).with_name("fyp"))
DAY = "2026-11-01"
HOURLY_RUN = "cluster-hourly-2026-11-01T23"


def _fyp(env: dict, *args: str, timeout: int = 900) -> str:
    proc = subprocess.run(
        [FYP, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, (
        f"fyp {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


@pytest.fixture(scope="module")
def cluster():
    # not under pytest's basetemp: a later pytest session on this machine resets that folder
    # to mode 0700, and the embedded Postgres (its own user) would lose its data directory
    home = Path(tempfile.mkdtemp(prefix="fyp-cluster-"))
    own_home(home)  # a killed run's cluster home is reaped by the next run
    # the cluster's settings file decides everything (the test session's FYP_* would win over it)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FYP_", "AIRFLOW"))}
    env["FYP_HOME"] = str(home)
    # what this module checks is the deployment's wiring, not the recommender's quality: the
    # per-run validations sit at their fallbacks and ALS runs half its iterations, as in the
    # end-to-end module, and the Asset-scheduled nightly leaves out the offline evaluation (a
    # Spark job like the others, ~100 s here; the end-to-end module runs it); a failed task is
    # retried after 10 s, not Airflow's 5 minutes
    env.update(
        wiring_only(),
        FYP_NIGHTLY_EVALUATE="false",
        AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY="10",
    )
    try:
        out = _fyp(env, "cluster", "up", "--json", timeout=600)
        status = json.loads(out[out.index("{") :])
        assert status["up"], status
        yield {**status, "env": {**env, "FYP_CONFIG": status["config"]}, "home": home}
    finally:
        subprocess.run([FYP, "cluster", "down"], env=env, timeout=300, check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def runs(cluster):
    """The hourly run of the day's last hour, then the nightly it schedules, a Spark worker
    killed while the nightly runs (``infra.cluster.DayRun``)."""
    from infra.cluster import AirflowApi

    env = cluster["env"]
    _fyp(env, "generate", "--users", "40", "--videos", "30", "--days", "1", "--seed", "3")
    api = AirflowApi(cluster["endpoints"]["airflow_api"])
    api.wait_for_dags(("fyp_hourly", "fyp_nightly", "video_upload_drain"))
    # no uploads in this world: the drain's minutely claims would only take worker slots
    api.set_paused("video_upload_drain", True)
    killed = threading.Event()

    def kill_a_worker_once_embeddings_runs(nightly_id: str) -> None:
        def watch() -> None:
            while not killed.is_set():
                tis = api.task_instances("fyp_nightly", nightly_id)
                if any(t["task_id"] == "embeddings" and t["state"] == "running" for t in tis):
                    state = json.loads((cluster["home"] / "cluster" / "state.json").read_text())
                    os.killpg(state["pids"]["worker-1"], 9)
                    killed.set()
                    return
                time.sleep(3)

        threading.Thread(target=watch, daemon=True).start()

    day = api.run_day(DAY, HOURLY_RUN, on_nightly=kill_a_worker_once_embeddings_runs)
    killed.set()
    return day


def test_hourly_and_nightly_run_through_the_scheduler_and_celery(runs):
    print("cluster runs", runs)
    assert runs.hourly == "success", runs
    assert runs.nightly == "success", runs


def test_a_worker_killed_during_the_nightly_is_survived(cluster, runs):
    status = json.loads(_fyp(cluster["env"], "cluster", "status", "--json"))
    assert status["processes"]["worker-1"] is False, "the test did kill a worker"
    assert status["processes"]["worker-2"] is True
    assert runs.nightly == "success"


def test_the_lake_tables_are_in_the_bucket(cluster, runs):
    import tomllib

    import boto3

    env = cluster["env"]
    conf = tomllib.loads(Path(env["FYP_CONFIG"]).read_text())
    client = boto3.client(
        "s3",
        endpoint_url=conf["s3_endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id=conf["s3_access_key_id"],
        aws_secret_access_key=conf["s3_secret_access_key"],
    )
    for table in ("bronze/events", "silver/watch_history", "gold/feeds", "gold/video_features"):
        resp = client.list_objects_v2(Bucket="fyp-lake", Prefix=f"lake/{table}/_delta_log/")
        assert resp.get("KeyCount", 0) > 0, table
    # what drivers and workers on other machines write for each other and for people: the
    # tasks' results (XCom), the quality gates' summaries and data docs, the nightly report
    for prefix in (
        f"lake/_runs/fyp_nightly/{runs.nightly_id.replace(':', '_').replace('+', '_')}/ranking",
        f"lake/_quality/results/{DAY}/silver-latest.json",
        "lake/_quality/gx/uncommitted/data_docs/local_site/index.html",
        "lake/_reports/nightly/latest.html",
    ):
        resp = client.list_objects_v2(Bucket="fyp-lake", Prefix=prefix)
        assert resp.get("KeyCount", 0) > 0, prefix
    tables = {t["table"]: t for t in json.loads(_fyp(env, "tables", "--json"))}
    assert tables["gold.feeds"]["rows"] > 0


def test_the_api_on_the_same_settings_serves_ranked_ready_videos_and_lands_events(cluster, runs):
    code = """
import datetime as dt, json, sys
from fastapi.testclient import TestClient
from serving_api.app import create_app
from fyplake.landing_stats import landing_counts
with TestClient(create_app()) as api:
    feed = None
    for uid in range(1, 41):
        r = api.get(f"/v1/feed/{uid}", params={"limit": 10})
        if r.status_code == 200 and r.json()["items"]:
            feed = r.json(); break
    before = landing_counts()["events"]
    # the API takes events of the last 30 days: this one is from now, not the world's day
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    r = api.post("/v1/events", headers={"X-API-Key": "fyp-dev-key"}, json={"events": [
        {"event_id": "cluster-1", "event_type": "like", "user_id": 1, "video_id": 1,
         "event_time": now}]})
    after = landing_counts()["events"]
print(json.dumps({"feed": feed, "post": r.status_code, "before": before, "after": after}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=cluster["env"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["feed"] and out["feed"]["items"], out
    ranks = [item["rank"] for item in out["feed"]["items"]]
    assert ranks == sorted(ranks)
    assert out["post"] in (200, 202), out
    assert out["after"][0] == out["before"][0] + 1, out
