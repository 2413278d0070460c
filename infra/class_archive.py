"""A class-data sharing (AppCDS) archive of the Spark driver JVM, built once per machine.

Every Spark application starts a JVM that loads and verifies thousands of Spark classes before
it does any work; every Airflow task in ``submit`` mode is such an application. A dynamic CDS
archive of those classes (Java 13+) cuts that by about 4 s a start (``bench/jvm_start.py``
prints the ratio; figures in the README). ``python -m infra.class_archive`` (run by ``make
bootstrap``) starts one throw-away session that writes, merges and reads a small Delta table,
and the JVM dumps what it loaded when it exits; ``spark_conf`` then passes the archive to
every driver.

Safe by construction: the archive sits in the user-level cache under a name keyed on the
PySpark version and the Java executable, is renamed into place only once complete, and a JVM
that cannot use it (another Java, another class path, a driver on another machine where the
path does not exist) says so on stderr and starts as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from fyplake.config import Settings, get_settings


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home, "bin", "java")) if home else (shutil.which("java") or "java")
    return os.path.realpath(java)


def archive_path(settings: Settings) -> Path:
    """Where this PySpark + Java pair's archive lives (whether or not it exists yet)."""
    import pyspark

    key = hashlib.sha256(f"{pyspark.__version__}|{_java()}".encode()).hexdigest()[:12]
    return settings.cache_dir / "cds" / f"spark-{pyspark.__version__}-{key}.jsa"


#: CDS reports on stdout (``-Xlog``'s default), where a JVM that cannot use the archive would
#: print into a ``--json`` output: its notes are off, errors still go to stderr.
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def java_option(settings: Settings) -> str:
    """The driver JVM options that use the archive, or "" when it has not been built."""
    path = archive_path(settings)
    return f"-XX:SharedArchiveFile={path} {QUIET}" if path.is_file() else ""


def build(settings: Settings) -> Path | None:
    """Build the archive unless it exists: a throw-away session in a scratch home, its JVM
    dumping the classes it loaded at exit into a temporary file renamed into place. Returns
    the archive, or None when it could not be built (the drivers then start without it)."""
    final = archive_path(settings)
    if final.is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f"{final.name}.{os.getpid()}.partial")
    with tempfile.TemporaryDirectory(prefix="fyp-cds-") as home:
        env = {
            **os.environ,
            "FYP_HOME": home,
            "FYP_CACHE_DIR": str(settings.cache_dir),
            "FYP_SPARK_MASTER": "local[2]",
            "FYP_LAKE": str(Path(home, "lake")),
            "FYP_CDS_DUMP": str(partial),
        }
        done = subprocess.run(
            [sys.executable, "-m", "infra.class_archive", "--workload"],
            env=env,
            cwd=Path(__file__).resolve().parents[1],
            check=False,
            capture_output=True,
            text=True,
        )
    if done.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
        return None
    os.replace(partial, final)
    return final


def _workload() -> None:
    """The session whose JVM writes the archive: a Delta write, MERGE and read, so the classes
    of a typical job are in it; then the JVM is asked to exit and waited for (it dumps then)."""
    from infra.spark import get_spark

    dump = f"-XX:ArchiveClassesAtExit={os.environ['FYP_CDS_DUMP']} {QUIET}"
    os.environ["FYP_SPARK_CONF"] = json.dumps({"spark.driver.extraJavaOptions": dump})
    settings = get_settings()
    spark = get_spark("fyp-class-archive", settings)
    from delta.tables import DeltaTable

    path = str(settings.lake_path("cds_warmup"))
    spark.range(1000).selectExpr("id", "id % 7 AS k").write.format("delta").save(path)
    updates = spark.range(500, 1500).selectExpr("id", "id % 5 AS k")
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(updates.alias("u"), "t.id = u.id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    spark.read.format("delta").load(path).groupBy("k").count().collect()
    proc = getattr(spark.sparkContext._gateway, "proc", None)
    spark.stop()
    if proc is not None:  # the gateway JVM exits when its stdin closes, and dumps on exit
        proc.stdin.close()
        proc.wait(timeout=300)


if __name__ == "__main__":
    if "--workload" in sys.argv:
        _workload()
    else:
        built = build(get_settings())
        print(f"class-data sharing archive: {built or 'not built (drivers start without it)'}")
