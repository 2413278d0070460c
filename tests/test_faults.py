"""The FYP_FAULTS test hook (pure, no servers)."""

from __future__ import annotations

import pytest

from fyplake import faults
from fyplake.config import Settings


def test_parse_fault_points():
    assert faults.parse("") == {}
    assert faults.parse("a.b, c.d=2") == {"a.b": 1, "c.d": 2}
    with pytest.raises(ValueError, match="POINT or POINT=TIMES"):
        faults.parse("a.b=x")


def test_a_fault_fires_the_given_number_of_times_then_lets_work_through(tmp_path):
    settings = Settings(home=tmp_path, faults="job.partial_write=2")
    for _ in range(2):
        with pytest.raises(faults.InjectedFault, match="job.partial_write"):
            faults.maybe_fail("job.partial_write", settings)
    faults.maybe_fail("job.partial_write", settings)  # the third pass goes through
    faults.maybe_fail("other.point", settings)  # not armed
    assert faults.fired("job.partial_write", settings) == 2
    assert faults.fired("other.point", settings) == 0
    # the count lives in the home, so another process (a retry) sees it
    assert not faults.take(
        "job.partial_write", Settings(home=tmp_path, faults="job.partial_write=2")
    )


def test_no_faults_by_default(tmp_path):
    settings = Settings(home=tmp_path)
    assert settings.faults == ""
    faults.maybe_fail("publish_feeds.partial_feed", settings)
    assert not (tmp_path / "faults").exists()
