"""End to end through the `fyp` command line: a tiny world of three days, `fyp_hourly` and a
backfill of the last two `fyp_nightly` dates run by Airflow itself with real Spark/Delta,
Postgres and Valkey, then feeds served as the API serves them; re-running a date with tasks
that die part-way and are retried gives the same feeds and leaves no partial output; the
evaluation and report; one Spark task submitted as its own Spark application through
`spark_default`.

The module shares one world (its own FYP_HOME: its own lake and embedded servers, so the other
tests' tables cannot leak into it); each test brings it to the state it needs, so any one of
them runs alone. Spark tasks run in the Airflow worker's process (FYP_SPARK_TASK_MODE=inprocess,
the embedded default's mode) except in the spark-submit test. The backfill leaves the offline
evaluation out (`{"evaluate": false}`, as a long backfill would); one test runs it for the last
date. Failures are injected with the `FYP_FAULTS` test hook
(`fyplake/faults.py`): the job really raises part-way through its work and Airflow retries it.
Retries wait 1 s here (`AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY`) instead of 30 s.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from fastsettings import wiring_only
from testhomes import own_home

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.airflow,
    pytest.mark.spark,
    pytest.mark.services,
]

FEATURE_TABLES = (
    "video_features",
    "user_affinities",
    "trending",
    "hashtag_top",
    "sound_top",
    "creator_top",
    "coldstart_pools",
)
NIGHTLY_JOBS = ("features", "embeddings", "exploration", "candidates", "rank")


@dataclass
class World:
    home: Path
    env: dict[str, str]
    days: list[dt.date]
    state: dict = field(default_factory=dict)

    @property
    def last(self) -> dt.date:
        return self.days[-1]

    @property
    def nightly_days(self) -> list[dt.date]:
        """The backfilled dates: the last two (two runs show the order; the first day's
        events are history for both)."""
        return self.days[1:]

    def fyp(
        self, *args: str, check: bool = True, faults: str = "", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        env = {**self.env, "FYP_FAULTS": faults, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"fyp {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run(
        self,
        dag_id: str,
        *args: str,
        faults: str = "",
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> list[dict]:
        proc = self.fyp("run", dag_id, *args, "--json", faults=faults, check=check, env=env)
        return json.loads(proc.stdout)

    def sql(self, query: str) -> list[dict]:
        return json.loads(self.fyp("sql", query, "--json", "--max-rows", "1000000").stdout)

    def day_closed_events(self) -> list[tuple[str, str, dict]]:
        """The ``silver.day_closed`` Asset events in this world's Airflow metadata DB."""
        import sqlite3

        (db,) = self.home.rglob("airflow.db")
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT e.source_dag_id, e.source_task_id, e.extra FROM asset_event e "
                "JOIN asset a ON a.id = e.asset_id WHERE a.name = 'silver.day_closed' "
                "ORDER BY e.id"
            ).fetchall()
        return [(dag, task, json.loads(extra)) for dag, task, extra in rows]

    def feed_versions(self) -> dict:
        return json.loads(self.fyp("feeds", "status", "--dataset", "feed", "--json").stdout)["feed"]

    def feed(self, user_id: int) -> dict:
        return json.loads(self.fyp("feed", str(user_id), "--limit", "20", "--json").stdout)

    def valkey(self):  # noqa: ANN201
        import redis

        status = json.loads(self.fyp("stack", "status", "--json").stdout)
        return redis.Redis.from_url(status["valkey"])

    def backfilled(self) -> list[dict]:
        """Once: fyp_hourly for the last day (its ingest catches up every landed hour), then
        fyp_nightly for the last two days as one backfill, without the offline evaluation;
        returns the backfill's runs."""
        if "backfill" not in self.state:
            hourly = self.run("fyp_hourly", "--date", self.last.isoformat())
            assert hourly[0]["state"] == "success"
            # The day's last hour closed the day: the Asset the nightly is scheduled on.
            states = {t["task_id"]: t["state"] for t in hourly[0]["tasks"]}
            assert states["close_day"] == "success", hourly[0]["tasks"]
            assert self.day_closed_events() == [
                ("fyp_hourly", "close_day", {"ds": self.last.isoformat()})
            ]
            runs = self.run(
                "fyp_nightly",
                "--date",
                self.nightly_days[0].isoformat(),
                "--to",
                self.last.isoformat(),
                "--conf",
                '{"evaluate": false}',
                check=False,
            )
            self.state["backfill"] = runs
            assert [r["state"] for r in runs] == ["success"] * 2, _failure(runs)
            self.state["feeds"] = feeds(self, self.last)
        return self.state["backfill"]


def _failure(runs: list[dict]) -> str:
    """The failed run's tasks and the error lines of its log, for the assertion message."""
    bad = next((r for r in runs if r["state"] != "success"), runs[-1] if runs else {})
    tasks = [(t["task_id"], t["state"], t.get("try_number")) for t in bad.get("tasks", [])]
    lines = Path(bad["log"]).read_text().splitlines() if bad.get("log") else []
    errors = [ln for ln in lines if "Error" in ln or "Exception" in ln][-15:]
    return f"{bad.get('logical_date')}: {tasks}\n" + "\n".join(errors)


@pytest.fixture(scope="module")
def world():
    # Not under pytest's tmp_path root: another pytest session resets that root to mode 0700,
    # which locks the embedded Postgres (it runs as the user `pgserver` when tests run as root)
    # out of its data directory in the middle of the run.
    home = Path(tempfile.mkdtemp(prefix="fyp-e2e-"))
    if not os.environ.get("FYP_TEST_KEEP_HOME"):
        own_home(home)  # a killed run's world is reaped by the next run
    env = {
        **os.environ,
        "FYP_HOME": str(home),
        "FYP_SPARK_TASK_MODE": "inprocess",
        "FYP_SPARK_MASTER": "local[2]",
        "FYP_SPARK_SHUFFLE_PARTITIONS": "2",
        # On a world this small, adaptive query execution's re-planning of every stage is most
        # of a job's time (the evaluation task: 88 s with it, 48 s without); results are equal.
        "FYP_SPARK_CONF": json.dumps({"spark.sql.adaptive.enabled": "false"}),
        "FYP_INGEST_CATCHUP_HOURS": "120",
        # What this module checks (wiring, idempotence, invariants) depends neither on how
        # well ALS converges nor on the per-run validations (the hybrid blend, the cold-start
        # prior, the popularity half-life): their searches ran ~10 times in this module (with
        # the backfill cut to two dates, it went from ~42 to ~26 minutes of one CI worker).
        **wiring_only(),
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",
    }
    env.pop("FYP_FAULTS", None)
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    days = [last - dt.timedelta(days=2), last - dt.timedelta(days=1), last]
    w = World(home, env, days)
    w.fyp(
        "generate",
        "--users",
        "300",
        "--videos",
        "400",
        "--days",
        "3",
        "--seed",
        "5",
        "--start-date",
        days[0].isoformat(),
    )
    yield w
    w.fyp("stack", "down", check=False)
    if not os.environ.get("FYP_TEST_KEEP_HOME"):  # keep it (and its run logs) to debug
        shutil.rmtree(home, ignore_errors=True)


def feeds(world: World, ds: dt.date) -> list[dict]:
    return world.sql(
        f"SELECT user_id, rank, video_id, source FROM gold.feeds WHERE ds = DATE'{ds}' "
        "ORDER BY user_id, rank"
    )


def _rounded(rows: list[dict]) -> list[str]:
    """Rows as sorted JSON, floats to 9 significant digits (sums may differ in the last bits)."""

    def norm(v):  # noqa: ANN001, ANN202
        return float(f"{v:.9g}") if isinstance(v, float) else v

    return sorted(json.dumps({k: norm(v) for k, v in r.items()}, sort_keys=True) for r in rows)


def _feature_tables(world: World, ds: dt.date) -> dict[str, list[str]]:
    return {
        t: _rounded(world.sql(f"SELECT * FROM gold.{t} WHERE ds = DATE'{ds}'"))
        for t in FEATURE_TABLES
    }


def _unpublished_versions(world: World) -> dict[int, dict]:
    """Feed versions whose keys exist in Valkey but were never committed (half-written), with
    their meta status and keys and TTLs (for the assertion message)."""
    client = world.valkey()
    try:
        by_version: dict[int, list[bytes]] = {}
        for key in client.scan_iter(match="fyp:feed:v*:*"):
            if m := re.fullmatch(rb"fyp:feed:v(\d+):.*", key):
                by_version.setdefault(int(m.group(1)), []).append(key)
        found = {}
        for version, found_keys in sorted(by_version.items()):
            status = client.hget(f"fyp:feed:v{version}:meta", "status")
            if status != b"complete":
                found[version] = {
                    "status": status,
                    "keys": {k.decode(): client.ttl(k) for k in found_keys},
                }
        return found
    finally:
        client.close()


def test_backfill_of_two_dates(world):
    """`fyp run --date D2 --to D3`: a run per date, in order; each date gets its gold partitions,
    its run records and its own feed version, published in date order."""
    runs = world.backfilled()
    # fyp_nightly is scheduled on the day_closed Asset: a manual run for D has logical date D.
    assert [r["logical_date"][:10] for r in runs] == [d.isoformat() for d in world.nightly_days]
    for r in runs:
        states = {t["task_id"]: t["state"] for t in r["tasks"]}
        assert states.pop("evaluation") == "skipped"  # {"evaluate": false}
        assert set(states.values()) == {"success"}, r["tasks"]
        assert "report" in states

    counts = world.sql(
        "SELECT 'feeds' AS t, ds, COUNT(*) AS n, COUNT(DISTINCT user_id) AS users, "
        "MIN(run_id) AS run_id, MAX(run_id) AS run_id_max FROM gold.feeds GROUP BY ds "
        "UNION ALL SELECT 'candidates', ds, COUNT(*), COUNT(DISTINCT user_id), NULL, NULL "
        "FROM gold.candidates GROUP BY ds "
        "UNION ALL SELECT 'video_features', ds, COUNT(*), NULL, NULL, NULL "
        "FROM gold.video_features GROUP BY ds "
        "UNION ALL SELECT 'video_daily_stats', date, COUNT(*), NULL, NULL, NULL "
        "FROM gold.video_daily_stats GROUP BY date"
    )
    by = {(c["t"], str(c["ds"])[:10]): c for c in counts}
    for day in world.nightly_days:
        for table in ("feeds", "candidates", "video_features", "video_daily_stats"):
            assert by.get((table, day.isoformat()), {}).get("n", 0) > 0, f"gold.{table} {day}"
        feeds_row = by[("feeds", day.isoformat())]
        assert feeds_row["run_id"] == feeds_row["run_id_max"], "one run per date in gold.feeds"
    assert by[("feeds", world.last.isoformat())]["users"] >= 250, "nearly every user has a feed"
    recorded = world.sql("SELECT ds, job FROM gold.runs")
    for day in world.nightly_days:
        jobs = {r["job"] for r in recorded if str(r["ds"])[:10] == day.isoformat()}
        assert set(NIGHTLY_JOBS) <= jobs, f"gold.runs for {day}: {sorted(jobs)}"

    # Each run published its date's feed as a new version, oldest first; the last is current.
    status = world.feed_versions()
    kept = [v for v in status["versions"] if v["status"] == "complete"]
    assert len(kept) == 2 and status["current"] == kept[-1]["version"]
    for day, version in zip(world.nightly_days, kept, strict=True):
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        assert version["built_at_ms"] == int(end.timestamp() * 1000)
        assert version["run_id"] == by[("feeds", day.isoformat())]["run_id"]
        assert version["items"] == by[("feeds", day.isoformat())]["users"]


def test_the_api_serves_ranked_ready_videos(world):
    """`fyp serve` (the HTTP feed API) on the world's stack: GET /v1/feed/{user} returns the
    published feed, ranked, ready videos only, the same page `fyp feed` shows."""
    import httpx

    from fyplake.serving.testing import free_port

    world.backfilled()
    user_id = world.state["feeds"][0]["user_id"]
    expected = world.feed(user_id)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=world.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
            time.sleep(0.3)
        resp = httpx.get(f"{base}/v1/feed/{user_id}", params={"limit": 20}, timeout=10)
        bad = httpx.get(f"{base}/v1/feed/0", timeout=10)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    items = page["items"]
    assert len(items) == 20
    assert [i["rank"] for i in items] == sorted(i["rank"] for i in items)
    assert [i["video_id"] for i in items] == [i["video_id"] for i in expected["items"]]
    assert page["feed_version"] == world.feed_versions()["current"]
    assert bad.status_code == 422 and "user_id" in bad.text  # a 4xx that says what is wrong
    status = json.loads(world.fyp("stack", "status", "--json").stdout)
    with psycopg.connect(status["postgres"]) as conn:
        rows = conn.execute(
            "SELECT id, status FROM videos WHERE id = ANY(%s)", ([i["video_id"] for i in items],)
        ).fetchall()
    assert {r[1] for r in rows} == {"ready"} and len(rows) == len(items)


def test_feeds_keep_the_engine_invariants(world):
    """The last date's feeds: one for every user signed up by then (new users with no history
    get cold-start and exploration items only), ranks 1..n with at least 20 items, no
    duplicates, nothing already watched, only ready videos; new videos reach feeds through the
    exploration pool; embeddings are 128-d."""
    world.backfilled()
    ds, end = world.last.isoformat(), (world.last + dt.timedelta(days=1)).isoformat()
    feeds_of_day = f"(SELECT * FROM gold.feeds WHERE ds = DATE'{ds}')"
    known = f"(SELECT user_id FROM silver.users WHERE signup_time < TIMESTAMP'{end}')"
    rows = world.sql(
        f"SELECT 'users_without_feed' AS name, COUNT(*) AS n FROM {known} k "
        f"WHERE k.user_id NOT IN (SELECT user_id FROM {feeds_of_day} f) "
        "UNION ALL SELECT 'short_or_gapped_feeds', COUNT(*) FROM (SELECT user_id, COUNT(*) AS n, "
        f"MAX(rank) AS mx FROM {feeds_of_day} f GROUP BY user_id) g WHERE n < 20 OR n <> mx "
        "UNION ALL SELECT 'duplicate_items', COUNT(*) FROM (SELECT user_id, video_id "
        f"FROM {feeds_of_day} f GROUP BY user_id, video_id HAVING COUNT(*) > 1) d "
        f"UNION ALL SELECT 'already_watched', COUNT(*) FROM {feeds_of_day} f "
        "JOIN silver.watch_history h ON f.user_id = h.user_id AND f.video_id = h.video_id "
        f"UNION ALL SELECT 'not_ready', COUNT(*) FROM {feeds_of_day} f "
        "JOIN silver.videos v ON f.video_id = v.video_id WHERE v.status <> 'ready' "
        f"UNION ALL SELECT 'users_without_history', COUNT(*) FROM {known} k "
        "WHERE k.user_id NOT IN (SELECT user_id FROM silver.watch_history) "
        f"UNION ALL SELECT 'new_users_warm_items', COUNT(*) FROM {feeds_of_day} f "
        "WHERE f.user_id NOT IN (SELECT user_id FROM silver.watch_history) AND f.source NOT IN "
        "('coldstart_popular', 'coldstart_diverse', 'exploration') "
        f"UNION ALL SELECT 'explored_videos_in_feeds', COUNT(DISTINCT f.video_id) "
        f"FROM {feeds_of_day} f "
        f"JOIN gold.exploration_pool p ON f.video_id = p.video_id AND p.ds = DATE'{ds}' "
        "WHERE f.source = 'exploration' "
        "UNION ALL SELECT 'embeddings_not_128d', COUNT(*) FROM gold.video_embeddings "
        f"WHERE ds = DATE'{ds}' AND len(embedding) <> 128 "
        "UNION ALL SELECT 'embeddings', COUNT(*) FROM gold.video_embeddings "
        f"WHERE ds = DATE'{ds}'"
    )
    n = {r["name"]: r["n"] for r in rows}
    assert n["users_without_history"] > 0 and n["embeddings"] > 0, n  # the checks check something
    assert n["explored_videos_in_feeds"] > 0, n
    bad = (
        "users_without_feed",
        "short_or_gapped_feeds",
        "duplicate_items",
        "already_watched",
        "not_ready",
        "new_users_warm_items",
        "embeddings_not_128d",
    )
    assert {k: n[k] for k in bad} == dict.fromkeys(bad, 0)


def test_rerun_with_failing_tasks_gives_the_same_feeds_and_no_partial_output(world):
    """Re-run the last date's recommendation jobs: `features` dies after writing the first of
    its seven gold tables and `publish_feeds` dies after writing part of a new feed version.
    While publishing keeps failing the previous feed version keeps serving and no half-written
    version is left; the retried jobs' output equals the clean run's, so do the feeds; once a
    retry of publishing gets through, the same feed is served from a new version."""
    world.backfilled()
    feeds_clean = world.state["feeds"]
    last = world.last.isoformat()
    tables_clean = _feature_tables(world, world.last)
    before = world.feed_versions()
    user_id = feeds_clean[0]["user_id"]
    page_before = world.feed(user_id)
    assert page_before["feed_version"] == before["current"]

    # 1. features fails once (its retry succeeds); publish_feeds fails on all three tries.
    faults_dir = world.home / "faults"
    shutil.rmtree(faults_dir, ignore_errors=True)
    failed = world.run(
        "fyp_nightly",
        "--date",
        last,
        "--only",
        "features|embeddings|exploration_pool|candidates|ranking|publish_feeds",
        faults="features.partial_write=1,publish_feeds.partial_feed=3",
        check=False,
    )[0]
    tasks = {t["task_id"]: t for t in failed["tasks"]}
    assert failed["state"] == "failed"
    assert tasks["features"]["state"] == "success" and tasks["features"]["try_number"] == 2
    assert tasks["ranking"]["state"] == "success" and tasks["ranking"]["try_number"] == 1
    assert tasks["publish_feeds"]["state"] == "failed"
    assert tasks["publish_feeds"]["try_number"] == 3
    assert sorted(p.name for p in faults_dir.iterdir()) == [
        "features.partial_write.1",
        *[f"publish_feeds.partial_feed.{i}" for i in (1, 2, 3)],
    ]
    # The retried job's output equals the clean run's (no table left half-rewritten), and the
    # re-run's feeds are the first run's.
    assert _feature_tables(world, world.last) == tables_clean
    assert feeds(world, world.last) == feeds_clean
    # Nothing of the failed publishes is visible: the same version serves the same feed.
    during = world.feed_versions()
    assert during["current"] == before["current"]
    assert [v["version"] for v in during["versions"]] == [v["version"] for v in before["versions"]]
    page_during = world.feed(user_id)  # (each publish attempt did publish its lists: complete)
    assert (page_during["feed_version"], page_during["items"]) == (
        page_before["feed_version"],
        page_before["items"],
    )
    assert _unpublished_versions(world) == {}

    # 2. publish_feeds fails once more, then its retry publishes a whole new version.
    shutil.rmtree(faults_dir, ignore_errors=True)
    retried = world.run(
        "fyp_nightly",
        "--date",
        last,
        "--only",
        "publish_feeds",
        faults="publish_feeds.partial_feed=1",
    )[0]
    tasks = {t["task_id"]: t for t in retried["tasks"]}
    assert retried["state"] == "success"
    assert tasks["publish_feeds"]["try_number"] == 2
    after = world.feed_versions()
    assert after["current"] > before["current"]
    new = next(v for v in after["versions"] if v["version"] == after["current"])
    old = next(v for v in before["versions"] if v["version"] == before["current"])
    assert new["status"] == "complete" and new["items"] == old["items"]
    assert new["built_at_ms"] == old["built_at_ms"]
    rerun_id = world.sql(f"SELECT DISTINCT run_id FROM gold.feeds WHERE ds = DATE'{last}'")
    assert [r["run_id"] for r in rerun_id] == [new["run_id"]]  # the re-run's ranking
    page_after = world.feed(user_id)
    assert page_after["feed_version"] == after["current"]
    assert page_after["items"] == page_before["items"]
    assert _unpublished_versions(world) == {}


def test_evaluation_and_report_of_a_date(world):
    """The nightly's last two tasks for the last date: the evaluation writes the engine's and
    the baselines' metrics to gold.evaluation, and the run's HTML report shows them."""
    world.backfilled()
    last = world.last.isoformat()
    run = world.run("fyp_nightly", "--date", last, "--only", "evaluation|report")[0]
    tasks = {t["task_id"]: t for t in run["tasks"]}
    assert tasks["evaluation"]["state"] == tasks["report"]["state"] == "success"
    rows = world.sql(f"SELECT model, metric, value FROM gold.evaluation WHERE ds = DATE'{last}'")
    ndcg = {r["model"]: r["value"] for r in rows if r["metric"] == "ndcg"}
    assert {"fyp", "fyp_design", "most_popular", "item_cooccurrence"} <= set(ndcg), ndcg
    assert all(0.0 <= v <= 1.0 for v in ndcg.values()), ndcg
    report = Path(world.fyp("report").stdout.strip())
    html = report.read_text()
    assert f"fyp_nightly {last}" in html
    assert "Offline evaluation" in html and "item_cooccurrence" in html and "<img" in html


def test_a_spark_task_runs_as_a_spark_application(world):
    """FYP_SPARK_TASK_MODE=submit (the default outside the demo): the task runs spark-submit
    through the `spark_default` connection (here the local master) with the job's script, the
    job's result JSON (Delta versions) is the task's XCom, and the output equals the in-process
    run's."""
    world.backfilled()
    last = world.last.isoformat()
    query = f"SELECT * FROM gold.video_daily_stats WHERE date = DATE'{last}'"
    before = _rounded(world.sql(query))
    run = world.run(
        "fyp_nightly",
        "--date",
        last,
        "--only",
        "gold_analytics",
        env={"FYP_SPARK_TASK_MODE": "submit"},
    )[0]
    tasks = {t["task_id"]: t for t in run["tasks"]}
    assert tasks["gold_analytics"]["state"] == "success"
    log = Path(run["log"]).read_text()
    submit = [ln for ln in log.splitlines() if "spark-submit" in ln and "gold.py" in ln]
    assert submit, "no spark-submit command in the task log"
    assert "--ds " + last in submit[0] or f"--ds', '{last}" in submit[0], submit[0]
    from fyplake.config import Settings
    from fyplake.run_files import run_dir

    files = run_dir(Settings(home=world.home), "fyp_nightly", run["run_id"])
    result = json.loads((files / "gold_analytics.json").read_text())
    assert result["job"] == "gold" and result["ds"] == last, result
    assert result["versions"], result  # the Delta versions it wrote, not data
    assert _rounded(world.sql(query)) == before
