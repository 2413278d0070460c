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
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

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
def cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("cluster-home")
    # the cluster's settings file decides everything (the test session's FYP_* would win over it)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FYP_", "AIRFLOW"))}
    env["FYP_HOME"] = str(home)
    try:
        out = _fyp(env, "cluster", "up", "--json", timeout=600)
        status = json.loads(out[out.index("{") :])
        assert status["up"], status
        yield {**status, "env": {**env, "FYP_CONFIG": status["config"]}, "home": home}
    finally:
        subprocess.run([FYP, "cluster", "down"], env=env, timeout=300, check=False)


@pytest.fixture(scope="module")
def runs(cluster):
    """The hourly run of the day's last hour, then the nightly it schedules, a worker killed
    while the nightly runs; returns (hourly state, nightly run id, nightly state, timings)."""
    from infra.cluster import AirflowApi

    env = cluster["env"]
    _fyp(env, "generate", "--users", "40", "--videos", "30", "--days", "1", "--seed", "3")
    api = AirflowApi(cluster["endpoints"]["airflow_api"])
    api.wait_for_dags(("fyp_hourly", "fyp_nightly"))
    api.set_paused("fyp_nightly", False)
    api.set_paused("fyp_hourly", False)
    t0 = time.monotonic()
    api.trigger("fyp_hourly", f"{DAY[:8]}02T00:00:00Z", HOURLY_RUN)
    # unpausing also schedules the live clock's latest hour; this test is about our interval
    for run in api.runs("fyp_hourly"):
        if run["run_type"] == "scheduled" and run["state"] in ("queued", "running"):
            api.set_run_state("fyp_hourly", run["dag_run_id"], "failed")
    hourly = api.wait_run("fyp_hourly", HOURLY_RUN, timeout_s=1500)
    t_hourly = time.monotonic() - t0
    # the live clock's next hours would take the lake writers' pool from the nightly
    api.set_paused("fyp_hourly", True)
    for run in api.runs("fyp_hourly"):
        if run["run_type"] == "scheduled" and run["state"] in ("queued", "running"):
            api.set_run_state("fyp_hourly", run["dag_run_id"], "failed")
    if hourly != "success":
        return hourly, None, None, {"hourly_s": t_hourly}
    deadline = time.monotonic() + 120
    nightly_id = None
    while nightly_id is None and time.monotonic() < deadline:
        nightly_id = next((r["dag_run_id"] for r in api.runs("fyp_nightly")), None)
        time.sleep(2)
    assert nightly_id, "fyp_nightly was not scheduled by the hourly run's Asset event"
    killed = threading.Event()

    def kill_a_worker_mid_run() -> None:
        # once the nightly's Spark work is under way, lose a worker (and its executors)
        while not killed.is_set():
            tis = api.task_instances("fyp_nightly", nightly_id)
            if any(t["task_id"] == "embeddings" and t["state"] == "running" for t in tis):
                pids = json.loads((cluster["home"] / "cluster" / "state.json").read_text())["pids"]
                os.killpg(pids["worker-1"], 9)
                killed.set()
                return
            time.sleep(3)

    killer = threading.Thread(target=kill_a_worker_mid_run, daemon=True)
    killer.start()
    t1 = time.monotonic()
    nightly = api.wait_run("fyp_nightly", nightly_id, timeout_s=2400)
    killed.set()
    return hourly, nightly_id, nightly, {"hourly_s": t_hourly, "nightly_s": time.monotonic() - t1}


def test_hourly_and_nightly_run_through_the_scheduler_and_celery(runs):
    hourly, nightly_id, nightly, timings = runs
    print("cluster timings", timings)
    assert hourly == "success", timings
    assert nightly == "success", (nightly_id, timings)


def test_a_worker_killed_during_the_nightly_is_survived(cluster, runs):
    status = json.loads(_fyp(cluster["env"], "cluster", "status", "--json"))
    assert status["processes"]["worker-1"] is False, "the test did kill a worker"
    assert status["processes"]["worker-2"] is True
    assert runs[2] == "success"


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
    tables = {t["table"]: t for t in json.loads(_fyp(env, "tables", "--json"))}
    assert tables["gold.feeds"]["rows"] > 0


def test_the_api_on_the_same_settings_serves_ranked_ready_videos_and_lands_events(cluster, runs):
    code = """
import json, sys
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
    r = api.post("/v1/events", headers={"X-API-Key": "fyp-dev-key"}, json={"events": [
        {"event_id": "cluster-1", "event_type": "like", "user_id": 1, "video_id": 1,
         "event_time": "2026-11-01T12:00:00.000Z"}]})
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
