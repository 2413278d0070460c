"""Shared fixtures: an isolated FYP_HOME per test session, one Spark session, one embedded stack.

Markers are added from the fixtures a test uses (spark -> `spark`, stack -> `services`), so
`pytest -m "not spark and not services"` runs the pure tests alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from testhomes import own_home, reap_dead_sessions

_SESSION_HOME: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _SESSION_HOME
    if not hasattr(config, "workerinput"):  # once per run, in the controller
        reap_dead_sessions()
    if not os.environ.get("FYP_TEST_KEEP_HOME"):
        _SESSION_HOME = tempfile.mkdtemp(prefix="fyp-test-")
        own_home(_SESSION_HOME)
        os.environ["FYP_HOME"] = _SESSION_HOME
        for var in ("FYP_LAKE", "FYP_MEDIA", "FYP_POSTGRES_DSN", "FYP_VALKEY_URL", "FYP_CONFIG"):
            os.environ.pop(var, None)
    os.environ.setdefault("FYP_SPARK_MASTER", "local[2]")
    os.environ.setdefault("FYP_SPARK_SHUFFLE_PARTITIONS", "2")
    os.environ.setdefault("FYP_SPARK_DRIVER_MEMORY", "2g")
    # the tests check plumbing, not quality (bench/worlds.py measures that at the default 1,000):
    # a 300-user blend sample keeps the end-to-end runs ~15% shorter
    os.environ.setdefault("FYP_REC_BLEND_USERS", "300")
    # ... and EASE's co-engagement list at cosine's 50 neighbours, not 200 (tests/test_recsys_ease
    # checks that the EASE path keeps its own count; quality at 200 is measured by bench/worlds.py)
    os.environ.setdefault("FYP_REC_EASE_NEIGHBOURS", "50")
    from fyplake.config import reload_settings

    reload_settings()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_HOME:
        from infra.stack import Stack

        try:
            Stack().down()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        shutil.rmtree(_SESSION_HOME, ignore_errors=True)


_FIXTURE_MARKS = {"spark": "spark", "stack": "services", "pg": "services", "valkey": "services"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, mark in _FIXTURE_MARKS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, mark))
    # The longest modules first (the end-to-end one, then the `fyp build` recipes), so a
    # two-worker run (`-n 2 --dist loadfile --no-loadscope-reorder`) starts them at once and
    # hands the short ones to whichever worker frees up: no long tail on one worker.
    items.sort(key=_start_order)


#: Modules measured as the longest of `make test` (minutes each), longest first.
_LONG_MODULES = ("test_e2e_pipeline.py", "test_build_cmd.py", "test_build_cmd_csv.py")


def _start_order(item: pytest.Item) -> int:
    name = item.path.name
    return _LONG_MODULES.index(name) if name in _LONG_MODULES else len(_LONG_MODULES)


@pytest.fixture(scope="session")
def settings():
    from fyplake.config import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def spark(settings):
    from infra.spark import get_spark

    # One session serves every module a worker runs (the engine's broadcasts of catalogues and
    # models included): 6 GB, not the default 4, so a late module's broadcast still fits.
    session = get_spark("fyplake-tests", settings.model_copy(update={"spark_driver_memory": "6g"}))
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module", autouse=True)
def _release_spark_cache_after_module():
    """One Spark session serves every module a worker runs: what a module cached (the engine's
    frames, local checkpoints) is released after it, or the driver's heap fills over a run and
    a later module's broadcast fails for want of memory (seen in CI on the learned-ranker tests)."""
    yield
    from pyspark import SparkContext

    if SparkContext._active_spark_context is None:  # noqa: SLF001 - no session in this worker
        return
    from orchestration.spark_submit import _drop_cached_data

    _drop_cached_data()


@pytest.fixture(scope="session")
def stack(settings):
    """The embedded Postgres + Valkey of the test session's FYP_HOME, migrated."""
    from infra.migrations import migrate
    from infra.stack import Stack

    endpoints = Stack(settings).up()
    migrate(endpoints.postgres)
    return endpoints


@pytest.fixture
def pg(stack) -> Iterator:
    import psycopg

    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        yield conn


@pytest.fixture
def valkey(stack) -> Iterator:
    import redis

    client = redis.Redis.from_url(stack.valkey)
    yield client
    client.close()
