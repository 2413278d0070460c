"""Spark jobs, grouped by stage: ``lake`` (ingest, silver, gold, quality_gate, maintenance),
``nightly`` (the recommendation engine's jobs and evaluate), ``publish`` (Postgres, Valkey feeds,
counters). Each job module exposes ``run(spark, settings, ds) -> dict`` built on the one job
skeleton (``jobs.jobrun``: pinned reads, outputs, one ``gold.runs`` row) and keeps its pure
``DataFrame -> DataFrame`` transforms in functions that take parameters, never config (the
engine's are in ``jobs.recsys``). ``jobs.registry`` maps job names to modules. Run one with
``fyp job NAME --date D`` or ``spark-submit jobs/<stage>/<module>.py --ds D`` (the DAGs do that).
"""
