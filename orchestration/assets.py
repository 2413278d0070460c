"""One Airflow Asset per lake table, defined once from the table catalog.

Producers list them as ``outlets``; downstream DAGs use them in ``schedule=`` (``&``/``|``).
"""

from __future__ import annotations

from airflow.sdk import Asset

from fyplake.catalog import TABLES


def _asset(full_name: str) -> Asset:
    layer, name = full_name.split(".", 1)
    return Asset(name=full_name, uri=f"fyplake://lake/{layer}/{name}", group="lake")


LAKE = {full_name: _asset(full_name) for full_name in TABLES}

#: Valkey publications (not lake tables, but downstream consumers may wait on them too).
FEEDS_PUBLISHED = Asset(name="valkey.feeds", uri="fyplake://valkey/feeds", group="serving")
POOLS_PUBLISHED = Asset(name="valkey.pools", uri="fyplake://valkey/pools", group="serving")
EMBEDDINGS_PUBLISHED = Asset(
    name="postgres.embeddings", uri="fyplake://postgres/embeddings", group="serving"
)


#: A day's silver is complete: the hourly run of the day's last hour emits it (``extra={"ds":
#: day}``) after that day's silver is built and gated and the hour's serving lists are out;
#: ``fyp_nightly`` is scheduled on it (``orchestration.intervals``).
SILVER_DAY_CLOSED = Asset(
    name="silver.day_closed", uri="fyplake://lake/silver/day_closed", group="lake"
)


def lake(full_name: str) -> Asset:
    """The Asset of a catalog table, e.g. ``lake("silver.watch_history")``."""
    try:
        return LAKE[full_name]
    except KeyError:
        raise KeyError(f"no lake asset {full_name!r}; known: {', '.join(sorted(LAKE))}") from None
