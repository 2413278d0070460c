"""The medallion lake: landing -> bronze -> silver -> gold, with quarantine and bookkeeping.

* ``landing_files``: which landing files an interval holds and which of them were consumed.
* ``parsing``: landing lines -> typed records with a quarantine reason (pure transforms).
* ``transforms``: silver and gold (pure transforms).
* ``dates``: which event dates an interval's ingest touched (what silver/gold rebuild).
* ``pipeline``: ingest -> gate -> silver -> gate -> gold -> gate for one data interval.
"""
