"""End to end through the `fyp` command line: a tiny world, `fyp_hourly` and a backfill of three
`fyp_nightly` dates run by Airflow itself with real Spark/Delta, Postgres and Valkey, then feeds
served as the API serves them; re-running a date with tasks that die part-way and are retried
gives the same feeds and leaves no partial output.

The module shares one world (its own FYP_HOME: its own lake and embedded servers, so the other
tests' tables cannot leak into it); each test brings it to the state it needs, so any one of
them runs alone. Spark tasks run in the Airflow worker's process (FYP_SPARK_TASK_MODE=inprocess,
the embedded default's mode). Failures are injected with the `FYP_FAULTS` test hook
(`fyplake/faults.py`): the job really raises part-way through its work and Airflow retries it.
Retries wait 1 s here (`AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY`) instead of 30 s.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

pytestmark = [
    pytest.mark.e2e, pytest.mark.slow, pytest.mark.airflow, pytest.mark.spark,
    pytest.mark.services,
]

FEATURE_TABLES = (
    "video_features", "user_affinities", "trending", "hashtag_top", "sound_top", "creator_top",
    "coldstart_pools",
)
NIGHTLY_JOBS = ("features", "embeddings", "exploration", "candidates", "rank", "evaluate")


@dataclass
class World:
    home: Path
    env: dict[str, str]
    days: list[dt.date]
    state: dict = field(default_factory=dict)

    @property
    def last(self) -> dt.date:
        return self.days[-1]

    def fyp(self, *args: str, check: bool = True, faults: str = "") -> subprocess.CompletedProcess:
        env = {**self.env, "FYP_FAULTS": faults}
        proc = subprocess.run(
            [sys.executable, "-m", "fyplake.cli", *args], env=env, capture_output=True, text=True
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"fyp {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run(self, dag_id: str, *args: str, faults: str = "", check: bool = True) -> list[dict]:
        proc = self.fyp("run", dag_id, *args, "--json", faults=faults, check=check)
        return json.loads(proc.stdout)

    def sql(self, query: str) -> list[dict]:
        return json.loads(self.fyp("sql", query, "--json", "--max-rows", "1000000").stdout)

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
        fyp_nightly for the three days as one backfill; returns the backfill's runs."""
        if "backfill" not in self.state:
            hourly = self.run("fyp_hourly", "--date", self.last.isoformat())
            assert hourly[0]["state"] == "success"
            runs = self.run("fyp_nightly", "--date", self.days[0].isoformat(),
                            "--to", self.last.isoformat(), check=False)
            self.state["backfill"] = runs
            assert [r["state"] for r in runs] == ["success"] * 3, _failure(runs)
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
    env = {
        **os.environ,
        "FYP_HOME": str(home),
        "FYP_SPARK_TASK_MODE": "inprocess",
        "FYP_SPARK_MASTER": "local[2]",
        "FYP_SPARK_SHUFFLE_PARTITIONS": "2",
        "FYP_INGEST_CATCHUP_HOURS": "120",
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",
    }
    env.pop("FYP_FAULTS", None)
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    days = [last - dt.timedelta(days=2), last - dt.timedelta(days=1), last]
    w = World(home, env, days)
    w.fyp("generate", "--users", "300", "--videos", "400", "--days", "3", "--seed", "5",
          "--start-date", days[0].isoformat())
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
    return {t: _rounded(world.sql(f"SELECT * FROM gold.{t} WHERE ds = DATE'{ds}'"))
            for t in FEATURE_TABLES}


def _unpublished_versions(world: World) -> list[int]:
    """Feed versions whose keys exist in Valkey but were never committed (half-written)."""
    client = world.valkey()
    try:
        found = []
        for key in client.scan_iter(match="fyp:feed:v*:meta"):
            if client.hget(key, "status") != b"complete":
                found.append(int(key.decode().split(":")[2][1:]))
        def versions(pattern: str) -> set[int]:
            return {int(k.decode().split(":")[2][1:]) for k in client.scan_iter(match=pattern)}

        orphans = versions("fyp:feed:v*:s*") - versions("fyp:feed:v*:meta")
        return sorted(set(found) | orphans)
    finally:
        client.close()


def test_backfill_of_three_dates(world):
    """`fyp run --date D1 --to D3`: a run per date, in order; each date gets its gold partitions,
    its run records and its own feed version, published in date order."""
    runs = world.backfilled()
    assert [r["logical_date"][:10] for r in runs] == [
        (d + dt.timedelta(days=1)).isoformat() for d in world.days
    ]
    for r in runs:
        assert {t["state"] for t in r["tasks"]} == {"success"}, r["tasks"]

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
    for day in world.days:
        for table in ("feeds", "candidates", "video_features", "video_daily_stats"):
            assert by.get((table, day.isoformat()), {}).get("n", 0) > 0, f"gold.{table} {day}"
        feeds_row = by[("feeds", day.isoformat())]
        assert feeds_row["run_id"] == feeds_row["run_id_max"], "one run per date in gold.feeds"
    assert by[("feeds", world.last.isoformat())]["users"] >= 250, "nearly every user has a feed"
    recorded = world.sql("SELECT ds, job FROM gold.runs")
    for day in world.days:
        jobs = {r["job"] for r in recorded if str(r["ds"])[:10] == day.isoformat()}
        assert set(NIGHTLY_JOBS) <= jobs, f"gold.runs for {day}: {sorted(jobs)}"

    # Each run published its date's feed as a new version, oldest first; the last is current.
    status = world.feed_versions()
    kept = [v for v in status["versions"] if v["status"] == "complete"]
    assert len(kept) == 3 and status["current"] == kept[-1]["version"]
    for day, version in zip(world.days, kept, strict=True):
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
        assert version["built_at_ms"] == int(end.timestamp() * 1000)
        assert version["run_id"] == by[("feeds", day.isoformat())]["run_id"]
        assert version["items"] == by[("feeds", day.isoformat())]["users"]


def test_the_api_serves_ranked_ready_videos(world):
    world.backfilled()
    user_id = world.state["feeds"][0]["user_id"]
    items = world.feed(user_id)["items"]
    assert len(items) == 20
    assert [i["rank"] for i in items] == sorted(i["rank"] for i in items)
    status = json.loads(world.fyp("stack", "status", "--json").stdout)
    with psycopg.connect(status["postgres"]) as conn:
        rows = conn.execute(
            "SELECT id, status FROM videos WHERE id = ANY(%s)", ([i["video_id"] for i in items],)
        ).fetchall()
    assert {r[1] for r in rows} == {"ready"} and len(rows) == len(items)


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
        "fyp_nightly", "--date", last,
        "--only", "features|embeddings|exploration_pool|candidates|ranking|publish_feeds",
        faults="features.partial_write=1,publish_feeds.partial_feed=3", check=False,
    )[0]
    tasks = {t["task_id"]: t for t in failed["tasks"]}
    assert failed["state"] == "failed"
    assert tasks["features"]["state"] == "success" and tasks["features"]["try_number"] == 2
    assert tasks["ranking"]["state"] == "success" and tasks["ranking"]["try_number"] == 1
    assert tasks["publish_feeds"]["state"] == "failed"
    assert tasks["publish_feeds"]["try_number"] == 3
    assert sorted(p.name for p in faults_dir.iterdir()) == [
        "features.partial_write.1", *[f"publish_feeds.partial_feed.{i}" for i in (1, 2, 3)]
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
        page_before["feed_version"], page_before["items"]
    )
    assert _unpublished_versions(world) == []

    # 2. publish_feeds fails once more, then its retry publishes a whole new version.
    shutil.rmtree(faults_dir, ignore_errors=True)
    retried = world.run(
        "fyp_nightly", "--date", last, "--only", "publish_feeds",
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
    assert _unpublished_versions(world) == []
