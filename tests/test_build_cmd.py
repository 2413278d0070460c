"""`fyp build` from an empty FYP_HOME: the README's "Bring your own log" commands, run exactly as
written, on a small MovieLens-format folder and on the CSV importer's format; as-of dates far
after and far before the data; a console free of Spark and Java chatter."""

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

import pytest
from byol_data import csv_log, movielens_folder, ratings
from testhomes import own_home

from fyplake.config import REPO_ROOT, Settings

pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.slow]

FYP = str(Path(sys.executable).with_name("fyp"))
USERS, ITEMS, PER_USER, DAYS = 60, 80, 50, 200
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


def _last_event_date(rows: list[tuple]) -> dt.date:
    return dt.datetime.fromtimestamp(max(r[3] for r in rows), dt.UTC).date()


def run_recipe(home: Home, recipe: list[str], rows: list[tuple]) -> dict[str, str]:
    """Run the README's commands in order; check each one's output; return them by verb."""
    assert [c.split()[1] for c in recipe] == ["import", "build", "feed", "evaluate"]
    out = {c.split()[1]: home.fyp(c).stdout for c in recipe}
    last = _last_event_date(rows)
    assert f"as of the end of {last} (the last event date, picked from the data" in out["build"]
    assert re.search(r"^  ingest .* [1-9][\d,]* accepted", out["build"], flags=re.M)
    assert re.search(r"^  publish_feeds .* published feed v\d+", out["build"], flags=re.M)
    assert re.search(r"^user 1: .*feed version \d+", out["feed"], flags=re.M | re.I)
    assert len(re.findall(r"^\d+ +\d+ ", out["feed"], flags=re.M)) >= 1  # rank, video rows
    assert re.search(r"^evaluation \S+ +ds=\S+ +holdout=time", out["evaluate"], flags=re.M)
    assert re.search(r"^fyp +\S", out["evaluate"], flags=re.M)  # the engine's row of the table
    return out


@pytest.fixture(scope="module")
def movielens_home():
    home = Home()
    rows = ratings(USERS, ITEMS, PER_USER, DAYS, seed=1)
    movielens_folder(home.cwd / "ml-100k", rows, USERS, ITEMS)
    try:
        yield home, rows, run_recipe(home, readme_recipes()[0], rows)
    finally:
        home.close()


def test_readme_recipe_on_a_movielens_folder(movielens_home):
    home, _, out = movielens_home
    assert (home.home / "logs" / "spark.log").exists()  # the chatter went here instead
    assert "feeds as of the end of" in out["build"]


def test_as_of_far_after_the_data_publishes(movielens_home):
    home, rows, out = movielens_home
    version = int(re.search(r"feed version (\d+)", out["feed"]).group(1))
    far = _last_event_date(rows) + dt.timedelta(days=365 * 30)
    build = home.fyp(f"fyp build --as-of {far}").stdout
    assert f"as of the end of {far} (given" in build and "days after the last event" in build
    assert "landing zone: no unconsumed files" in build
    feed = home.fyp("fyp feed 1 --limit 10").stdout
    assert int(re.search(r"feed version (\d+)", feed).group(1)) > version


def test_as_of_far_before_the_data_publishes_nothing(movielens_home):
    home, _, _ = movielens_home
    before = home.fyp("fyp feed 1 --limit 10").stdout
    build = home.fyp("fyp build --as-of 1980-01-01").stdout
    assert "before the first event" in build and "nothing published" in build
    assert "publish_feeds" not in build
    assert home.fyp("fyp feed 1 --limit 10").stdout == before  # the served feed stays


def test_readme_recipe_on_the_csv_format():
    home = Home()
    rows = ratings(USERS, ITEMS, PER_USER, DAYS, seed=2)
    csv_log(home.cwd / "log.csv", rows)
    try:
        run_recipe(home, readme_recipes()[1], rows)
    finally:
        home.close()
