"""Embeddings: vectorised weighted sums, user vectors, content vectors for unseen videos."""

from __future__ import annotations

import math

import numpy as np
from pyspark.testing import assertDataFrameEqual

from jobs.recsys import embeddings
from jobs.recsys.common import weighted_vector_sum


def test_weighted_vector_sum_is_exact_across_arrow_batches(spark):
    df = spark.createDataFrame(
        [
            (1, [1.0, 0.0], 1.0),
            (1, [0.0, 1.0], 2.0),
            (1, [1.0, 1.0], -1.0),
            (2, [3.0, 4.0], 0.5),
            (3, [1.0, 2.0], 1.0),
            (3, [1.0, 2.0], 1.0),
        ],
        "k bigint, v array<float>, w double",
    )
    old = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "2")  # keys span batches
    try:
        got = weighted_vector_sum(df.repartition(1), key="k", vec="v", weight="w", dim=2)
        expected = spark.createDataFrame(
            [(1, [0.0, 1.0], 4.0, 3), (2, [1.5, 2.0], 0.5, 1), (3, [2.0, 4.0], 2.0, 2)],
            "k bigint, v array<float>, weight_sum double, rows bigint",
        )
        assertDataFrameEqual(got, expected)
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", old)


def test_user_vector_is_the_weighted_mean_with_skips_against(spark):
    events = spark.createDataFrame(
        [(1, 10, 1.0), (1, 11, 1.0), (1, 12, -1.0), (2, 10, 0.5)],
        "user_id bigint, video_id bigint, weight double",
    )
    video_emb = spark.createDataFrame(
        [(10, [1.0, 0.0]), (11, [0.0, 1.0]), (12, [0.6, 0.8])],
        "video_id bigint, embedding array<float>",
    )
    got = embeddings.user_embeddings(events, video_emb, dim=2)
    n = math.hypot(0.4, 0.2)  # [1,0] + [0,1] - [0.6,0.8]
    expected = spark.createDataFrame(
        [(1, [0.4 / n, 0.2 / n], 3), (2, [1.0, 0.0], 1)],
        "user_id bigint, embedding array<float>, engagements bigint",
    )
    assertDataFrameEqual(got, expected, rtol=1e-6)


def test_a_new_video_sits_with_the_videos_sharing_its_content(spark):
    videos = spark.createDataFrame(
        [
            (1, 100, None, "en", ["cats"], 5),
            (2, 100, None, "en", ["cats"], 5),
            (3, 200, None, "en", ["cars"], 6),
            (4, 201, None, "en", ["cars"], 6),
            (5, 100, None, "en", ["cats"], 5),  # new: no views, same creator/tag/sound as 1, 2
        ],
        "video_id bigint, creator_id bigint, title string, language string, "
        "hashtags array<string>, sound_id bigint",
    )
    pairs = spark.createDataFrame(
        [(u, v, 1.0, 1) for u in range(30) for v in (1, 2, 3, 4)],
        "user_id bigint, video_id bigint, rating double, impressions bigint",
    )
    factors = spark.createDataFrame(
        [(1, [1.0, 0.1]), (2, [0.9, 0.0]), (3, [0.0, 1.0]), (4, [0.1, 0.9])],
        "video_id bigint, cf array<float>",
    )
    got = embeddings.video_embeddings(
        videos,
        pairs,
        dim=8,
        als_rank=2,
        max_iter=1,
        reg=0.1,
        alpha=1.0,
        content_shrink=10.0,
        content_hash_weight=0.25,
        seed=1,
        item_factors=factors,
    ).collect()
    emb = {r["video_id"]: np.array(r["embedding"]) for r in got}
    cfw = {r["video_id"]: r["cf_weight"] for r in got}
    assert all(len(v) == 8 and abs(np.linalg.norm(v) - 1) < 1e-5 for v in emb.values())
    assert cfw[5] == 0.0 and abs(cfw[1] - 30 / 40) < 1e-9
    assert emb[5] @ emb[1] > 0.9 and emb[5] @ emb[2] > 0.9
    assert emb[5] @ emb[3] < 0.3 and emb[5] @ emb[4] < 0.3
