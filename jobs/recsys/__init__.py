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
* ``evaluation`` hold-out splits, metrics, baselines, bandit replay
* ``pipeline``   the stages chained (used by the jobs, ``fyp evaluate`` and ``run_nightly``)

Transforms never read configuration or paths: they take parameters (``params.RecParams`` is
built from the settings by the jobs).
"""
