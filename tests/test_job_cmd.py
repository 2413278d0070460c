"""`fyp job`: lists the jobs in --help, runs the quality gate the DAGs run after a job (with a
--no-gates opt-out), and prints long date lists as a count and a range."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from cli import main
from cli.summary import brief, describe
from jobs.quality import QualityGateFailed
from jobs.quality.gate import GateResult
from jobs.registry import JOBS

DATES = [(dt.date(1997, 9, 20) + dt.timedelta(days=i)).isoformat() for i in range(215)]


@pytest.fixture
def calls(monkeypatch):
    """Each run_task call as (job, params); a job returns a long date list, a gate passes."""
    from orchestration import inprocess

    made: list[tuple[str, dict]] = []

    def fake_run_task(job, ds, params=None, spark=None):
        made.append((job, dict(params or {})))
        if job == "quality_gate":
            return {"message": f"gate {params['layer']} passed"}
        return {"job": job, "ds": ds.isoformat(), "event_dates": DATES}

    monkeypatch.setattr(inprocess, "run_task", fake_run_task)
    return made


def test_help_lists_every_job_with_a_description():
    out = CliRunner().invoke(main, ["job", "--help"]).output
    jobs_part = out.split("Jobs:", 1)[1]
    for name in JOBS:
        line = next(ln for ln in jobs_part.splitlines() if ln.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 10, line


@pytest.mark.parametrize(
    ("job", "layer"),
    [("ingest", "bronze"), ("silver", "silver"), ("gold", "gold"), ("rank", "gold.feeds")],
)
def test_a_gated_job_runs_its_gate(calls, job, layer):
    result = CliRunner().invoke(main, ["job", job, "--date", "2026-11-04"])
    assert result.exit_code == 0, result.output
    assert calls == [(job, {}), ("quality_gate", {"layer": layer})]
    assert f"gate {layer} passed" in result.output


def test_no_gates_and_ungated_jobs_run_alone(calls):
    assert CliRunner().invoke(main, ["job", "silver", "--no-gates"]).exit_code == 0
    assert CliRunner().invoke(main, ["job", "features"]).exit_code == 0
    assert calls == [("silver", {}), ("features", {})]


def test_a_failing_gate_fails_the_command(calls, monkeypatch):
    from orchestration import inprocess

    def failing(job, ds, params=None, spark=None):
        calls.append((job, params))
        if job == "quality_gate":
            raise QualityGateFailed(GateResult("silver", ds.isoformat(), False, []))
        return {"job": job}

    monkeypatch.setattr(inprocess, "run_task", failing)
    result = CliRunner().invoke(main, ["job", "silver"])
    assert result.exit_code == 1
    assert "its quality gate failed: gate silver failed" in result.output


def test_long_date_lists_print_as_count_and_range(calls):
    out = CliRunner().invoke(main, ["job", "ingest", "--no-gates"]).output
    assert f"215 dates, {DATES[0]}..{DATES[-1]}" in out
    assert DATES[100] not in out


def test_brief_and_describe():
    assert brief(DATES[:3]) == DATES[:3]
    assert brief([5, 6, 7, 8]) == "4 items"
    line = describe("ingest", {"files_consumed": 3, "accepted": 4605, "event_dates": DATES})
    span = f"215 dates, {DATES[0]}..{DATES[-1]}"
    assert line == f"3 files, 4,605 accepted, 0 quarantined; event dates: {span}"
