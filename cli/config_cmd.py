"""`fyp config`: the effective settings (defaults + FYP_* environment + FYP_CONFIG file)."""

from __future__ import annotations

import click

from cli._common import emit_json, json_option


@click.command()
@json_option
def config(as_json: bool) -> None:
    """Print the effective configuration (secrets redacted)."""
    from fyplake.config import get_settings

    data = get_settings().public_dict()
    if as_json:
        emit_json(data)
    else:
        for key, value in data.items():
            click.echo(f"{key:26} {value}")
