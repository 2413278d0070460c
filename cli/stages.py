"""One line per stage on the console: a rich spinner with the elapsed time while a stage runs
on a terminal, a plain line when it ends (the only output in pipes and logs)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

import click

from cli.summary import describe
from orchestration.build import Note, Reporter
from orchestration.tasks import Task


class ConsoleReporter(Reporter):
    def __init__(self, live: bool | None = None) -> None:
        self.live = sys.stdout.isatty() if live is None else live
        self.width = 24

    @contextlib.contextmanager
    def stage(self, task: Task) -> Iterator[Note]:
        summary: list[str] = []
        t0 = time.monotonic()
        try:
            with self._spinner(task.task_id):
                yield lambda result: summary.append(describe(task.job, result))
        except BaseException:
            self._line(task.task_id, time.monotonic() - t0, "FAILED")
            raise
        self._line(task.task_id, time.monotonic() - t0, " ".join(summary))

    def info(self, text: str) -> None:
        click.echo(text)

    def _line(self, name: str, seconds: float, text: str) -> None:
        click.echo(f"  {name:{self.width}} {seconds:7.1f} s  {text}")

    def _spinner(self, name: str) -> contextlib.AbstractContextManager:
        if not self.live:
            return contextlib.nullcontext()
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(SpinnerColumn(), TextColumn(name), TimeElapsedColumn(), transient=True)
        progress.add_task(name, total=None)
        return progress
