"""The medallion lake: landing -> bronze -> silver -> gold, with quarantine and bookkeeping.

Jobs (``run(spark, settings, ds)``, see ``jobs.registry``):

* ``ingest``: landing files -> silver dimensions, ``bronze.events``, ``quarantine.events``.
* ``silver``: bronze -> ``silver.watch_history``, ``silver.follows``, ``silver.hashtags``.
* ``gold``: silver -> per-video and per-creator daily stats.
* ``quality_gate``: one layer's Great Expectations suites (the gate code is ``jobs.quality``).
* ``maintenance``: OPTIMIZE and VACUUM of every table.

Helpers:

* ``landing_files``: which landing files an interval holds and which of them were consumed.
* ``parsing``: landing lines -> typed records with a quarantine reason (pure transforms).
* ``transforms``: silver and gold (pure transforms).
* ``dates``: which event dates an interval's ingest touched (what silver/gold rebuild).

``orchestration.tasks.LAKE_TASKS`` chains them (ingest -> gate -> silver -> gate -> gold ->
gate); ``orchestration.inprocess.run_tasks`` runs that list in process.
"""
