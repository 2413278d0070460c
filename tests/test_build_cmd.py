"""`fyp build` from an empty FYP_HOME: the README's "Bring your own log" commands, run exactly as
written, on a small MovieLens-format folder; as-of dates far after and far before the data; a
console free of Spark and Java chatter (the CSV format: test_build_cmd_csv.py)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from byol_data import movielens_folder, ratings
from byol_run import DAYS, ITEMS, PER_USER, USERS, Home, last_event_date, readme_recipes, run_recipe

pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.slow]


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
    far = last_event_date(rows) + dt.timedelta(days=365 * 30)
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
