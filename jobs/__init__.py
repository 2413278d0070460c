"""Spark jobs. Each job module exposes ``run(spark, settings, ds) -> dict`` (I/O + wiring) and keeps
its pure ``DataFrame -> DataFrame`` transforms in functions that take parameters, never config.
Run one with ``fyp job NAME --date D`` or ``spark-submit jobs/NAME.py --ds D`` (the DAGs do that).
"""
