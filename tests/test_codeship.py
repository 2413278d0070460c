"""What executors on a cluster import: the shipped zip of the library and the jobs."""

from __future__ import annotations

import zipfile

from fyplake.config import Settings
from infra.codeship import project_zip, ships_code
from infra.spark import spark_conf


def test_the_zip_holds_the_library_and_jobs_only_and_is_reused(tmp_path):
    first = project_zip(tmp_path)
    names = zipfile.ZipFile(first).namelist()
    assert "fyplake/__init__.py" in names and "jobs/registry.py" in names
    assert "jobs/recsys/ranking.py" in names
    assert not [n for n in names if n.split("/")[0] in ("cli", "infra", "dags", "serving_api")]
    assert not [n for n in names if "__pycache__" in n]
    assert project_zip(tmp_path) == first  # same content, same file


def test_a_cluster_master_ships_the_zip_and_local_does_not(tmp_path):
    assert not ships_code("local[*]") and ships_code("spark://10.0.0.5:7077")
    local = spark_conf(Settings(home=str(tmp_path), cache_dir=str(tmp_path / "c")), "t")
    assert "spark.submit.pyFiles" not in local
    remote = spark_conf(
        Settings(home=str(tmp_path), cache_dir=str(tmp_path / "c"), spark_master="spark://h:7077"),
        "t",
    )
    assert remote["spark.submit.pyFiles"].endswith(".zip")
    assert zipfile.ZipFile(remote["spark.submit.pyFiles"]).getinfo("fyplake/storage.py")
