"""`fyp cluster up|down|status`: the distributed deployment as separate local processes
(SeaweedFS S3, a Spark standalone master and two workers, Airflow's scheduler, DAG processor,
API server and a Celery worker; ``infra/cluster.py``)."""

from __future__ import annotations

import click

from cli._common import emit_json, json_option


@click.group()
def cluster() -> None:
    """Bring the local multi-process cluster up or down, or show it."""


def _show(data: dict, as_json: bool) -> None:
    if as_json:
        emit_json(data)
        return
    click.echo(f"up          {data.get('up')}")
    click.echo(f"config      {data.get('config')}  (export FYP_CONFIG=<this> to use it)")
    for name, value in (data.get("endpoints") or {}).items():
        click.echo(f"{name:11} {value}")
    for name, alive in (data.get("processes") or {}).items():
        click.echo(f"  {name:22} {'running' if alive else 'stopped'}")


@cluster.command()
@json_option
def up(as_json: bool) -> None:
    """Start everything (idempotent) and write <home>/cluster/fyp.toml pointing at it."""
    from infra.cluster import LocalCluster

    _show(LocalCluster().up(), as_json)


@cluster.command()
@json_option
def down(as_json: bool) -> None:
    """Stop exactly what `fyp cluster up` started."""
    from infra.cluster import LocalCluster

    stopped = LocalCluster().down()
    if as_json:
        emit_json(stopped)
        return
    for name, was_running in stopped.items():
        click.echo(f"{name:22} {'stopped' if was_running else 'not running'}")


@cluster.command()
@json_option
def status(as_json: bool) -> None:
    """Which of the cluster's processes are running, and its endpoints."""
    from infra.cluster import LocalCluster

    _show(LocalCluster().status(), as_json)
