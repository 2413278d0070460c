"""Which date a DAG run is for, and when the hourly DAG closes a day.

The time-scheduled DAGs (``fyp_hourly``, ``fyp_maintenance``) run for their data interval; the
job's date is the interval's start. ``fyp_nightly`` is scheduled on the ``silver.day_closed``
Asset: the hourly run of a day's last hour emits it with ``extra={"ds": "YYYY-MM-DD"}`` once
that day's silver has been built and gated, and the nightly run it triggers is for that ds.
A manual or backfill run of the nightly (``fyp run fyp_nightly --date D``) has no triggering
event: its logical date is D itself, so its (zero-length) data interval starts on D.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

#: The key of the day's date in a ``silver.day_closed`` Asset event's ``extra``.
DS_KEY = "ds"


def closes_day(interval_end: dt.datetime) -> bool:
    """True for the hourly interval that ends at midnight UTC: its run is the day's last."""
    end = interval_end.astimezone(dt.UTC)
    return (end.hour, end.minute, end.second, end.microsecond) == (0, 0, 0, 0)


def closed_day(interval_end: dt.datetime) -> dt.date:
    """The day an interval ending at ``interval_end`` (midnight) closes."""
    return (interval_end.astimezone(dt.UTC) - dt.timedelta(microseconds=1)).date()


def _event_days(triggering: Mapping[Any, Iterable[Any]] | None) -> list[dt.date]:
    days = []
    for events in (triggering or {}).values():
        for event in events:
            value = (getattr(event, "extra", None) or {}).get(DS_KEY)
            if value:
                days.append(dt.date.fromisoformat(str(value)[:10]))
    return days


def run_ds(context: Mapping[str, Any]) -> dt.date:
    """The date a task of this DAG run works on.

    An asset-triggered run takes the newest day its triggering events closed (several days
    queue into one run when the nightly falls behind; the older ones are left to a backfill,
    which ``fyp run fyp_nightly --date D1 --to D2`` makes); any other run, its interval start.
    """
    days = _event_days(context.get("triggering_asset_events"))
    if days:
        return max(days)
    start = context.get("data_interval_start")
    if start is not None:
        return start.astimezone(dt.UTC).date() if start.tzinfo else start.date()
    if context.get("ds"):
        return dt.date.fromisoformat(str(context["ds"]))
    raise ValueError(
        "this DAG run has no date: no triggering silver.day_closed event and no data interval"
    )


def close_day_event(context: Mapping[str, Any], asset: Any) -> str:  # noqa: ANN401 - an Asset
    """The hourly DAG's ``close_day`` task body: in the day's last hour, attach the day to the
    ``asset`` event this task emits; in any other hour, skip (no event, no nightly)."""
    from airflow.sdk.exceptions import AirflowSkipException

    end = context["data_interval_end"]
    if not closes_day(end):
        raise AirflowSkipException(f"the hour ending {end.isoformat()} does not close a day")
    day = closed_day(end).isoformat()
    context["outlet_events"][asset].extra = {DS_KEY: day}
    return day
