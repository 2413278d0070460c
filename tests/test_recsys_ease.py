"""The engine's EASE item model: neighbours from EASE's weights, on the cosine scale, with a
fallback to cosine co-engagement above the size limit."""

from __future__ import annotations

import datetime as dt
from collections import Counter

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
    # EASE keeps its own neighbour count (rec_ease_neighbours), cosine rec_cowatch_neighbours
    one = pipeline.item_neighbours(recent, ready, p.replace(item_model="ease", ease_neighbours=1))
    per_video = Counter(r["video_id"] for r in one.collect())
    assert per_video and set(per_video.values()) == {1}
    assert max(Counter(a for a, _ in pairs).values()) == 2  # both others of its cluster


def test_validation_key_holds_out_the_latest_or_a_seeded_draw():
    t = np.array([5.0, 1.0, 3.0])
    np.testing.assert_array_equal(ease.validation_key(t, "time", 1), t)
    a, b = ease.validation_key(t, "random", 1), ease.validation_key(t, "random", 1)
    np.testing.assert_array_equal(a, b)  # one seeded draw, the EASE baseline's
    assert not np.array_equal(a, ease.validation_key(t, "random", 2))
    try:
        ease.validation_key(t, "latest", 1)
    except ValueError as e:
        assert "time" in str(e)
    else:
        raise AssertionError("an unknown validation kind must be refused")


def test_the_item_model_lambda_is_validated_on_the_runs_target(spark):
    """The nightly (blend_holdout time) validates EASE's lambda on each user's latest positives;
    ``fyp evaluate --holdout random`` on a random slice, as its EASE baseline does."""
    from jobs.recsys import pipeline

    user, item, _ = _two_clusters(11)
    t0 = dt.datetime(2026, 11, 1)
    rows = [
        (int(u), int(v) + 1, t0 + dt.timedelta(minutes=int(j)), 1)
        for j, (u, v) in enumerate(zip(user, item, strict=True))
    ]
    recent = spark.createDataFrame(rows, "user_id bigint, video_id bigint, t timestamp, pos int")
    ready = spark.createDataFrame([(v,) for v in range(1, 11)], "video_id bigint")
    t = np.array([r[2].timestamp() for r in rows])
    got = {}
    for kind in ("time", "random"):
        p = RecParams(ease_neighbours=4, item_model="ease", blend_holdout=kind)
        pipeline.item_neighbours(recent, ready, p)
        want, _ = ease.choose_lambda(
            user,
            item,
            ease.validation_key(t, kind, p.seed),
            10,
            np.ones(10, bool),
            k=10,
            fraction=0.2,
            seed=p.seed,
        )
        got[kind] = ease.chosen_lambda(recent)
        assert got[kind] == want
    assert got["time"] != got["random"]  # on this log the two targets want different lambdas
