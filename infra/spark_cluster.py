"""A Spark standalone cluster on this machine: one master and N workers, each a process of its
own (``spark-class org.apache.spark.deploy.master.Master`` / ``...worker.Worker`` from the pyspark
package), on loopback ports, logs and work folders under a root folder.

The application layer's (``fyp cluster``, the cluster tests); jobs reach it only through the
``spark://`` master URL in the settings, exactly as they would reach a real cluster.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from infra.seaweedfs import free_ports


class SparkClusterError(RuntimeError):
    """A master or worker did not start."""


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise SparkClusterError(f"{log.stem} did not open port {port}:\n{tail}")
        time.sleep(0.3)


@dataclass
class SparkStandalone:
    """A master and ``workers`` workers of ``cores`` cores and ``memory`` each under ``root``."""

    root: Path
    workers: int = 2
    cores: int = 1
    memory: str = "1g"
    master_port: int | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            SPARK_HOME=str(spark_home()),
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_LOG_DIR=str(self.root / "logs"),
            SPARK_WORKER_DIR=str(self.root / "work"),
            PYSPARK_PYTHON=env.get("PYSPARK_PYTHON", sys.executable),
            # the daemons' own heap; executors get spark.executor.memory
            SPARK_DAEMON_MEMORY="256m",
        )
        return env

    def _spawn(self, name: str, cls: str, *args: str) -> subprocess.Popen:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        log = self.root / "logs" / f"{name}.log"
        with open(log, "ab") as fh:
            proc = subprocess.Popen(
                [str(spark_home() / "bin" / "spark-class"), cls, *args],
                env=self._env(),
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = proc
        return proc

    def start(self, timeout_s: float = 90.0) -> str:
        """Start the master, then the workers; returns the master URL once every worker has
        registered (each worker's web UI port is open only after it has)."""
        if self.master_port is None:
            self.master_port = free_ports(1)[0]
        (self.root / "work").mkdir(parents=True, exist_ok=True)
        ui = free_ports(1 + self.workers)
        master = self._spawn(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host", "127.0.0.1", "--port", str(self.master_port), "--webui-port", str(ui[0]),
        )  # fmt: skip
        try:
            _wait_port(self.master_port, master, self.root / "logs" / "master.log", timeout_s)
            for i in range(self.workers):
                name = f"worker-{i + 1}"
                worker = self._spawn(
                    name,
                    "org.apache.spark.deploy.worker.Worker",
                    "--host", "127.0.0.1", "--cores", str(self.cores), "--memory", self.memory,
                    "--webui-port", str(ui[1 + i]),
                    "--work-dir", str(self.root / "work" / name),
                    self.master_url,
                )  # fmt: skip
                _wait_port(ui[1 + i], worker, self.root / "logs" / f"{name}.log", timeout_s)
            self._wait_registered(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.master_url

    def _wait_registered(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        log = self.root / "logs" / "master.log"
        while True:
            text = log.read_text(errors="replace") if log.exists() else ""
            if text.count("Registering worker") >= self.workers:
                return
            if time.monotonic() > deadline:
                raise SparkClusterError(f"workers did not register:\n{text[-3000:]}")
            time.sleep(0.3)

    def kill_worker(self, name: str) -> None:
        """Kill one worker (and its executors) abruptly, as a lost machine would."""
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        for name in sorted(self.procs, key=lambda n: n == "master"):  # workers first
            proc = self.procs[name]
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=10)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait(timeout=10)
        self.procs.clear()
