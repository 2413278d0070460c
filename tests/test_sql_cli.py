"""`fyp sql` and `fyp tables` over lake tables by name: DuckDB fast path, Spark SQL, time
travel, --json and --out."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cli import main


@pytest.fixture
def small_lake(tmp_path, monkeypatch):
    """A gold table with two versions, written with delta-rs (no Spark needed)."""
    import datetime as dt

    from deltalake import write_deltalake

    from fyplake.config import reload_settings

    monkeypatch.setenv("FYP_LAKE", str(tmp_path / "lake"))
    settings = reload_settings()
    path = str(tmp_path / "lake" / "gold" / "video_daily_stats")
    day = dt.date(2026, 11, 1)
    v0 = pa.table({"date": [day, day], "video_id": [1, 2], "views": [10, 3]})
    write_deltalake(path, v0, partition_by=["date"])
    write_deltalake(path, pa.table({"date": [day], "video_id": [3], "views": [7]}), mode="append")
    yield settings
    monkeypatch.delenv("FYP_LAKE")
    reload_settings()


def _run(*args):
    res = CliRunner().invoke(main, list(args))
    return res


def test_sql_json_on_a_gold_table(small_lake):
    res = _run(
        "sql", "SELECT video_id, views FROM gold.video_daily_stats ORDER BY views DESC", "--json"
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == [
        {"video_id": 1, "views": 10},
        {"video_id": 3, "views": 7},
        {"video_id": 2, "views": 3},
    ]


def test_sql_time_travel_and_aggregates(small_lake):
    res = _run(
        "sql",
        "SELECT count(*) AS n, sum(views) AS v FROM gold.video_daily_stats",
        "--as-of",
        "0",
        "--json",
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == [{"n": 2, "v": 13}]


def test_sql_text_table_and_out_files(small_lake, tmp_path):
    res = _run("sql", "SELECT video_id, views FROM gold.video_daily_stats ORDER BY video_id")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].split() == ["video_id", "views"]
    out = tmp_path / "r.parquet"
    assert _run("sql", "SELECT * FROM gold.video_daily_stats", "--out", str(out)).exit_code == 0
    assert pq.read_table(out).num_rows == 3
    csv = tmp_path / "r.csv"
    assert (
        _run(
            "sql", "SELECT video_id FROM gold.video_daily_stats ORDER BY 1", "--out", str(csv)
        ).exit_code
        == 0
    )
    assert csv.read_text().splitlines() == ['"video_id"', "1", "2", "3"]


def test_sql_errors_are_one_line(small_lake):
    res = _run("sql", "SELECT * FROM gold.no_such_table")
    assert res.exit_code != 0 and "unknown lake table(s) gold.no_such_table" in res.output
    res = _run("sql", "SELECT * FROM silver.users")
    assert res.exit_code != 0 and "does not exist yet" in res.output
    res = _run("sql", "SELECT * FROM gold.video_daily_stats", "--as-of", "99")
    assert res.exit_code != 0 and "no version" in res.output


def test_tables_json(small_lake):
    res = _run("tables", "--json")
    assert res.exit_code == 0, res.output
    rows = {r["table"]: r for r in json.loads(res.output)}
    assert (rows["gold.video_daily_stats"]["rows"], rows["gold.video_daily_stats"]["version"]) == (
        3,
        1,
    )
    assert rows["silver.users"]["version"] is None


@pytest.mark.slow
def test_sql_on_the_built_lake_with_spark_and_duckdb(spark, tmp_path_factory, monkeypatch):
    from lakehelpers import built_lake

    from fyplake.config import reload_settings

    settings, _ = built_lake(spark, tmp_path_factory.mktemp("lake"))
    monkeypatch.setenv("FYP_LAKE", settings.lake)
    reload_settings()
    try:
        query = (
            "SELECT CAST(date AS STRING) AS d, SUM(views) AS views "
            "FROM gold.video_daily_stats GROUP BY date ORDER BY d"
        )
        expected = [{"d": "2026-10-31", "views": 1}, {"d": "2026-11-01", "views": 3}]
        for engine in ("spark", "duckdb"):
            res = _run("sql", query, "--engine", engine, "--json")
            assert res.exit_code == 0, res.output
            assert json.loads(res.output) == expected, engine
        res = _run(
            "sql",
            "SELECT count(*) AS n FROM silver.watch_history",
            "--engine",
            "spark",
            "--as-of",
            "0",
            "--json",
        )
        assert json.loads(res.output) == [{"n": 0}]  # version 0: the empty declared table
    finally:
        monkeypatch.delenv("FYP_LAKE")
        reload_settings()
