"""The one Spark session builder every job, test and command uses.

Delta is always configured, the session time zone is UTC, the master comes from the settings.
Delta's jars are resolved from Maven once into the user-level cache (``~/.cache/fyplake``); the
resolved file list is remembered there, so every later session, in any clone, starts offline.
A driver this process starts logs to ``<home>/logs/spark.log`` only (``infra/log4j2*.properties``,
and the JVM's own stderr), so the console keeps the commands' own lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from fyplake.config import Settings, get_settings
from infra import class_archive
from infra.codeship import project_zip, ships_code

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

#: S3A for an ``s3://`` lake; its version must be the Hadoop that pyspark ships (``hadoop_aws``).
HADOOP_AWS = "org.apache.hadoop:hadoop-aws"
#: The Hadoop of pyspark 4.2 (read from its jars folder when it is there).
HADOOP_VERSION_FALLBACK = "3.5.0"

#: ``settings.log_format`` -> the driver's log4j2 configuration.
LOG4J_CONFIGS = {
    "text": Path(__file__).with_name("log4j2.properties"),
    "json": Path(__file__).with_name("log4j2-json.properties"),
}


class DeltaJarsUnavailable(RuntimeError):
    """Delta's jars are neither cached nor resolvable: tell the user exactly what to do."""


def hadoop_aws() -> str:
    """``hadoop-aws`` at the version of pyspark's own Hadoop client (a mismatch fails at run
    time with missing classes or methods)."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    found = sorted(jars.glob("hadoop-client-api-*.jar"))
    version = (
        found[-1].name.removeprefix("hadoop-client-api-").removesuffix(".jar")
        if found
        else HADOOP_VERSION_FALLBACK
    )
    return f"{HADOOP_AWS}:{version}"


def _packages(settings: Settings) -> list[str]:
    packages = [settings.delta_packages]
    if settings.lake.startswith(("s3://", "s3a://")):
        packages.append(hadoop_aws())
    return packages


def _manifest_path(settings: Settings, packages: list[str]) -> Path:
    digest = hashlib.sha256(",".join(packages).encode()).hexdigest()[:16]
    return settings.jars_dir / f"resolved-{digest}.txt"


def cached_jars(settings: Settings, packages: list[str]) -> list[str] | None:
    """The jar files resolved earlier for these packages, or None if any is missing."""
    manifest = _manifest_path(settings, packages)
    if not manifest.exists():
        return None
    jars = [line for line in manifest.read_text().splitlines() if line.strip()]
    if not jars or not all(Path(j.removeprefix("file:")).exists() for j in jars):
        return None
    return jars


def _remember_jars(settings: Settings, packages: list[str], spark_jars: str) -> None:
    jars = [j for j in spark_jars.split(",") if j.strip()]
    if not jars:
        return
    manifest = _manifest_path(settings, packages)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text("\n".join(j.removeprefix("file://") for j in jars) + "\n")
    os.replace(tmp, manifest)


def spark_conf(settings: Settings, app_name: str) -> dict[str, str]:
    """Every Spark setting we apply, as a plain dict (also used for spark-submit in the DAGs)."""
    home = settings.home
    conf = {
        "spark.app.name": app_name,
        "spark.master": settings.spark_master,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": settings.spark_timezone,
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.default.parallelism": str(max(2, settings.spark_shuffle_partitions)),
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.warehouse.dir": str(home / "spark-warehouse"),
        "spark.driver.extraJavaOptions": (
            f"-Dderby.system.home={home / 'derby'} {class_archive.java_option(settings)}"
        ).strip(),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.databricks.delta.retentionDurationCheck.enabled": "true",
        "spark.databricks.delta.optimizeWrite.enabled": "true",
        "spark.databricks.delta.autoCompact.enabled": "false",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
    }
    if settings.spark_master.startswith("local"):
        conf.update(
            {
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.ui.enabled": "false",
                # Delta rebuilds a table's state (the log replay behind every read, write and
                # MERGE) in 50 partitions by default: on one machine that is 50 tiny tasks per
                # snapshot, most of a small job's time. The shuffle width suits local logs.
                "spark.databricks.delta.snapshotPartitions": str(
                    max(1, settings.spark_shuffle_partitions)
                ),
            }
        )
    if ships_code(settings.spark_master):
        # executors elsewhere import our UDFs and writers from the shipped zip
        conf["spark.submit.pyFiles"] = str(project_zip(settings.cache_dir))
    if settings.lake.startswith(("s3://", "s3a://")):
        conf.update(
            {
                "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
                "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
                "spark.hadoop.fs.s3a.path.style.access": "true",
                "spark.hadoop.fs.s3a.endpoint.region": settings.s3_region,
            }
        )
        if settings.s3_access_key_id and settings.s3_secret_access_key:
            conf["spark.hadoop.fs.s3a.access.key"] = settings.s3_access_key_id
            conf["spark.hadoop.fs.s3a.secret.key"] = (
                settings.s3_secret_access_key.get_secret_value()
            )
        if settings.s3_endpoint_url:
            conf["spark.hadoop.fs.s3a.endpoint"] = settings.s3_endpoint_url
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
                settings.s3_endpoint_url.startswith("https:")
            ).lower()
    conf.update(settings.spark_conf)
    return conf


def spark_log_path(settings: Settings) -> Path:
    return settings.home / "logs" / "spark.log"


def driver_log_conf(settings: Settings, conf: dict[str, str]) -> dict[str, str]:
    """``conf`` with the driver's Java options pointing log4j2 at our file-only configuration
    (a driver started by spark-submit, e.g. on a cluster, keeps its own logging)."""
    options = (
        f"-Dlog4j2.configurationFile={LOG4J_CONFIGS[settings.log_format].as_uri()} "
        f"-Dfyp.spark.log={spark_log_path(settings)}"
    )
    java = conf.get("spark.driver.extraJavaOptions", "")
    return {**conf, "spark.driver.extraJavaOptions": f"{java} {options}".strip()}


@contextlib.contextmanager
def jvm_stderr_to_log(settings: Settings) -> Iterator[None]:
    """While the driver JVM starts, this process's stderr (fd 2, which the JVM inherits) is the
    log file: what the JVM prints itself (native library warnings, startup notes) lands there
    too, not on the console. Python's own stderr is restored afterwards."""
    path = spark_log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(log, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(log)


def get_spark(app_name: str = "fyplake", settings: Settings | None = None) -> SparkSession:
    """The Spark session for this process (created once; later calls return the same one)."""
    settings = settings or get_settings()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    packages = _packages(settings)
    builder = SparkSession.builder
    for key, value in driver_log_conf(settings, spark_conf(settings, app_name)).items():
        builder = builder.config(key, value)

    jars = cached_jars(settings, packages)
    if jars is not None:
        builder = builder.config("spark.jars", ",".join(jars))
        with jvm_stderr_to_log(settings):
            return builder.getOrCreate()

    ivy = settings.cache_dir / "ivy"
    logger.info("resolving %s into %s (first run only)", packages, ivy)
    builder = builder.config("spark.jars.packages", ",".join(packages)).config(
        "spark.jars.ivy", str(ivy)
    )
    try:
        with jvm_stderr_to_log(settings):
            spark = builder.getOrCreate()
    except Exception as exc:
        raise DeltaJarsUnavailable(
            f"could not start Spark with Delta: resolving {', '.join(packages)} from Maven "
            f"into {ivy} failed ({type(exc).__name__}). Run once on a machine with access to "
            f"Maven Central (the jars are then cached for every clone), or copy the jars into "
            f"{settings.jars_dir} and list them in {_manifest_path(settings, packages)}."
        ) from exc
    _remember_jars(settings, packages, spark.sparkContext.getConf().get("spark.jars", ""))
    return spark


def stop_spark() -> None:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
