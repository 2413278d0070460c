"""Settings: embedded defaults, FYP_* environment, TOML file, derived paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from fyplake.config import Settings


def test_defaults_are_embedded_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("FYP_HOME", str(tmp_path))
    for var in ("FYP_LAKE", "FYP_MEDIA", "FYP_POSTGRES_DSN", "FYP_VALKEY_URL", "FYP_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.lake == str(tmp_path / "lake")
    assert s.media == str(tmp_path / "media")
    assert s.airflow_home == str(tmp_path / "airflow")
    assert s.postgres_dsn is None and s.valkey_url is None
    assert s.lake_uri == (tmp_path / "lake").as_uri()


def test_toml_file_and_environment_precedence(monkeypatch, tmp_path):
    cfg = tmp_path / "fyp.toml"
    cfg.write_text(
        'lake = "s3://bucket/lake"\n'
        'spark_master = "spark://cluster:7077"\n'
        'postgres_dsn = "postgresql://app:secret@db:5432/fyp"\n'
        "[spark_conf]\n"
        '"spark.executor.memory" = "8g"\n'
    )
    monkeypatch.setenv("FYP_CONFIG", str(cfg))
    monkeypatch.setenv("FYP_SPARK_MASTER", "spark://other:7077")
    s = Settings()
    assert s.lake == "s3://bucket/lake" and not s.lake_is_local
    assert s.spark_master == "spark://other:7077"  # environment wins over the file
    assert s.spark_conf == {"spark.executor.memory": "8g"}
    assert s.public_dict()["postgres_dsn"] == "postgresql://app:***@db:5432/fyp"


def test_missing_config_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("FYP_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        Settings()


def test_two_homes_do_not_share_state(monkeypatch, tmp_path):
    monkeypatch.setenv("FYP_HOME", str(tmp_path / "a"))
    a = Settings()
    monkeypatch.setenv("FYP_HOME", str(tmp_path / "b"))
    b = Settings()
    assert Path(a.services_dir) != Path(b.services_dir)
    assert a.lake != b.lake


def test_run_files_quality_results_and_reports_sit_beside_a_lake_in_an_object_store(tmp_path):
    """Drivers, Airflow workers and the report task may each run on another machine: with the
    lake in S3, what they hand each other lives beside the lake, not under a local home."""
    from fyplake.run_files import report_path, run_dir

    local = Settings(home=tmp_path)
    assert local.quality_dir == str(tmp_path.resolve() / "quality")
    assert run_dir(local, "fyp_nightly", "manual__2026-11-01T00:00:00+00:00") == (
        tmp_path.resolve() / "runs" / "fyp_nightly" / "manual__2026-11-01T00_00_00_00_00"
    )
    remote = Settings(home=tmp_path, lake="s3://bucket/lake")
    assert remote.quality_dir == "s3://bucket/lake/_quality"
    assert run_dir(remote, "fyp_hourly", "r:1") == "s3://bucket/lake/_runs/fyp_hourly/r_1"
    assert report_path(remote, "2026-11-01", "r+1") == (
        "s3://bucket/lake/_reports/nightly/2026-11-01/r_1.html"
    )
    # an explicit quality dir wins
    assert Settings(home=tmp_path, lake="s3://b/l", quality_dir="/q").quality_dir == "/q"
