"""The Spark session every job builds (infra/spark.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field

#: Delta Lake's Spark artifact; must match the ``delta-spark`` Python package pinned in setup.cfg.
DELTA_MAVEN_COORDINATES = "io.delta:delta-spark_4.2_2.13:4.4.0"


class SparkSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    spark_master: str = Field(default="local[*]", description="Spark master URL.")
    spark_driver_memory: str = Field(default="4g", description="Spark driver memory.")
    spark_shuffle_partitions: int = Field(
        default=8, description="spark.sql.shuffle.partitions (small suits one machine)."
    )
    spark_timezone: str = Field(default="UTC", description="spark.sql.session.timeZone.")
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark settings, passed through verbatim."
    )
    delta_packages: str = Field(
        default=DELTA_MAVEN_COORDINATES, description="Maven coordinates of Delta's Spark jars."
    )
