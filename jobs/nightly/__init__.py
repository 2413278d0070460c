"""The nightly recommendation jobs, one per engine stage, in DAG order: ``features``,
``embeddings``, ``exploration``, ``candidates``, ``train_ranker``, ``rank``, and ``evaluate``
(offline evaluation against the baselines). Each reads silver and the gold of its ds pinned,
runs one stage of ``jobs.recsys`` (the engine's pure transforms) and writes its gold tables
(``jobs.recsys.jobrun.run_stage`` on the job skeleton, ``jobs.jobrun``).
"""
