"""`fyp db migrate|version`."""

from __future__ import annotations

import click

from cli._common import emit_json, json_option


@click.group()
def db() -> None:
    """Postgres schema management."""


@db.command()
@json_option
def migrate(as_json: bool) -> None:
    """Apply pending sql/ migrations (idempotent)."""
    from infra.migrations import current_version
    from infra.migrations import migrate as apply
    from infra.stack import postgres_dsn

    dsn = postgres_dsn()
    applied = apply(dsn)
    version = current_version(dsn)
    if as_json:
        emit_json({"applied": [m.path.name for m in applied], "version": version})
    elif applied:
        for m in applied:
            click.echo(f"applied {m.path.name}")
        click.echo(f"schema at version {version}")
    else:
        click.echo(f"schema up to date at version {version}")
