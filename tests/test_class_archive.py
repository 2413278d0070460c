"""The driver JVM's class-data sharing archive: named per PySpark + Java, passed to the driver
only once built (pure; building one is ``make bootstrap``'s ``python -m infra.class_archive``)."""

from __future__ import annotations

from fyplake.config import Settings
from infra import class_archive
from infra.spark import spark_conf


def _settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache")


def test_no_archive_no_option(tmp_path):
    s = _settings(tmp_path)
    assert class_archive.java_option(s) == ""
    assert "SharedArchiveFile" not in spark_conf(s, "t")["spark.driver.extraJavaOptions"]


def test_a_built_archive_goes_to_every_driver_quietly(tmp_path):
    s = _settings(tmp_path)
    path = class_archive.archive_path(s)
    assert path.parent == s.cache_dir / "cds"  # the user-level cache every clone shares
    path.parent.mkdir(parents=True)
    path.write_bytes(b"archive")
    java = spark_conf(s, "t")["spark.driver.extraJavaOptions"]
    assert f"-XX:SharedArchiveFile={path}" in java
    assert class_archive.QUIET in java  # a JVM that cannot use it says nothing on stdout
    assert "-Dderby.system.home=" in java  # the options it joins are kept


def test_the_archive_is_named_by_pyspark_and_java(tmp_path, monkeypatch):
    s = _settings(tmp_path)
    here = class_archive.archive_path(s)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "another-jdk"))
    assert class_archive.archive_path(s) != here
