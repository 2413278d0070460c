"""DAGs chained by data: the nightly is scheduled on the Asset the day's last hourly run emits,
not on a clock; every lake writer shares one pool that maintenance takes whole."""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from types import SimpleNamespace

import pytest

from infra.airflow_env import DAGS_FOLDER, LAKE_WRITER_SLOTS, LAKE_WRITERS_POOL, airflow_environ
from orchestration.intervals import close_day_event, closed_day, closes_day, run_ds

pytestmark = pytest.mark.airflow

UTC = dt.UTC


@pytest.fixture(scope="module")
def dagbag(settings):
    os.environ.update(airflow_environ(settings))
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_the_nightly_is_scheduled_on_the_day_closed_asset_not_a_clock(dagbag):
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    from orchestration.assets import SILVER_DAY_CLOSED

    nightly = dagbag.dags["fyp_nightly"]
    assert isinstance(nightly.timetable, AssetTriggeredTimetable), nightly.timetable
    assert nightly.timetable.asset_condition == SILVER_DAY_CLOSED

    hourly = dagbag.dags["fyp_hourly"]
    close = hourly.get_task("close_day")
    assert [o.uri for o in close.outlets] == [SILVER_DAY_CLOSED.uri]
    # It comes after the hour's silver is gated and its lists are out (the nightly then never
    # overlaps the day's last hourly), and it is the hourly run's last task.
    assert {"quality_gate", "silver", "publish_lists"} <= close.get_flat_relative_ids(upstream=True)
    assert close.downstream_task_ids == set()
    # Nothing else in any DAG emits it: the day's last hourly run is its only producer.
    producers = [
        (dag_id, t.task_id)
        for dag_id, dag in dagbag.dags.items()
        for t in dag.tasks
        if any(getattr(o, "uri", None) == SILVER_DAY_CLOSED.uri for o in t.outlets)
    ]
    assert producers == [("fyp_hourly", "close_day")]


def test_every_spark_task_is_a_lake_writer_and_maintenance_takes_the_whole_pool(dagbag):
    from orchestration.spark_submit import FypSparkSubmitOperator

    spark_tasks = [
        (dag_id, t)
        for dag_id, dag in dagbag.dags.items()
        for t in dag.tasks
        if isinstance(t, FypSparkSubmitOperator)
    ]
    assert {dag_id for dag_id, _ in spark_tasks} == {"fyp_hourly", "fyp_nightly", "fyp_maintenance"}
    assert all(t.pool == LAKE_WRITERS_POOL for _, t in spark_tasks)
    maintenance = dagbag.dags["fyp_maintenance"]
    assert maintenance.get_task("optimize_vacuum").pool_slots == LAKE_WRITER_SLOTS
    assert maintenance.get_task("expire_feed_versions").pool == LAKE_WRITERS_POOL


def test_only_the_hour_that_ends_at_midnight_closes_a_day():
    from airflow.sdk.exceptions import AirflowSkipException

    asset = object()
    for hour in (1, 12, 23):
        end = dt.datetime(2026, 3, 9, hour, tzinfo=UTC)
        assert not closes_day(end)
        events = defaultdict(SimpleNamespace)
        with pytest.raises(AirflowSkipException, match="does not close a day"):
            close_day_event({"data_interval_end": end, "outlet_events": events}, asset)
        assert not events  # a skipped task emits no event

    midnight = dt.datetime(2026, 3, 10, tzinfo=UTC)
    assert closes_day(midnight) and closed_day(midnight) == dt.date(2026, 3, 9)
    # The same instant in another zone is the same midnight.
    assert closes_day(midnight.astimezone(dt.timezone(dt.timedelta(hours=5))))
    events = defaultdict(SimpleNamespace)
    day = close_day_event({"data_interval_end": midnight, "outlet_events": events}, asset)
    assert day == "2026-03-09" and events[asset].extra == {"ds": "2026-03-09"}


def test_a_run_is_for_the_day_its_events_closed_else_its_interval_start():
    def event(ds: str | None) -> SimpleNamespace:
        return SimpleNamespace(extra={"ds": ds} if ds else {})

    # Asset-triggered: the newest closed day (days queued while the nightly was behind fold
    # into one run; a backfill makes the older ones).
    triggered = {"silver.day_closed": [event("2026-03-08"), event("2026-03-09"), event(None)]}
    assert run_ds({"triggering_asset_events": triggered}) == dt.date(2026, 3, 9)
    # Manual run of the asset-scheduled nightly for D: logical date D, interval [D, D].
    manual = {"triggering_asset_events": {}, "data_interval_start": dt.datetime(2026, 3, 9)}
    assert run_ds(manual) == dt.date(2026, 3, 9)
    # A time-scheduled hourly interval: its start's date.
    hour = dt.datetime(2026, 3, 9, 23, tzinfo=UTC)
    assert run_ds({"data_interval_start": hour}) == dt.date(2026, 3, 9)
    with pytest.raises(ValueError, match="no date"):
        run_ds({})


def test_fyp_run_gives_the_asset_scheduled_nightly_its_own_date_as_logical_date():
    from orchestration.runner import logical_date_for

    assert logical_date_for("fyp_nightly", "2026-03-09") == "2026-03-09T00:00:00+00:00"
    # the time-scheduled DAGs keep their data-interval convention: the run ends the interval
    assert logical_date_for("fyp_maintenance", "2026-03-09") == "2026-03-10T00:00:00+00:00"
    assert logical_date_for("fyp_hourly", "2026-03-09") == "2026-03-10T00:00:00+00:00"
