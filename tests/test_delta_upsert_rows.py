"""delta_io.upsert_rows: the small bookkeeping upsert (gold.runs) on the key, without a MERGE."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from fyplake import catalog, delta_io

DS1, DS2 = dt.date(2001, 1, 1), dt.date(2001, 1, 2)  # dates no other test writes
T = dt.datetime(2001, 1, 1, 12, 30)


def _row(ds, job, run_id, outputs="{}"):  # noqa: ANN001, ANN202
    return (ds, job, run_id, T, T, "{}", outputs, "{}")


def test_upsert_rows_replaces_by_key_and_keeps_the_rest(spark, settings):
    spec = catalog.GOLD_RUNS
    v0 = delta_io.upsert_rows(spark, [_row(DS1, "features", "a")], spec, settings=settings)
    delta_io.upsert_rows(
        spark, [_row(DS1, "rank", "b"), _row(DS2, "features", "c")], spec, settings=settings
    )
    v2 = delta_io.upsert_rows(
        spark, [_row(DS1, "features", "d", '{"gold.x": 3}')], spec, settings=settings
    )
    assert v2 == v0 + 2 == delta_io.latest_version(spark, spec, settings)
    got = delta_io.read_table(spark, spec, settings=settings).where(F.col("ds").isin(DS1, DS2))
    expected = spark.createDataFrame(
        [
            _row(DS1, "features", "d", '{"gold.x": 3}'),
            _row(DS1, "rank", "b"),
            _row(DS2, "features", "c"),
        ],
        spec.schema,
    )
    assertDataFrameEqual(got, expected)
