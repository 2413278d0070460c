"""Maintenance: OPTIMIZE compacts small files; VACUUM keeps at least 7 days."""

from __future__ import annotations

import pytest
from lakehelpers import lake_settings
from pydantic import ValidationError

from fyplake import catalog, delta_io
from fyplake.config import Settings


def test_vacuum_retention_is_at_least_seven_days():
    with pytest.raises(ValidationError):
        Settings(vacuum_retain_hours=24)
    assert Settings().vacuum_retain_hours == 168


@pytest.mark.slow
def test_optimize_compacts_and_vacuum_keeps_a_week(spark, tmp_path):
    from jobs.lake import maintenance

    settings = lake_settings(tmp_path)
    spec = catalog.SILVER_SOUNDS
    for i in range(3):  # three commits, three small files
        rows = spark.createDataFrame([(i, f"s{i}", 1, None)], spec.schema)
        delta_io.ensure_table(spark, spec, settings)
        rows.write.format("delta").mode("append").save(spec.path(settings))
    result = maintenance.run(spark, settings, None, tables="silver.sounds")
    got = result["tables"]["silver.sounds"]
    assert (got["files_before"], got["files_after"]) == (3, 1)
    assert got["vacuum_retain_hours"] == 168
    assert delta_io.read_table(spark, spec, settings=settings).count() == 3
    # time travel to before the compaction still works (nothing younger than 7 days vacuumed)
    assert delta_io.read_table(spark, spec, version=1, settings=settings).count() == 1
