"""`fyp stack up|down|status`: the embedded services of this FYP_HOME."""

from __future__ import annotations

import click

from cli._common import emit_json, json_option


@click.group()
def stack() -> None:
    """Start, stop or show the embedded Postgres + pgvector and Valkey."""


@stack.command()
@json_option
def up(as_json: bool) -> None:
    """Start the embedded services (skipped for endpoints configured as external) and migrate."""
    from infra.migrations import migrate
    from infra.stack import Stack

    endpoints = Stack().up()
    migrate(endpoints.postgres)
    if as_json:
        emit_json(endpoints.as_dict())
    else:
        for name, value in endpoints.as_dict().items():
            click.echo(f"{name:13} {value}")


@stack.command()
@click.option("--purge", is_flag=True, help="Also delete the embedded services' data.")
def down(purge: bool) -> None:
    """Stop the embedded services (data is kept unless --purge)."""
    from infra.stack import Stack

    st = Stack()
    if purge:
        st.destroy()
        click.echo("stopped and purged embedded services")
        return
    stopped = st.down()
    for name, was_running in stopped.items():
        click.echo(f"{name:9} {'stopped' if was_running else 'not running'}")


@stack.command()
@json_option
def status(as_json: bool) -> None:
    """Show endpoints and whether each embedded service is running."""
    from infra.stack import Stack

    data = Stack().status()
    if as_json:
        emit_json(data)
        return
    running = data["running"]
    for name in ("postgres", "valkey", "lake", "spark_master", "media"):
        state = ""
        if name in running:
            state = "running" if running[name] else "stopped"
        click.echo(f"{name:13} {state:8} {data[name]}")
