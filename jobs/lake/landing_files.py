"""Landing files of an arrival window, and the log of the ones already consumed.

Files are listed through Hadoop's FileSystem (the same code for a local lake and ``s3a://``).
A file is identified by its path relative to the lake root (``landing/<entity>/date=D/hour=H/f``),
so the log survives moving the lake. A file is consumed again only when its size or mtime
changed (landing files are immutable by contract, so that means someone re-wrote it).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fyplake import catalog, delta_io
from fyplake.config import Settings
from fyplake.landing import ENTITIES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

_REL_RE = re.compile(r"(landing/([^/]+)/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/[^/]+)$")


@dataclass(frozen=True)
class LandingFile:
    uri: str  # what Spark reads
    rel_path: str  # landing/<entity>/date=D/hour=H/<name>: the file's identity in the lake
    entity: str
    size: int
    mtime_ms: int  # epoch milliseconds (kept as a number: no time-zone round trips)
    arrival_hour: dt.datetime  # naive UTC

    @property
    def fingerprint(self) -> tuple[int, int]:
        return (self.size, self.mtime_ms)

    @property
    def folder(self) -> str:
        return self.uri.rsplit("/", 1)[0]


def relative_landing_path(uri: str) -> str | None:
    m = _REL_RE.search(uri)
    return m.group(1) if m else None


def _hours(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    cur = start.replace(minute=0, second=0, microsecond=0)
    out = []
    while cur < end:
        out.append(cur)
        cur += dt.timedelta(hours=1)
    return out


def list_landing_files(
    spark: SparkSession,
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    entities: tuple[str, ...] = tuple(ENTITIES),
) -> list[LandingFile]:
    """Finished landing files (``*.jsonl``; temporary dot-files excluded) whose arrival hour
    folder lies in ``[start, end)``, ordered by entity, arrival hour and name."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop FS is the portable lister
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
    root = settings.lake_uri.rstrip("/") + "/landing"
    root_path = jvm.org.apache.hadoop.fs.Path(root)
    fs = root_path.getFileSystem(conf)
    wanted = {h.strftime("%Y-%m-%d %H") for h in _hours(start, end)}
    days = sorted({h[:10] for h in wanted})
    found: list[LandingFile] = []
    for entity in entities:
        for day in days:
            pattern = jvm.org.apache.hadoop.fs.Path(f"{root}/{entity}/date={day}/hour=*/*.jsonl")
            statuses = fs.globStatus(pattern) or []
            for st in statuses:
                if not st.isFile():
                    continue
                uri = st.getPath().toString()
                rel = relative_landing_path(uri)
                if rel is None or rel.rsplit("/", 1)[-1].startswith("."):
                    continue
                m = _REL_RE.search(uri)
                if f"{m.group(3)} {m.group(4)}" not in wanted:
                    continue
                found.append(
                    LandingFile(
                        uri=uri,
                        rel_path=rel,
                        entity=entity,
                        size=int(st.getLen()),
                        mtime_ms=int(st.getModificationTime()),
                        arrival_hour=dt.datetime.strptime(
                            f"{m.group(3)} {m.group(4)}", "%Y-%m-%d %H"
                        ),
                    )
                )
    found.sort(key=lambda f: (f.entity, f.rel_path))
    return found


#: Bytes of landing text per read partition (Spark's default ``spark.sql.files.maxPartitionBytes``).
READ_PARTITION_BYTES = 128 * 2**20


def read_landing_text(spark: SparkSession, files: list[LandingFile]) -> DataFrame:
    """The whole text of each given file (``file_path`` as Spark spells it, ``value``), without
    a cost per file beyond opening it.

    Spark is handed the files' hour folders, not the files: a list of N file paths makes it
    check and list each one (above 32 paths, in a listing job of N tasks), a folder is one
    listing call, on S3 too. The filter on the landing path is a file-metadata filter, so Spark
    drops the folders' other files while listing (consumed ones, and any written after
    ``list_landing_files`` ran, which the file log would miss). Spark also charges each file as
    4 MiB (``openCostInBytes``), so small files come 32 to a partition: 3,000 one-request API
    files made 94 partitions, and every stage of the ingest as many tasks; the read is coalesced
    to one partition per ``READ_PARTITION_BYTES`` of text, and never below the default parallelism.
    """
    from pyspark.sql import functions as F

    wanted = sorted({f.rel_path for f in files})
    path = F.col("_metadata.file_path")
    partitions = max(
        spark.sparkContext.defaultParallelism,
        math.ceil(sum(f.size for f in files) / READ_PARTITION_BYTES),
    )
    return (
        spark.read.text(sorted({f.folder for f in files}), wholetext=True)
        .where(F.regexp_extract(path, _REL_RE.pattern, 1).isin(wanted))
        .select(path.alias("file_path"), "value")
        .coalesce(partitions)
    )


def consumed_fingerprints(
    spark: SparkSession, settings: Settings, paths: list[str]
) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime in epoch ms) for the given paths already in ``_meta.ingested_files``."""
    from pyspark.sql import functions as F

    if not paths:
        return {}
    log = delta_io.read_table(spark, catalog.META_INGESTED_FILES, settings=settings)
    rows = (  # metadata: one small row per file
        log.where(F.col("path").isin(paths))
        .select("path", "size", F.unix_millis("mtime").alias("mtime_ms"))
        .collect()
    )
    return {r["path"]: (int(r["size"]), int(r["mtime_ms"])) for r in rows}


def unconsumed(files: list[LandingFile], consumed: dict[str, tuple[int, int]]) -> list[LandingFile]:
    """Files never consumed, or changed since (size or mtime differ from the log)."""
    return [f for f in files if consumed.get(f.rel_path) != f.fingerprint]
