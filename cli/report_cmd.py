"""`fyp report [--open]`: the path of the latest nightly HTML report."""

from __future__ import annotations

import click

from cli._common import FypError


@click.command()
@click.option("--open", "open_it", is_flag=True, help="Open it in a browser.")
def report(open_it: bool) -> None:
    """Print the path of the latest nightly run report."""
    from fyplake.report import latest_report

    path = latest_report()
    if path is None:
        raise FypError("no nightly report yet: run `fyp run fyp_nightly` (or `fyp demo`) first")
    click.echo(str(path))
    if open_it:
        import webbrowser
        from pathlib import Path

        if not isinstance(path, Path):
            raise FypError(f"the report is in the object store, not on this machine: {path}")
        webbrowser.open(path.as_uri())
