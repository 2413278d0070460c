"""The "Bring your own log" tests' shared parts: a fresh FYP_HOME running `fyp` commands as a
user would, and the README's recipes run and checked (tests/test_build_cmd*.py; two files so
that two test workers share the minutes)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from testhomes import own_home

from fyplake.config import REPO_ROOT, Settings

USERS, ITEMS, PER_USER, DAYS = 60, 80, 50, 200

FYP = str(Path(sys.executable).with_name("fyp"))
#: What the console must not show: log4j lines, Spark's planner warnings, native BLAS notes.
NOISE = re.compile(r"\bWARN\b|WindowExec|libblas|netlib|log4j|SLF4J")


def readme_recipes() -> list[list[str]]:
    """The commands of each bash block in the README's "Bring your own log" section."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Bring your own log\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [
        [line.split("#", 1)[0].strip() for line in block.splitlines() if line.startswith("fyp ")]
        for block in blocks
    ]


class Home:
    """A fresh FYP_HOME with a working folder holding the log, running `fyp` commands there."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="fyp-build-"))
        own_home(self.home)
        self.cwd = self.home / "work"
        self.cwd.mkdir()
        self.env = {**os.environ, "FYP_HOME": str(self.home)}

    def fyp(self, command: str, timeout: float = 1500) -> subprocess.CompletedProcess:
        argv = [FYP, *shlex.split(command)[1:]]
        done = subprocess.run(
            argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
        assert not NOISE.search(done.stdout + done.stderr), f"{command}: chatter on the console"
        return done

    def close(self) -> None:
        from infra.stack import Stack

        Stack(Settings(home=self.home)).down()
        shutil.rmtree(self.home, ignore_errors=True)


def last_event_date(rows: list[tuple]) -> dt.date:
    return dt.datetime.fromtimestamp(max(r[3] for r in rows), dt.UTC).date()


def run_recipe(home: Home, recipe: list[str], rows: list[tuple]) -> dict[str, str]:
    """Run the README's commands in order; check each one's output; return them by verb."""
    assert [c.split()[1] for c in recipe] == ["import", "build", "feed", "evaluate"]
    out = {c.split()[1]: home.fyp(c).stdout for c in recipe}
    last = last_event_date(rows)
    assert f"as of the end of {last} (the last event date, picked from the data" in out["build"]
    assert re.search(r"^  ingest .* [1-9][\d,]* accepted", out["build"], flags=re.M)
    assert re.search(r"^  publish_feeds .* published feed v\d+", out["build"], flags=re.M)
    assert re.search(r"^user 1: .*feed version \d+", out["feed"], flags=re.M | re.I)
    assert len(re.findall(r"^\d+ +\d+ ", out["feed"], flags=re.M)) >= 1  # rank, video rows
    assert re.search(r"^evaluation \S+ +ds=\S+ +holdout=time", out["evaluate"], flags=re.M)
    assert re.search(r"^fyp +\S", out["evaluate"], flags=re.M)  # the engine's row of the table
    return out
