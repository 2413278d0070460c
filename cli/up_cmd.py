"""`fyp up`: Airflow (scheduler, DAG processor, triggerer, API server + UI) and the feed API, kept
running in the foreground until Ctrl-C, against this FYP_HOME's embedded stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click


@click.command()
@click.option(
    "--airflow-port",
    type=int,
    default=8080,
    show_default=True,
    help="Airflow API server / UI port.",
)
@click.option("--api-port", type=int, default=None, help="Feed API port (default FYP_API_PORT).")
def up(airflow_port: int, api_port: int | None) -> None:
    """Run Airflow (`airflow standalone`) and the feed API until interrupted."""
    from fyplake.config import get_settings
    from infra.airflow_env import airflow_environ, ensure_airflow_db
    from infra.migrations import migrate
    from infra.stack import Stack

    settings = get_settings()
    endpoints = Stack(settings).up()
    migrate(endpoints.postgres)
    ensure_airflow_db(settings)
    env = {
        **os.environ,
        **airflow_environ(settings, endpoints),
        "AIRFLOW__API__PORT": str(airflow_port),
    }
    port = api_port or settings.api_port
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = {
        "airflow": subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=env,
            stdout=open(log_dir / "airflow-standalone.log", "a"),
            stderr=subprocess.STDOUT,
        ),
        "feed-api": subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port)],
            env=env,
            stdout=open(log_dir / "feed-api.log", "a"),
            stderr=subprocess.STDOUT,
        ),
    }
    passwords = settings.airflow_home + "/simple_auth_manager_passwords.json.generated"
    click.echo(
        f"Airflow UI     http://127.0.0.1:{airflow_port}/  (user admin; password in {passwords})"
    )
    click.echo(f"Feed API       http://{settings.api_host}:{port}/docs")
    click.echo(f"Web feed       http://{settings.api_host}:{port}/web/")
    click.echo(f"logs           {log_dir}")
    click.echo("Ctrl-C stops both.")
    try:
        while all(p.poll() is None for p in procs.values()):
            time.sleep(1)
        dead = [name for name, p in procs.items() if p.poll() is not None]
        click.echo(f"fyp up: {', '.join(dead)} exited; stopping the rest (see {log_dir})", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
