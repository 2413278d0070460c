"""`fyp build` from an empty FYP_HOME on the CSV importer's format: the README's second "Bring
your own log" recipe, run exactly as written (its own file, so a second test worker runs it
beside the MovieLens one). Its log spans 30 days, not the MovieLens folder's 200: what it
checks is the format's recipe, and every event date is a partition each lake job writes
(ingest, silver and gold take ~40% longer on 200)."""

from __future__ import annotations

import pytest
from byol_data import csv_log, ratings
from byol_run import ITEMS, PER_USER, USERS, Home, readme_recipes, run_recipe

pytestmark = [pytest.mark.spark, pytest.mark.services, pytest.mark.slow]

DAYS = 30


def test_readme_recipe_on_the_csv_format():
    home = Home()
    rows = ratings(USERS, ITEMS, PER_USER, DAYS, seed=2)
    csv_log(home.cwd / "log.csv", rows)
    try:
        run_recipe(home, readme_recipes()[1], rows)
    finally:
        home.close()
