"""The evaluation's textbook baselines (EASE, implicit ALS, the backfill) and the EASE numpy."""

from __future__ import annotations

import numpy as np
from pyspark.testing import assertDataFrameEqual

from jobs.recsys import baselines, ease

PAIRS = "user_id bigint, video_id bigint, t double, rating double"
RECS = "user_id bigint, video_id bigint, rank int"


def test_top_k_skips_excluded_pairs_and_pads():
    scores = np.array([[3.0, 1.0, 2.0, 5.0], [1.0, 1.0, 0.0, 0.0]])
    idx, sc = ease.top_k_masked(scores, np.array([0, 1, 1, 1]), np.array([3, 0, 1, 2]), 3)
    # row 0: column 3 excluded -> 0, 2, 1; row 1: only column 3 is left
    assert idx.tolist() == [[0, 2, 1], [3, -1, -1]]
    assert sc[0].tolist() == [3.0, 2.0, 1.0]


def test_ease_weights_equal_the_constrained_least_squares_solved_column_by_column():
    """EASE's closed form B = I - P / diag(P) is the solution of min ||X - XB||^2 + lam ||B||^2
    with diag(B) = 0: column j is the ridge regression of X_j on the other columns, solved here
    directly with numpy for each column."""
    rng = np.random.default_rng(3)
    x = (rng.random((40, 7)) < 0.35).astype(np.float64)
    lam = 2.5
    got = ease.ease_weights(x.T @ x, lam)
    expected = np.zeros((7, 7))
    for j in range(7):
        rest = [i for i in range(7) if i != j]
        a = x[:, rest]
        expected[rest, j] = np.linalg.solve(a.T @ a + lam * np.eye(6), a.T @ x[:, j])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_ease_recommends_within_the_users_cluster(spark):
    # users 1-4 engage with videos 1-3 (each misses one) and all with video 30, which is not
    # ready; users 5-8 with 4-6. User 9 has 1 and 2, user 10 has 4 and 5.
    a = [(1, 1), (1, 2), (2, 2), (2, 3), (3, 1), (3, 3), (4, 1), (4, 2), (4, 3)]
    a += [(u, 30) for u in range(1, 5)]
    b = [(5, 4), (5, 5), (6, 5), (6, 6), (7, 4), (7, 6), (8, 4), (8, 5), (8, 6)]
    c = [(9, 1), (9, 2), (10, 4), (10, 5)]
    rows = [(u, v, float(i), 1.0) for i, (u, v) in enumerate(a + b + c)]
    pairs = spark.createDataFrame(rows, PAIRS)
    watched = pairs.select("user_id", "video_id")
    users = spark.createDataFrame([(9,), (10,), (11,)], "user_id bigint")  # 11: no history
    ready = spark.createDataFrame([(v,) for v in (1, 2, 3, 4, 5, 6, 7)], "video_id bigint")
    got = baselines.ease(
        pairs, users, watched, ready, k=1, validation="random", fraction=0.2, seed=1, lam=1.0
    )
    assert got.info["lambda"] == 1.0 and got.info["items"] == 7  # 1-6 and 30 have positives
    # user 9: video 30 co-occurs most with 1 and 2 but is not ready, so 3; user 10: 6
    assertDataFrameEqual(
        got.recs.select("user_id", "video_id", "rank"),
        spark.createDataFrame([(9, 3, 1), (10, 6, 1)], RECS),
    )
    # user 11 has no training positive: nothing to score from (backfill tops it up)


def test_ease_chooses_lambda_by_validation_and_skips_big_catalogues(spark):
    rows = [(u, v, float(v), 1.0) for u in range(1, 13) for v in range(1 + u % 2, 9, 2)]
    pairs = spark.createDataFrame(rows, PAIRS)
    users = spark.createDataFrame([(1,), (2,)], "user_id bigint")
    ready = spark.createDataFrame([(v,) for v in range(1, 9)], "video_id bigint")
    watched = pairs.select("user_id", "video_id")
    got = baselines.ease(
        pairs, users, watched, ready, k=2, validation="time", fraction=0.25, seed=1
    )
    grid = got.info["validation_ndcg"]  # lambda (rounded) -> validation nDCG
    assert len(grid) >= len(ease.EASE_LAMBDA_GRID)
    assert abs(max(grid, key=grid.get) - got.info["lambda"]) < 1e-3
    assert got.recs.count() == 4  # two users, k = 2
    skipped = baselines.ease(
        pairs, users, watched, ready, k=2, validation="time", fraction=0.25, seed=1, max_items=5
    )
    assert skipped.recs is None and "8 videos > 5" in skipped.info["skipped"]


def test_als_recovers_a_planted_two_block_structure(spark):
    """Users 1-6 each engaged with 3 of videos 100-104, users 7-12 with 3 of 200-204: ALS alone
    must recommend each user the two videos of its own block it has not seen."""
    rows = []
    for u in range(1, 13):
        base = 100 if u <= 6 else 200
        skip = {(u % 6 + j) % 5 for j in (0, 1)}  # two unseen per user, varied
        rows += [(u, base + i, 0.0, 1.0) for i in range(5) if i not in skip]
    pairs = spark.createDataFrame(rows, PAIRS)
    watched = pairs.select("user_id", "video_id")
    users = pairs.select("user_id").distinct()
    videos = [*range(100, 105), *range(200, 205)]
    ready = spark.createDataFrame([(v,) for v in videos], "video_id bigint")
    got = baselines.als(
        pairs, users, watched, ready, k=2, rank=2, max_iter=15, reg=0.01, alpha=10.0, seed=7
    )
    expected = []
    for u in range(1, 13):
        base = 100 if u <= 6 else 200
        seen = {v for uu, v, _, _ in rows if uu == u}
        expected += [(u, v) for v in range(base, base + 5) if v not in seen]
    assertDataFrameEqual(
        got.recs.select("user_id", "video_id"),
        spark.createDataFrame(expected, "user_id bigint, video_id bigint"),
        checkRowOrder=False,
    )
    assert got.info["rank"] == 2


def test_backfill_tops_up_with_the_popular_list(spark):
    recs = spark.createDataFrame(
        [(1, 10, 1, 0.9)], "user_id bigint, video_id bigint, rank int, score double"
    )
    popular = spark.createDataFrame(
        [(1, 10, 1), (1, 11, 2), (1, 12, 3), (2, 10, 1), (2, 11, 2), (2, 12, 3)], RECS
    )
    got = baselines.backfill(recs, popular, k=2)
    assertDataFrameEqual(
        got.select("user_id", "video_id", "rank"),
        spark.createDataFrame([(1, 10, 1), (1, 11, 2), (2, 10, 1), (2, 11, 2)], RECS),
    )
