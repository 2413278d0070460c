"""Quality gates: the suites in the repo are valid GX suites, a failing expectation stops the
pipeline with a message naming it and its row counts, and results are kept as JSON + data docs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lakehelpers import DAY, built_lake, lake_settings

from fyplake import catalog, delta_io
from jobs.lake.reasons import REASONS
from jobs.quality.gate import LAYERS, SUITES_DIR, _build_suite, load_suite


def test_every_gated_table_has_a_valid_suite():
    import great_expectations as gx

    files = {p.stem for p in SUITES_DIR.glob("*.json")}
    gated = {t for tables in LAYERS.values() for t in tables}
    assert gated <= files  # other tables (e.g. gold.feeds) may have suites of their own
    for table in files:
        assert table in catalog.TABLES
        for engine in ("spark", "pandas"):
            spec = load_suite(table, engine=engine)
            suite = _build_suite(gx, spec, table)
            assert len(suite.expectations) == len(spec["expectations"]) > 0
            columns = {e["kwargs"].get("column") for e in spec["expectations"]} - {None}
            assert columns <= set(catalog.table(table).columns), table


def test_quarantine_suite_knows_every_reason_code():
    spec = load_suite("quarantine.events")
    sets = [
        e["kwargs"]["value_set"]
        for e in spec["expectations"]
        if e["kwargs"].get("column") == "reason_code"
    ]
    assert set(sets[0]) == set(REASONS)


def test_an_unknown_expectation_fails_loudly(tmp_path):
    import great_expectations as gx

    spec = {"name": "x", "expectations": [{"type": "expect_no_such_thing", "kwargs": {}}]}
    with pytest.raises(ValueError, match="expect_no_such_thing"):
        _build_suite(gx, spec, "x")


@pytest.mark.slow
def test_failing_expectation_stops_the_run_with_a_clear_message(spark, tmp_path_factory):
    from jobs.quality import QualityGateFailed
    from orchestration.inprocess import run_tasks
    from orchestration.tasks import LAKE_TASKS

    # a copy of the shared lake: this run rewrites its gold.runs rows, which other modules read
    shared, _ = built_lake(spark, tmp_path_factory.mktemp("lake"))
    own = tmp_path_factory.mktemp("own")
    shutil.copytree(shared.lake, own / "lake")
    settings = lake_settings(own)
    strict = tmp_path_factory.mktemp("suites")
    for path in SUITES_DIR.glob("*.json"):
        shutil.copy(path, strict / path.name)
    spec = json.loads((strict / "silver.watch_history.json").read_text())
    for exp in spec["expectations"]:
        if exp["kwargs"].get("column") == "completion_rate" and "max_value" in exp["kwargs"]:
            exp["kwargs"]["max_value"] = 1.0  # no loops allowed: e4 watched 1.5 x its duration
    (strict / "silver.watch_history.json").write_text(json.dumps(spec))

    gold_before = delta_io.latest_version(spark, catalog.GOLD_VIDEO_DAILY_STATS, settings)
    with pytest.raises(QualityGateFailed) as err:
        run_tasks(
            LAKE_TASKS,
            DAY,
            spark=spark,
            settings=settings,
            params={"quality_gate": {"suites_dir": strict}},
        )
    message = str(err.value)
    assert message.startswith(
        "gate silver failed: silver.watch_history: "
        "expect_column_values_to_be_between(completion_rate) failed on 1 of 4 rows"
    )
    assert "data docs: file://" in message
    # gold did not run
    assert delta_io.latest_version(spark, catalog.GOLD_VIDEO_DAILY_STATS, settings) == gold_before
    kept = json.loads(
        (
            Path(settings.quality_dir) / "results" / DAY.isoformat() / "silver-latest.json"
        ).read_text()
    )
    assert kept["success"] is False
    failing = [t for t in kept["tables"] if not t["success"]]
    assert [(t["table"], t["failures"][0]["unexpected_count"]) for t in failing] == [
        ("silver.watch_history", 1)
    ]
