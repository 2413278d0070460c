"""The engine's EASE item model: neighbours from EASE's weights, on the cosine scale, with a
fallback to cosine co-engagement above the size limit."""

from __future__ import annotations

import datetime as dt

import numpy as np

from jobs.recsys import ease
from jobs.recsys.params import RecParams


def _two_clusters(seed: int = 5):
    """Users 0-29 engage with items 0-4, users 30-59 with items 5-9 (each misses some)."""
    rng = np.random.default_rng(seed)
    user, item = [], []
    for u in range(60):
        block = range(0, 5) if u < 30 else range(5, 10)
        for i in block:
            if rng.random() < 0.7:
                user.append(u)
                item.append(i)
    user, item = np.array(user), np.array(item)
    return user, item, rng.random(len(user))


def test_neighbours_stay_in_the_cluster_skip_themselves_and_unready_items():
    user, item, key = _two_clusters()
    allowed = np.ones(10, bool)
    allowed[3] = False  # not ready: nobody's neighbour
    src, nb, w, info = ease.neighbour_weights(
        user, item, key, 10, allowed, k=4, fraction=0.2, seed=1
    )
    assert len(src) > 0
    assert not np.any(src == nb)
    assert not np.any(nb == 3)
    assert np.all((src < 5) == (nb < 5))  # positive weights only inside a cluster
    assert np.all(w > 0)
    assert info["model"] == "ease" and info["lambda"] > 0
    # per source, best weight first
    for s in np.unique(src):
        ws = w[src == s]
        assert np.all(np.diff(ws) <= 1e-12)


def test_weights_are_put_on_the_cosine_scale():
    """The mean best weight per item equals the mean best cosine of the same X'X (the ranking's
    co-engagement factor was built on cosine similarities)."""
    user, item, key = _two_clusters(7)
    allowed = np.ones(10, bool)
    src, nb, w, info = ease.neighbour_weights(
        user, item, key, 10, allowed, k=3, fraction=0.2, seed=1
    )
    x = np.zeros((60, 10))
    x[user, item] = 1.0
    gram = x.T @ x
    d = np.sqrt(np.diag(gram))
    cos = gram / d[:, None] / d[None, :]
    np.fill_diagonal(cos, 0.0)
    best_w = np.array([w[src == s].max() for s in range(10)])
    np.testing.assert_allclose(best_w.mean(), cos.max(axis=1).mean(), rtol=1e-9)
    assert info["scale"] > 0


def test_the_pipeline_falls_back_to_cosine_above_the_limit(spark):
    from jobs.recsys import cowatch, pipeline

    t0 = dt.datetime(2026, 11, 1)
    rows = [
        (u, v, t0 + dt.timedelta(minutes=u * 10 + v), 1)
        for u in range(8)
        for v in ((1, 2, 3) if u < 4 else (4, 5, 6))
    ]
    recent = spark.createDataFrame(rows, "user_id bigint, video_id bigint, t timestamp, pos int")
    ready = spark.createDataFrame([(v,) for v in range(1, 7)], "video_id bigint")
    p = RecParams(cowatch_neighbours=5)
    got_ease = pipeline.item_neighbours(recent, ready, p.replace(item_model="auto"))
    got_cos = pipeline.item_neighbours(recent, ready, p.replace(ease_max_items=3))
    expected_cos = cowatch.item_neighbours(recent, ready, 5)
    assert sorted(map(tuple, got_cos.collect())) == sorted(map(tuple, expected_cos.collect()))
    pairs = {(r["video_id"], r["neighbour_id"]) for r in got_ease.collect()}
    assert pairs and all((a <= 3) == (b <= 3) for a, b in pairs)  # within the clusters
