"""Cold-start lists: demographic popularity smoothed segment -> language -> global; the
round-robin diverse exploration list."""

from __future__ import annotations

from pyspark.testing import assertDataFrameEqual

from jobs.recsys import coldstart


def test_demographic_pools_shrink_segment_to_language_to_global(spark):
    users = spark.createDataFrame(
        [
            (1, "18-24", "US", "en"),
            (2, "18-24", "US", "en"),
            (3, "25-34", "BR", "pt"),
            (4, "35-44", "US", "en"),
        ],
        "user_id bigint, age_band string, country string, language string",
    )
    events = spark.createDataFrame(
        [(1, 10, 2.0), (2, 10, 1.0), (2, 11, 1.0), (3, 12, 4.0), (1, 13, -1.0)],
        "user_id bigint, video_id bigint, weight double",
    )
    ready = spark.createDataFrame([(10,), (11,), (12,)], "video_id bigint")
    got = coldstart.demographic_pools(events, users, ready, n=3, prior=2.0)
    # global p: 10 -> 3/8, 11 -> 1/8, 12 -> 4/8
    # en: (x + 2 p_g) / (4 + 2): 10 -> 3.75/6, 11 -> 1.25/6, 12 -> 1/6
    # pt: 10 -> 0.75/6, 11 -> 0.25/6, 12 -> 5/6
    expected = spark.createDataFrame(
        [
            ("18-24", "US", "en", 1, 10, (3 + 2 * 3.75 / 6) / 6),
            ("18-24", "US", "en", 2, 11, (1 + 2 * 1.25 / 6) / 6),
            ("18-24", "US", "en", 3, 12, (2 / 6) / 6),
            ("35-44", "US", "en", 1, 10, 3.75 / 6),  # no engagement of its own: its language's
            ("35-44", "US", "en", 2, 11, 1.25 / 6),
            ("35-44", "US", "en", 3, 12, 1 / 6),
            ("25-34", "BR", "pt", 1, 12, (4 + 2 * 5 / 6) / 6),
            ("25-34", "BR", "pt", 2, 10, (2 * 0.75 / 6) / 6),
            ("25-34", "BR", "pt", 3, 11, (2 * 0.25 / 6) / 6),
        ],
        "age_band string, country string, language string, rank int, video_id bigint, score double",
    )
    assertDataFrameEqual(got, expected)


def test_diverse_pool_round_robins_over_hashtags(spark):
    feats = spark.createDataFrame(
        [
            (1, "ready", 5.0),
            (2, "ready", 4.0),
            (3, "ready", 3.0),
            (4, "ready", 1.0),
            (5, "failed", 9.0),
        ],
        "video_id bigint, status string, base_score double",
    )
    videos = spark.createDataFrame(
        [(1, ["a", "b"]), (2, ["a"]), (3, ["b"]), (4, ["c"]), (5, ["a"])],
        "video_id bigint, hashtags array<string>",
    )
    got = coldstart.diverse_pool(feats, videos, n=10)
    # round 1: best of a (1), of b (1 again: skipped), of c (4); round 2: a -> 2, b -> 3
    expected = spark.createDataFrame(
        [(1, 1, 5.0), (2, 4, 1.0), (3, 2, 4.0), (4, 3, 3.0)],
        "rank int, video_id bigint, score double",
    )
    assertDataFrameEqual(got, expected)


def _world(spark, *, informative: bool, n_users: int, n_segments: int, seed: int):
    """Users in ``n_segments`` age bands of one language; each engages with 12 videos: drawn
    from its segment's own 10 (informative) or from one global skewed popularity (noise)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    users, events = [], []
    pop = 1.0 / np.arange(1, 201) ** 1.1
    pop /= pop.sum()
    for u in range(n_users):
        seg = u % n_segments
        users.append((u, f"band{seg}", "US", "en"))
        if informative:
            vids = rng.choice(np.arange(seg * 10, seg * 10 + 10), 8, replace=False)
        else:
            vids = rng.choice(200, 12, replace=False, p=pop)
        for j, v in enumerate(vids):
            events.append((u, int(v), 1.0, 1_700_000_000 + 3600 * j, 1.0, False, False))
    users_df = spark.createDataFrame(
        users, "user_id bigint, age_band string, country string, language string"
    )
    events_df = spark.createDataFrame(
        events,
        "user_id bigint, video_id bigint, weight double, t long, completion double, "
        "skipped boolean, liked boolean",
    ).selectExpr("*", "cast(t as timestamp) as event_time", "false as shared", "false as commented")
    ready = spark.range(0, 200).withColumnRenamed("id", "video_id")
    return events_df, users_df, ready


def test_the_cold_start_prior_follows_what_demographics_say(spark):
    kw = dict(kind="random", seed=7, max_users=1000, min_completion=0.5)
    # demographics decide taste: the segment's own list wins (little shrinkage)
    events, users, ready = _world(spark, informative=True, n_users=240, n_segments=4, seed=1)
    told = coldstart.choose_prior(events, users, ready, **kw)
    assert told["cold_prior_source"] == "validated"
    assert told["cold_prior"] <= 50
    assert told["cold_prior_ndcg"]["1e+09"] < told["cold_prior_ndcg"]["0"]
    # demographics are noise and segments tiny: the global most popular wins
    events, users, ready = _world(spark, informative=False, n_users=240, n_segments=60, seed=2)
    noise = coldstart.choose_prior(events, users, ready, **kw)
    assert noise["cold_prior_source"] == "validated"
    assert noise["cold_prior"] >= 500
    assert noise["cold_prior_ndcg"]["1e+09"] > noise["cold_prior_ndcg"]["0"]


def test_the_same_inputs_give_the_same_prior(spark):
    """A retried or re-run features job validates again: the same inputs, the same choice."""
    kw = dict(kind="random", seed=7, max_users=1000, min_completion=0.5)
    events, users, ready = _world(spark, informative=True, n_users=240, n_segments=4, seed=1)
    first = coldstart.choose_prior(events, users, ready, **kw)
    assert first["cold_prior_source"] == "validated"
    assert coldstart.choose_prior(events, users, ready, **kw) == first


def test_too_few_validation_users_keep_the_fallback_prior(spark):
    events, users, ready = _world(spark, informative=True, n_users=12, n_segments=2, seed=3)
    got = coldstart.choose_prior(
        events, users, ready, kind="time", seed=7, max_users=1000, min_completion=0.5
    )
    assert got["cold_prior_source"] == "prior"
    assert got["cold_prior"] == coldstart.PRIOR_FALLBACK


def test_the_validation_scores_pools_as_the_evaluation_metric_does(spark):
    """The prior's validation ranks and scores on the driver; the same pools, labels and seen
    videos through the offline evaluation's own metric (``evaluation.per_user_metrics`` on
    Spark) give the same mean nDCG@10 per prior."""
    from pyspark.sql import functions as F

    from jobs.recsys import evaluation
    from jobs.recsys.common import held_out_flags, top_per_key

    events, users, ready = _world(spark, informative=True, n_users=120, n_segments=3, seed=4)
    # one user of a segment no pool covers: scores 0 either way
    users = users.unionByName(spark.createDataFrame([(999, "nobody", "FR", "fr")], users.schema))
    events = events.unionByName(
        events.where("user_id = 0").withColumn("user_id", F.lit(999).cast("bigint"))
    )
    tagged = held_out_flags(events, "random", 3, coldstart.PRIOR_FRACTION).cache()
    labels, seen = coldstart._labels_and_seen(tagged, ready, 0.5)
    pools = coldstart._pools(events, users.where("user_id != 999"), ready, 20, [0.0, 50.0, 1e9])
    got = coldstart._pool_ndcg(pools, users, labels, seen)

    label_df = spark.createDataFrame(
        [(u, v) for u, vs in labels.items() for v in vs], "user_id bigint, video_id bigint"
    )
    seen_df = spark.createDataFrame(
        [(u, v) for u, vs in seen.items() for v in vs], "user_id bigint, video_id bigint"
    )
    val_users = users.join(label_df.select("user_id").distinct(), "user_id").select(
        "user_id", *coldstart._segment_cols()
    )
    recs = top_per_key(
        val_users.join(pools.drop("rank"), coldstart.SEGMENT).join(
            seen_df, ["user_id", "video_id"], "left_anti"
        ),
        ["prior", "user_id"],
        "score",
        coldstart.NDCG_K,
    )
    per_user = evaluation.per_user_metrics(
        recs.withColumnRenamed("prior", "model"), label_df, coldstart.NDCG_K
    )
    want = {
        float(r["model"]): float(r["ndcg"])
        for r in per_user.groupBy("model").agg(F.mean("ndcg").alias("ndcg")).collect()
    }
    assert 999 in labels  # the user no pool covers is scored (0)
    assert set(got) == set(want) == {0.0, 50.0, 1e9}
    for prior, value in want.items():
        assert abs(got[prior] - value) < 1e-12, prior
    assert len({round(v, 6) for v in got.values()}) > 1  # the priors differ: a real comparison
