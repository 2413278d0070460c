"""Spark with Delta: writes, reads, time travel, UTC session time zone, catalog tables."""

from __future__ import annotations

import datetime as dt

from lakehelpers import lake_settings
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from fyplake import catalog, delta_io


def test_session_is_utc_with_delta(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert "DeltaSparkSessionExtension" in spark.conf.get("spark.sql.extensions")


def test_write_read_and_time_travel(spark, tmp_path):
    path = str(tmp_path / "t")
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string").write.format("delta").save(path)
    spark.createDataFrame([(3, "c")], "id int, v string").write.format("delta").mode("append").save(
        path
    )
    current = spark.read.format("delta").load(path)
    v0 = spark.read.format("delta").option("versionAsOf", 0).load(path)
    assertDataFrameEqual(current, [(1, "a"), (2, "b"), (3, "c")])
    assertDataFrameEqual(v0, [(1, "a"), (2, "b")])


def test_catalog_table_merge_is_idempotent(spark, settings):
    spec = catalog.SILVER_USERS
    rows = spark.createDataFrame(
        [(1, "18-24", "US", "en", False, dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1))],
        spec.schema,
    )
    v1 = delta_io.merge_upsert(spark, rows, spec)
    delta_io.merge_upsert(spark, rows, spec)
    table = delta_io.read_table(spark, spec)
    assert table.count() == 1
    assert delta_io.latest_version(spark, spec) > v1 - 1
    old = delta_io.read_table(spark, spec, version=0)
    assert old.count() == 0  # version 0 is the empty declared table


def test_utc_timestamps_round_trip(spark, tmp_path):
    path = str(tmp_path / "ts")
    df = spark.createDataFrame([("2026-03-29T01:30:00Z",)], "s string").select(
        F.to_timestamp("s").alias("ts")
    )
    df.write.format("delta").save(path)
    got = spark.read.format("delta").load(path).select(F.date_format("ts", "HH:mm").alias("hm"))
    assert got.first()["hm"] == "01:30"


def test_a_table_from_before_a_column_was_declared_takes_the_new_writes(spark, tmp_path):
    """gold.feeds written before raw_score and ranked_by were declared: the next partition
    rebuild adds the columns (null in the old rows) instead of failing on the schema."""
    settings = lake_settings(tmp_path)
    spec = catalog.GOLD_FEEDS
    old_ddl = (
        "run_id string, ds date, user_id bigint, rank int, video_id bigint, score double, "
        "source string"
    )
    day1, day2 = dt.date(2026, 1, 1), dt.date(2026, 1, 2)
    old = spark.createDataFrame([("r1", day1, 1, 1, 10, 0.5, "hashtag")], old_ddl)
    old.write.format("delta").partitionBy("ds").save(spec.path(settings))
    new = spark.createDataFrame(
        [("r2", day2, 1, 1, 11, 1.0, "hashtag", 0.7, "hybrid")], spec.schema
    )
    where = delta_io.partition_predicate("ds", day2)
    delta_io.replace_where(spark, new, spec, where, settings=settings)
    got = delta_io.read_table(spark, spec, settings=settings).select(
        "ds", "video_id", "raw_score", "ranked_by"
    )
    assertDataFrameEqual(got, [(day1, 10, None, None), (day2, 11, 0.7, "hybrid")])
