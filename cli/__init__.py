"""The `fyp` command line (contract: ../shared/CLI.md). Each command group has its own module."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys

import click

from cli._common import FypError

#: module name -> attribute holding its click command or group. Add new commands here.
COMMANDS: dict[str, str] = {
    "cli.stack_cmd": "stack",
    "cli.db_cmd": "db",
    "cli.generate_cmd": "generate",
    "cli.config_cmd": "config",
    "cli.demo_cmd": "demo",
    "cli.build_cmd": "build",
    "cli.job_cmd": "job",
    "cli.import_cmd": "import",
    "cli.tables_cmd": "tables",
    "cli.sql_cmd": "sql",
    "cli.run_cmd": "run",
    "cli.report_cmd": "report",
    "cli.up_cmd": "up",
    "cli.serve_cmd": "serve",
    "cli.feed_cmd": "feed",
    "cli.feeds_cmd": "feeds",
    "cli.upload_cmd": "upload",
    "cli.video_cmd": "video",
    "cli.evaluate_cmd": "evaluate",
    "cli.cluster_cmd": "cluster",
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs, so `fyp --help` stays fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(
            name
            for module, name in COMMANDS.items()
            if importlib.util.find_spec(module) is not None
        )

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module_name, attr in COMMANDS.items():
            if attr == cmd_name:
                return getattr(importlib.import_module(module_name), attr)
        return None


@click.group(cls=LazyGroup, name="fyp", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
def main(verbose: int) -> None:
    """fyplake: the batch data lake that builds a short-video For You feed."""
    from cli.logs import setup_logging

    setup_logging(verbose)


def run() -> None:
    """Console entry point: any unexpected exception becomes a one-line reason and exit 1."""
    try:
        main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("fyp: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "fyp"
        click.echo(f"fyp: error: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("fyp: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the CLI contract is one line on stderr
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        click.echo(f"fyp: error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


__all__ = ["FypError", "main", "run"]
