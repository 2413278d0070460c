"""``fyp cluster``: the distributed deployment, brought up on this machine as separate processes.

What runs (all on loopback ports, state under ``<FYP_HOME>/cluster``):

* the embedded Postgres and Valkey of this ``FYP_HOME`` (``infra.stack``), Postgres also holding
  a separate ``airflow`` database (Airflow's metadata and Celery's results);
* SeaweedFS (``infra.seaweedfs``): the S3 endpoint of the lake (``s3://fyp-lake/lake``) and the
  media store (``s3://fyp-media/media``);
* a Spark standalone master and two workers (``infra.spark_cluster``);
* Airflow as users deploy it: scheduler, DAG processor and API server, each its own process,
  the Celery executor with Valkey as the broker, and one Celery worker.

``up`` writes the settings file that points everything at them (``fyp.toml``, the same TOML a
real deployment edits: ``FYP_CONFIG``) and ``state.json`` (what it started: pids, ports);
``down`` stops exactly those processes, and the embedded stack only if ``up`` started it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fyplake.config import Settings, get_settings

LAKE_BUCKET, MEDIA_BUCKET = "fyp-lake", "fyp-media"
#: Airflow's metadata database in the embedded Postgres (apart from the product's).
AIRFLOW_DATABASE = "airflow"
CELERY_EXECUTOR = "airflow.providers.celery.executors.celery_executor.CeleryExecutor"
#: Valkey database of Celery's broker (the product's keys live in database 0).
BROKER_DB = 1
WORKERS, WORKER_CORES, WORKER_MEMORY = 2, 1, "1536m"
#: Java options of the local cluster's drivers and executors (see ``_write_config``).
SHORT_LIVED_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def cluster_dir(settings: Settings) -> Path:
    return Path(settings.home) / "cluster"


def config_path(settings: Settings) -> Path:
    return cluster_dir(settings) / "fyp.toml"


def _state_path(settings: Settings) -> Path:
    return cluster_dir(settings) / "state.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie child of this process counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _toml(values: dict[str, Any]) -> str:
    lines, tables = [], []
    for key, value in values.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    for key, table in tables:
        lines += ["", f"[{key}]"] + [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _with_database(dsn: str, name: str, driver: str = "postgresql+psycopg") -> str:
    scheme, rest = dsn.split("://", 1)
    creds_host, _, tail = rest.partition("/")
    _, _, query = tail.partition("?")
    return f"{driver}://{creds_host}/{name}" + (f"?{query}" if query else "")


def airflow_celery_env(postgres_dsn: str, valkey_url: str, api_port: int) -> dict[str, str]:
    """Airflow's settings for the Celery deployment (the same variables a real one sets)."""
    base = valkey_url.rsplit("/", 1)[0]
    return {
        "AIRFLOW__CORE__EXECUTOR": CELERY_EXECUTOR,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _with_database(postgres_dsn, AIRFLOW_DATABASE),
        # psycopg 3 is async too (Airflow would otherwise want asyncpg)
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _with_database(
            postgres_dsn, AIRFLOW_DATABASE, "postgresql+psycopg_async"
        ),
        "AIRFLOW__CELERY__BROKER_URL": f"{base}/{BROKER_DB}",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + _with_database(postgres_dsn, AIRFLOW_DATABASE),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        # one local operator: every API caller is an admin (a real deployment configures auth)
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        # as Airflow ships: a DAG runs on its schedule once someone unpauses it
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    }


class LocalCluster:
    """The processes of one FYP_HOME's local cluster (see the module docstring)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.root = cluster_dir(self.settings)

    # --- state ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        path = _state_path(self.settings)
        return json.loads(path.read_text()) if path.exists() else {}

    def _save(self, state: dict[str, Any]) -> None:
        path = _state_path(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, path)

    def status(self) -> dict[str, Any]:
        state = self.state()
        procs = {name: _alive(pid) for name, pid in state.get("pids", {}).items()}
        return {
            "up": bool(procs) and all(procs.values()),
            "processes": procs,
            "config": state.get("config"),
            "endpoints": state.get("endpoints", {}),
        }

    # --- up -------------------------------------------------------------------------------
    def up(self, timeout_s: float = 180.0) -> dict[str, Any]:
        """Start everything not yet running; returns ``status()``. Idempotent."""
        if self.status()["up"]:
            return self.status()
        if self.state():
            self.down()  # a half-dead cluster: stop what is left, start afresh
        from infra.seaweedfs import SeaweedS3, free_ports
        from infra.spark_cluster import SparkStandalone
        from infra.stack import Stack, _ensure_database

        s = self.settings
        self.root.mkdir(parents=True, exist_ok=True)
        stack = Stack(s)
        started_stack = not all(stack.status()["running"].values())
        ep = stack.up()
        from infra.migrations import migrate

        migrate(ep.postgres)
        _ensure_database(ep.postgres, AIRFLOW_DATABASE)
        api_port = free_ports(1)[0]
        state: dict[str, Any] = {"pids": {}, "started_stack": started_stack}
        try:
            key, secret = "fyp-local", secrets.token_hex(16)
            s3 = SeaweedS3(self.root / "seaweedfs", key, secret)
            s3.start((LAKE_BUCKET, MEDIA_BUCKET))
            state["pids"]["seaweedfs"] = s3.proc.pid
            spark = SparkStandalone(
                self.root / "spark", workers=WORKERS, cores=WORKER_CORES, memory=WORKER_MEMORY
            )
            spark.start()
            state["pids"].update({name: p.pid for name, p in spark.procs.items()})
            config = self._write_config(ep.postgres, ep.valkey, s3.endpoint, key, secret, spark)
            state.update(
                config=str(config),
                endpoints={
                    "s3": s3.endpoint,
                    "spark_master": spark.master_url,
                    "airflow_api": f"http://127.0.0.1:{api_port}",
                    "postgres": ep.postgres,
                    "valkey": ep.valkey,
                },
            )
            self._save(state)
            env = self.airflow_env(config, ep.postgres, ep.valkey, api_port)
            self._migrate(env)
            for name, args in (
                ("airflow-scheduler", ["scheduler"]),
                ("airflow-dag-processor", ["dag-processor"]),
                ("airflow-api-server", ["api-server", "--port", str(api_port)]),
                ("airflow-celery-worker", ["celery", "worker", "--concurrency", "2"]),
            ):
                state["pids"][name] = self._spawn(name, args, env)
                self._save(state)
            self._wait_api(api_port, timeout_s)
        except BaseException:
            self._save(state)
            self.down()
            raise
        return self.status()

    def _write_config(self, pg: str, vk: str, s3: str, key: str, secret: str, spark: Any) -> Path:
        s = self.settings
        values = {
            "home": str(s.home),
            "lake": f"s3://{LAKE_BUCKET}/lake",
            "media": f"s3://{MEDIA_BUCKET}/media",
            "s3_endpoint_url": s3,
            "s3_access_key_id": key,
            "s3_secret_access_key": secret,
            "postgres_dsn": pg,
            "valkey_url": vk,
            "spark_master": spark.master_url,
            "spark_task_mode": "submit",
            "spark_driver_memory": "1g",
            "airflow_home": str(self.root / "airflow"),
            "spark_shuffle_partitions": 2,
            "spark_conf": {
                # the driver runs on the Celery worker's machine (client mode)
                "spark.driver.host": "127.0.0.1",
                "spark.executor.memory": "1g",
                "spark.executor.cores": "1",
                # What follows suits a cluster on one small machine and a tiny lake; a real
                # deployment drops it. Each application gets one executor (the other worker
                # stands by for a failure); its JVMs are short-lived, so they compile with C1
                # only and collect with one thread; Delta's log replay and shuffles use two
                # tasks, not 50 and 200; adaptive re-planning of every stage costs more than it
                # saves on a few thousand rows.
                "spark.cores.max": "1",
                "spark.driver.defaultJavaOptions": SHORT_LIVED_JVM,
                "spark.executor.defaultJavaOptions": SHORT_LIVED_JVM,
                "spark.databricks.delta.snapshotPartitions": "2",
                "spark.sql.adaptive.enabled": "false",
            },
        }
        path = config_path(s)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            "# Written by `fyp cluster up`: the local cluster's endpoints. A real deployment "
            "edits the same keys.\n" + _toml(values)
        )
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path

    def airflow_env(self, config: Path, pg: str, vk: str, api_port: int) -> dict[str, str]:
        from infra.airflow_env import airflow_environ
        from infra.stack import Endpoints

        os.environ["FYP_CONFIG"] = str(config)
        from fyplake.config import reload_settings

        cs = reload_settings()
        ep = Endpoints(
            postgres=pg,
            valkey=vk,
            lake=cs.lake_uri,
            spark_master=cs.spark_master,
            media=cs.media_uri,
        )
        env = {**os.environ, **airflow_environ(cs, ep), "FYP_CONFIG": str(config)}
        env.update(airflow_celery_env(pg, vk, api_port))
        return env

    def _migrate(self, env: dict[str, str]) -> None:
        from infra.airflow_env import LAKE_WRITER_SLOTS, LAKE_WRITERS_POOL

        for args in (
            ["db", "migrate"],
            ["pools", "set", LAKE_WRITERS_POOL, str(LAKE_WRITER_SLOTS), "lake writers"],
        ):
            proc = subprocess.run(
                [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True
            )
            if proc.returncode != 0:
                raise RuntimeError(f"airflow {' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> int:
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return proc.pid

    def _wait_api(self, port: int, timeout_s: float) -> None:
        import httpx

        url = f"http://127.0.0.1:{port}/api/v2/version"
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Airflow API server did not answer at {url}")
            time.sleep(1)

    # --- down -----------------------------------------------------------------------------
    def down(self) -> dict[str, bool]:
        """Stop exactly what ``up`` started (its recorded pids; the stack if it started it)."""
        state = self.state()
        stopped: dict[str, bool] = {}
        pids = state.get("pids", {})
        for name in sorted(pids, key=_stop_rank):
            stopped[name] = _stop_group(pids[name])
        if state.get("started_stack"):
            from infra.stack import Stack

            stopped.update({f"stack-{k}": v for k, v in Stack(self.settings).down().items()})
        _state_path(self.settings).unlink(missing_ok=True)
        return stopped


def _stop_rank(name: str) -> int:
    """Airflow first (no new Spark work), then Spark workers, the master, then storage."""
    for rank, prefix in enumerate(("airflow", "worker", "master")):
        if name.startswith(prefix):
            return rank
    return 3


def _stop_group(pid: int, timeout_s: float = 20.0) -> bool:
    """SIGTERM the process group ``pid`` leads, SIGKILL what is left; True if it was running."""
    if not _alive(pid):
        return False
    import psutil

    # children that left the group (a task's spark-submit driver starts a session of its own)
    try:
        strays = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        strays = []
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for child in strays:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(strays, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    return True


class AirflowApi:
    """The few REST calls an operator (or the cluster test) makes: unpause, trigger, wait."""

    def __init__(self, base_url: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=base_url.rstrip("/") + "/api/v2", timeout=30)

    def _ok(self, resp: Any) -> dict[str, Any]:
        if resp.status_code >= 400:
            raise RuntimeError(
                f"Airflow API {resp.request.method} {resp.request.url}: "
                f"{resp.status_code} {resp.text[:500]}"
            )
        return resp.json()

    def wait_for_dags(self, dag_ids: tuple[str, ...], timeout_s: float = 300.0) -> None:
        """Until the DAG processor has parsed every one of ``dag_ids``."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = {
                d["dag_id"]
                for d in self._ok(self.client.get("/dags", params={"limit": 100}))["dags"]
            }
            if set(dag_ids) <= found:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"DAGs not parsed after {timeout_s:.0f}s: {set(dag_ids) - found}"
                )
            time.sleep(2)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._ok(self.client.patch(f"/dags/{dag_id}", json={"is_paused": paused}))

    def trigger(
        self, dag_id: str, logical_date: str, run_id: str, conf: dict | None = None
    ) -> dict:
        body = {"logical_date": logical_date, "dag_run_id": run_id, "conf": conf or {}}
        return self._ok(self.client.post(f"/dags/{dag_id}/dagRuns", json=body))

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self._ok(self.client.get(f"/dags/{dag_id}/dagRuns", params={"limit": 100}))[
            "dag_runs"
        ]

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> None:
        from urllib.parse import quote

        self._ok(
            self.client.patch(
                f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}", json={"state": state}
            )
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        from urllib.parse import quote

        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return self._ok(self.client.get(path, params={"limit": 100}))["task_instances"]

    def wait_run(self, dag_id: str, run_id: str, timeout_s: float) -> str:
        """The run's final state (``success`` / ``failed``), polling until it has one."""
        from urllib.parse import quote

        deadline = time.monotonic() + timeout_s
        while True:
            run = self._ok(self.client.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"))
            if run["state"] in ("success", "failed"):
                return run["state"]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} {run_id} still {run['state']} after {timeout_s:.0f}s")
            time.sleep(5)

    def fail_live_runs(self, dag_id: str, wait_s: float = 0.0) -> int:
        """Mark the DAG's queued or running *scheduled* runs failed; with ``wait_s``, first
        wait that long for the one that unpausing a time-scheduled DAG creates for the live
        clock's latest interval. Returns how many were failed."""
        deadline = time.monotonic() + wait_s
        while True:
            live = [
                r
                for r in self.runs(dag_id)
                if r["run_type"] == "scheduled" and r["state"] in ("queued", "running")
            ]
            if live or time.monotonic() >= deadline:
                break
            time.sleep(1)
        for run in live:
            self.set_run_state(dag_id, run["dag_run_id"], "failed")
        return len(live)

    def run_day(
        self,
        day: str,
        run_id: str,
        *,
        on_nightly: Callable[[str], None] | None = None,
        timeout_s: float = 2400.0,
    ) -> DayRun:
        """One day of a world through the scheduler: ``fyp_hourly`` triggered for the day's
        last hour (``run_id``), and the ``fyp_nightly`` run its day-closed Asset event
        schedules. Live-clock runs of ``fyp_hourly`` are failed before they take the lake
        writers' pool, and the DAG is paused again once its run is done. ``on_nightly`` is
        called with the nightly's run id as soon as it exists (e.g. to start a fault)."""
        next_day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
        self.set_paused("fyp_nightly", False)
        self.set_paused("fyp_hourly", False)
        # unpausing schedules the live clock's latest hour; this run is about ``day``
        self.fail_live_runs("fyp_hourly", wait_s=30)
        t0 = time.monotonic()
        self.trigger("fyp_hourly", f"{next_day}T00:00:00Z", run_id)
        result = DayRun(hourly_id=run_id)
        try:
            result.hourly = self.wait_run("fyp_hourly", run_id, timeout_s=timeout_s)
        finally:
            # the live clock's next hours would take the lake writers' pool from the nightly
            self.set_paused("fyp_hourly", True)
            self.fail_live_runs("fyp_hourly")
        result.hourly_s = time.monotonic() - t0
        if result.hourly != "success":
            return result
        deadline = time.monotonic() + 120
        while result.nightly_id is None:
            result.nightly_id = next((r["dag_run_id"] for r in self.runs("fyp_nightly")), None)
            if result.nightly_id is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("fyp_nightly was not scheduled by the hourly's Asset event")
                time.sleep(2)
        if on_nightly is not None:
            on_nightly(result.nightly_id)
        t1 = time.monotonic()
        result.nightly = self.wait_run("fyp_nightly", result.nightly_id, timeout_s=timeout_s)
        result.nightly_s = time.monotonic() - t1
        return result


@dataclass
class DayRun:
    """What :meth:`AirflowApi.run_day` saw: each DAG's run id, final state and wall time."""

    hourly_id: str
    hourly: str | None = None
    hourly_s: float | None = None
    nightly_id: str | None = None
    nightly: str | None = None
    nightly_s: float | None = None
