"""The recommendation engine (issue 4): pure ``DataFrame -> DataFrame`` transforms.

Modules, in pipeline order:

* ``features``   smoothed video quality, creator score, freshness, popularity, user affinities,
                 per-key top lists (hashtag, sound, creator, trending)
* ``coldstart``  demographic popular pools and the diverse exploration list (new users)
* ``embeddings`` ALS (implicit, engagement-weighted) + content vectors -> 128-d video vectors;
                 decayed weighted user vectors
* ``bandit``     new-video exploration pool: Beta posteriors on completion, Thompson draws,
                 predicted-audience assignment
* ``candidates`` per-source candidate generation with quotas, dedupe, watched/not-ready filters
* ``ranking``    the vectorised ranking kernel (similarity x quality x creator x freshness,
                 diversity, fatigue, cold-start blend, exploration slots)
* ``learned``    the learned ranker: training rows as of a past date, SparkXGBRanker, model files
* ``evaluation`` hold-out splits, per-user metrics with standard errors, candidate recall
* ``baselines``  most-popular, item-kNN, ALS alone, EASE on the same training split
* ``offline``    ``fyp evaluate``: the engine and the baselines on one split, bandit replay
* ``pipeline``   the stages chained (used by the jobs in ``jobs.nightly`` and ``fyp evaluate``)
* ``lakeio``     the jobs' silver reads and per-ds gold writes; ``jobrun``: ``run_stage``

Transforms never read configuration or paths: they take parameters (``params.RecParams`` is
built from the settings by the jobs).
"""
