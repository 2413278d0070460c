"""Ranking kernel through its Spark transform: the product score, creator diversity, fatigue,
co-engagement, the 70/30 cold-start mix, the blend towards personalised, exploration slots."""

from __future__ import annotations

import datetime as dt

from pyspark.testing import assertDataFrameEqual

from jobs.recsys import catalogue, ranking
from jobs.recsys.common import as_of_epoch
from jobs.recsys.params import RecParams

DS = dt.date(2026, 11, 10)
FEATS = (
    "video_id bigint, creator_id bigint, status string, quality double, creator_score double, "
    "freshness double, popularity double"
)
FEED = "user_id bigint, rank int, video_id bigint, raw_score double, source string"


def _raw(feeds):
    """The ranker's own scores (``raw_score``; ``score`` is the position's display score)."""
    return feeds.select("user_id", "rank", "video_id", "raw_score", "source")


def _cfg(**kw) -> ranking.RankConfig:
    p = RecParams(
        w_similarity=1.0,
        w_quality=1.0,
        w_creator=0.0,
        w_freshness=0.0,
        w_popularity=0.0,
        fatigue_decay=kw.pop("fatigue_decay", 0.5),
    )
    base = dict(
        top_n=10,
        weights=ranking.design_weights(p),
        diversity_decay=0.9,
        diversity_window=3,
        max_per_creator=1,
        cold_start_min=10,
        cold_start_full=20,
        cold_popular_share=0.7,
        explore_slots=2,
        explore_every=5,
        cowatch_scale=p.cowatch_scale,
        cowatch_norm=p.cowatch_norm,
        seed=7,
    )
    base.update(kw)
    return ranking.RankConfig(**base)


def _rank(
    spark,
    cfg,
    *,
    feats,
    users,
    cands,
    events=(),
    pools=(),
    diverse=(),
    user_emb=(),
    history=(),
    neighbours=(),
):
    feats_df = spark.createDataFrame(feats, FEATS)
    emb = spark.createDataFrame(
        [(v, [1.0, 0.0]) for v, *_ in feats], "video_id bigint, embedding array<float>"
    )
    pools_df = spark.createDataFrame(
        list(pools),
        "age_band string, country string, language string, rank int, video_id bigint, score double",
    )
    diverse_df = spark.createDataFrame(list(diverse), "rank int, video_id bigint, score double")
    nb_df = spark.createDataFrame(
        list(neighbours), "video_id bigint, neighbour_id bigint, rank int, sim double"
    )
    cat = catalogue.build_catalog(feats_df, emb, pools_df, diverse_df, dim=2, neighbours=nb_df)
    users_df = spark.createDataFrame(
        users, "user_id bigint, age_band string, country string, language string"
    )
    cands_df = spark.createDataFrame(
        list(cands), "user_id bigint, video_id bigint, source string, score double"
    )
    events_df = spark.createDataFrame(
        list(events), "user_id bigint, video_id bigint, creator_id bigint, event_time timestamp"
    )
    uemb = spark.createDataFrame(
        list(user_emb) or [(u[0], [1.0, 0.0]) for u in users],
        "user_id bigint, embedding array<float>",
    )
    hist_df = spark.createDataFrame(list(history), "user_id bigint, history array<bigint>")
    rows = ranking.user_rows(
        users_df,
        cands_df,
        events_df,
        uemb,
        hist_df,
        fatigue_since_epoch=as_of_epoch(DS) - 2 * 86400.0,
        cold_start_full=cfg.cold_start_full,
    )
    return ranking.rank_feeds(rows, cat, cfg, dim=2)


def test_creator_diversity_keeps_one_creator_from_filling_the_top(spark):
    feats = [
        (1, 100, "ready", 1.0, 1.0, 1.0, 0.0),  # A1
        (2, 100, "ready", 0.9, 1.0, 1.0, 0.0),  # A2
        (3, 100, "ready", 0.8, 1.0, 1.0, 0.0),  # A3
        (4, 200, "ready", 0.7, 1.0, 1.0, 0.0),  # B1
        (5, 200, "ready", 0.35, 1.0, 1.0, 0.0),  # B2
        (6, 300, "ready", 0.5, 1.0, 1.0, 0.0),  # C1
    ]
    cands = [(1, v, "embedding", 0.0) for v in range(1, 7)]
    cfg = _cfg(cold_start_min=0, cold_start_full=0)
    got = _rank(spark, cfg, feats=feats, users=[(1, "18-24", "US", "en")], cands=cands)
    # score = quality (cos = 1); the j-th video of a creator x 0.9^j; the top 3 hold at most
    # one video per creator, so A2 (0.81) waits below B1 (0.7) and C1 (0.5)
    expected = spark.createDataFrame(
        [
            (1, 1, 1, 1.0, "embedding"),
            (1, 2, 4, 0.7, "embedding"),
            (1, 3, 6, 0.5, "embedding"),
            (1, 4, 2, 0.81, "embedding"),
            (1, 5, 3, 0.648, "embedding"),
            (1, 6, 5, 0.315, "embedding"),
        ],
        FEED,
    )
    assertDataFrameEqual(_raw(got), expected)


def test_similarity_and_fatigue_enter_the_score(spark):
    feats = [
        (1, 100, "ready", 0.8, 1.0, 1.0, 0.0),
        (2, 200, "ready", 0.6, 1.0, 1.0, 0.0),
        (3, 300, "ready", 0.9, 1.0, 1.0, 0.0),
        (9, 100, "ready", 0.5, 1.0, 1.0, 0.0),
    ]
    cands = [(1, 1, "followed", 0.0), (1, 2, "hashtag", 0.0), (1, 3, "trending", 0.0)]
    recent = dt.datetime(2026, 11, 10, 12, 0)
    events = [(1, 9, 100, recent), (1, 9, 100, recent)]  # two recent impressions of creator 100
    cfg = _cfg(cold_start_min=0, cold_start_full=0, fatigue_decay=0.5)
    # the user's vector is at 60 degrees from every video except... all videos share [1, 0]:
    # cosine 0.5 for all, so: 1 -> 0.5*0.8*0.5^2 = 0.1, 2 -> 0.3, 3 -> 0.45
    got = _rank(
        spark,
        cfg,
        feats=feats,
        users=[(1, None, None, None)],
        cands=cands,
        events=events,
        user_emb=[(1, [0.5, 0.8660254])],
    )
    expected = spark.createDataFrame(
        [(1, 1, 3, 0.45, "trending"), (1, 2, 2, 0.3, "hashtag"), (1, 3, 1, 0.1, "followed")],
        FEED,
    )
    assertDataFrameEqual(_raw(got), expected, rtol=1e-5)


def test_coengagement_lifts_what_was_engaged_with_alongside_the_users_history(spark):
    feats = [
        (1, 100, "ready", 0.9, 1.0, 1.0, 0.0),
        (2, 200, "ready", 0.5, 1.0, 1.0, 0.0),
        (3, 300, "ready", 0.3, 1.0, 1.0, 0.0),
    ]
    cands = [(1, v, "hashtag", 0.0) for v in (1, 2, 3)]
    # the user engaged with 7 and 8 (not ready any more): 2 was co-engaged with both, 3 with 8
    neighbours = [(7, 2, 1, 0.2), (8, 2, 1, 0.1), (8, 3, 2, 0.05)]
    kw = dict(
        feats=feats,
        users=[(1, "18-24", "US", "en")],
        cands=cands,
        history=[(1, [8, 7])],
        neighbours=neighbours,
    )
    p = RecParams(
        w_creator=0.0, w_freshness=0.0, w_popularity=0.0, w_cowatch=2.0, fatigue_decay=0.5
    )
    flat = dict(cold_start_min=0, cold_start_full=0, max_per_creator=3, cowatch_scale=10.0)
    cases = [
        # 2 -> 0.5 * (1 + 10 * (0.2 + 0.1))^2 = 8, 3 -> 0.3 * (1 + 10 * 0.05)^2 = 0.675
        (
            _cfg(weights=ranking.design_weights(p), cowatch_norm=0.0, **flat),
            [(2, 8.0), (1, 0.9), (3, 0.675)],
        ),
        # damped by the history length (2 videos, norm 1): 2 -> 0.5 * 2.5^2, 3 -> 0.3 * 1.25^2
        (
            _cfg(weights=ranking.design_weights(p), cowatch_norm=1.0, **flat),
            [(2, 3.125), (1, 0.9), (3, 0.46875)],
        ),
        # the design's formula ignores co-engagement: quality order
        (_cfg(weights=ranking.design_weights(p, "design"), **flat), [(1, 0.9), (2, 0.5), (3, 0.3)]),
    ]
    for cfg, feed in cases:
        assertDataFrameEqual(
            _raw(_rank(spark, cfg, **kw)),
            spark.createDataFrame(
                [(1, r, v, sc, "hashtag") for r, (v, sc) in enumerate(feed, 1)], FEED
            ),
            rtol=1e-6,
        )


def _cold_catalog():
    feats = [(v, 1000 + v, "ready", 1.0, 1.0, 1.0, 0.0) for v in range(1, 41)]
    pools = [("18-24", "US", "en", r, r, 1.0 / r) for r in range(1, 21)]  # popular: videos 1-20
    diverse = [(r, 20 + r, 0.5) for r in range(1, 11)]  # exploration: videos 21-30
    personal = [(v, "embedding", 0.0) for v in range(31, 41)]  # personalised: videos 31-40
    return feats, pools, diverse, personal


def test_new_user_gets_70_percent_demographic_popular_30_percent_diverse(spark):
    feats, pools, diverse, personal = _cold_catalog()
    cands = [(1, v, s, sc) for v, s, sc in personal]
    watched = [(1, 2, 1002, dt.datetime(2026, 11, 1, 9, 0))]  # one impression: still cold
    got = (
        _rank(
            spark,
            _cfg(explore_slots=0),
            feats=feats,
            users=[(1, "18-24", "US", "en")],
            cands=cands,
            events=watched,
            pools=pools,
            diverse=diverse,
        )
        .orderBy("rank")
        .collect()
    )
    sources = [r["source"] for r in got]
    p, d = "coldstart_popular", "coldstart_diverse"
    assert sources == [p, d, p, p, p, d, p, p, d, p]
    popular = [r["video_id"] for r in got if r["source"] == p]
    assert popular == [1, 3, 4, 5, 6, 7, 8]  # in pool order, the watched video 2 skipped
    assert {r["video_id"] for r in got if r["source"] == d} <= set(range(21, 31))
    # once the user engaged with video 2, what others engaged with alongside it comes first
    steered = _rank(
        spark,
        _cfg(explore_slots=0),
        feats=feats,
        users=[(1, "18-24", "US", "en")],
        cands=cands,
        events=watched,
        pools=pools,
        diverse=diverse,
        history=[(1, [2])],
        neighbours=[(2, 6, 1, 0.3), (2, 8, 2, 0.1)],
    )
    popular = [r["video_id"] for r in steered.orderBy("rank").collect() if r["source"] == p]
    assert popular == [6, 8, 1, 3, 4, 5, 7]


def test_between_10_and_20_engagements_the_feed_blends_towards_personalised(spark):
    feats, pools, diverse, personal = _cold_catalog()
    cands = [(1, v, s, sc) for v, s, sc in personal]
    t = dt.datetime(2026, 11, 1, 9, 0)
    events = [(1, 40 + i, 5000, t) for i in range(15)]  # 15 impressions: halfway
    got = (
        _rank(
            spark,
            _cfg(explore_slots=0),
            feats=feats,
            users=[(1, "18-24", "US", "en")],
            cands=cands,
            events=events,
            pools=pools,
            diverse=diverse,
        )
        .orderBy("rank")
        .collect()
    )
    sources = [r["source"] for r in got]
    e, p, d = "embedding", "coldstart_popular", "coldstart_diverse"
    # shares 0.5 personalised, 0.35 popular, 0.15 diverse, largest deficit first
    assert sources == [e, p, e, d, p, e, e, p, e, p]
    many = _rank(
        spark,
        _cfg(explore_slots=0),
        feats=feats,
        users=[(2, "18-24", "US", "en")],
        cands=[(2, v, s, sc) for v, s, sc in personal],
        events=[(2, 40 + i, 5000, t) for i in range(20)],
        pools=pools,
        diverse=diverse,
    )
    assert {r["source"] for r in many.collect()} == {e}  # 20 impressions: fully personalised


def test_exploration_videos_take_their_slots(spark):
    feats = [(v, 1000 + v, "ready", 1.0 - v / 100, 1.0, 1.0, 0.0) for v in range(1, 13)]
    cands = [(1, v, "hashtag", 0.0) for v in range(1, 12)] + [(1, 12, "exploration", 0.9)]
    got = _rank(
        spark,
        _cfg(cold_start_min=0, cold_start_full=0, top_n=8, explore_every=5),
        feats=feats,
        users=[(1, "18-24", "US", "en")],
        cands=cands,
    )
    rows = got.orderBy("rank").collect()
    assert [r["video_id"] for r in rows] == [1, 2, 3, 4, 12, 5, 6, 7]
    assert rows[4]["source"] == "exploration"


def test_an_assigned_video_the_ranker_puts_above_its_slot_keeps_that_place(spark):
    """A new video assigned for exploration that the personalised ranking itself puts first
    is not pushed down to the exploration slot (5th): it stays first, once; the slot then
    holds nothing extra."""
    feats = [(v, 1000 + v, "ready", 0.5 - v / 100, 1.0, 1.0, 0.0) for v in range(1, 12)]
    feats.append((12, 1012, "ready", 0.99, 1.0, 1.0, 0.0))  # the best quality of all
    cands = [(1, v, "hashtag", 0.0) for v in range(1, 12)] + [(1, 12, "exploration", 0.9)]
    got = _rank(
        spark,
        _cfg(cold_start_min=0, cold_start_full=0, top_n=8, explore_every=5),
        feats=feats,
        users=[(1, "18-24", "US", "en")],
        cands=cands,
    )
    assert [r["video_id"] for r in got.orderBy("rank").collect()] == [12, 1, 2, 3, 4, 5, 6, 7]


def test_the_formula_is_the_feature_matrix_dotted_with_its_weights():
    """``log_scores`` is ``feature_matrix`` x weights, and each column is the factor it names
    (the learned ranker trains and scores on the same matrix)."""
    import numpy as np

    rng = np.random.default_rng(3)
    emb = rng.standard_normal((6, 4)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    cat = catalogue.Catalog(
        ids=np.arange(10, 16),
        emb=emb,
        log_quality=rng.normal(size=6),
        log_creator=rng.normal(size=6),
        log_freshness=rng.normal(size=6),
        log1p_pop=rng.uniform(0, 2, 6),
        creator=np.array([1, 1, 2, 3, 3, 4]),
    )
    users = emb[[0, 3]] * 0.5 + emb[[1, 4]] * 0.5
    idx, seg = np.array([1, 2, 5, 0, 3]), np.array([0, 0, 0, 1, 1])
    src, fatigue, cw = (
        np.array([0, 3, 6, 1, 4]),
        np.array([0.0, 2, 1, 0, 3]),
        np.array([0.0, 0.2, 1.5, 0, 0.1]),
    )
    p = RecParams(w_popularity=3.0, w_cowatch=3.0, fatigue_decay=0.9)  # unset = validated
    w = np.asarray(ranking.design_weights(p, "hybrid"))
    x = ranking.feature_matrix(cat, idx, seg, users, src, fatigue, cw, cowatch_scale=3.0)
    sim = np.einsum("nd,nd->n", emb[idx], users[seg])
    expected = np.column_stack(
        [
            np.log(np.clip(sim, ranking.SIM_FLOOR, 1.0)),
            cat.log_quality[idx],
            cat.log_creator[idx],
            cat.log_freshness[idx],
            cat.log1p_pop[idx],
            fatigue,
            np.log1p(3.0 * cw),
            np.eye(len(ranking.FEATURES) - ranking.SRC0)[src],
        ]
    )
    np.testing.assert_allclose(x, expected, rtol=1e-6)
    got = ranking.log_scores(cat, idx, seg, users, src, fatigue, tuple(w), cw, 3.0)
    formula = (
        w[0] * expected[:, 0]
        + p.w_quality * cat.log_quality[idx]
        + p.w_creator * cat.log_creator[idx]
        + p.w_freshness * cat.log_freshness[idx]
        + p.w_popularity * cat.log1p_pop[idx]
        + np.log(p.fatigue_decay) * fatigue
        + p.w_cowatch * np.log1p(3.0 * cw)
    )
    np.testing.assert_allclose(got, formula, rtol=1e-6)  # similarity is float32


def test_score_falls_with_rank_and_ranked_by_names_what_placed_each_row(spark):
    """A blending user (15 impressions) with an exploration slot: the mixed feed interleaves
    lists scored on scales of their own (pool 1/r, diverse 0.5, the formula, the bandit draw),
    so raw scores go up and down along the feed; the published ``score`` falls with every rank
    (sorting by it gives the feed), ``raw_score`` keeps each list's score and ``ranked_by``
    names the list or the ranker that placed the row, while ``source`` stays the source."""
    feats, pools, diverse, personal = _cold_catalog()
    cands = [(1, v, s, sc) for v, s, sc in personal] + [(1, 40, "exploration", 0.99)]
    t = dt.datetime(2026, 11, 1, 9, 0)
    got = (
        _rank(
            spark,
            _cfg(explore_slots=1, explore_every=5),
            feats=feats,
            users=[(1, "18-24", "US", "en")],
            cands=cands,
            events=[(1, 50 + i, 5000, t) for i in range(15)],
            pools=pools,
            diverse=diverse,
        )
        .orderBy("rank")
        .collect()
    )
    raw = [r["raw_score"] for r in got]
    assert any(b > a for a, b in zip(raw, raw[1:], strict=False))  # the mix is not ordered
    scores = [r["score"] for r in got]
    assert all(b < a for a, b in zip(scores, scores[1:], strict=False))
    assert scores[0] == 1.0
    by_score = sorted(got, key=lambda r: -r["score"])
    assert [r["video_id"] for r in by_score] == [r["video_id"] for r in got]
    expected_by = {
        "embedding": "design",
        "coldstart_popular": "coldstart_popular",
        "coldstart_diverse": "coldstart_diverse",
        "exploration": "exploration",
    }
    assert {(r["source"], r["ranked_by"]) for r in got} == set(expected_by.items())
    assert [r["raw_score"] for r in got if r["source"] == "exploration"] == [0.99]
    assert all(r["ranked_by"] in ranking.RANKED_BY for r in got)


def test_the_design_scale_multiplies_the_design_exponents_of_the_hybrid_only():
    p = RecParams(w_similarity=1.0, w_quality=0.8, w_creator=0.6, w_freshness=0.4)
    half = ranking.design_weights(p.replace(w_design_scale=0.5), "hybrid")
    assert half[:4] == (0.5, 0.4, 0.3, 0.2)
    off = ranking.design_weights(p.replace(w_design_scale=0.0), "hybrid")
    assert off[:4] == (0.0, 0.0, 0.0, 0.0)
    assert off[4] == 3.0  # popularity (unset: the blend's prior) is not a design exponent
    # the design's own formula keeps its exponents whatever the hybrid's scale
    assert ranking.design_weights(p.replace(w_design_scale=0.0), "design")[:4] == (1, 0.8, 0.6, 0.4)
    # unset: the prior, 1
    assert ranking.design_weights(p, "hybrid")[:4] == (1.0, 0.8, 0.6, 0.4)


def test_ranked_by_is_the_ranker_that_scored_the_personalised_list():
    assert ranking.RankConfig.from_params(RecParams(ranker="hybrid")).formula == "hybrid"
    assert ranking.RankConfig.from_params(RecParams(), ranker="design").formula == "design"
    learned = ranking.RankConfig.from_params(RecParams(ranker="learned"))
    assert ranking.ranked_by_label(learned, model=object()) == "learned"
    # no model: the formula its weights are (the model's base) ranks, and says so
    assert ranking.ranked_by_label(learned) == RecParams().ranker_base
    assert ranking.display_score(1) == 1.0


# --- the block kernel against a plain per-user reference ---------------------------------------


def _per_user_reference(score, creator, seg, n_users, keep, cfg):
    """``rank_block``'s contract written per user in plain Python: a creator's j-th best video
    (by score, ties by input position) gets ``diversity_decay ** j``; the first
    ``diversity_window`` videos in adjusted order whose occurrence is below ``max_per_creator``
    lead, then the rest in adjusted order (ties by input position); the first ``keep`` stay."""
    import numpy as np

    order, adj_out, pos_out = [], [], []
    for u in range(n_users):
        rows = [i for i in range(len(seg)) if seg[i] == u]
        occ, seen = {}, {}
        for i in sorted(rows, key=lambda i: (-score[i], i)):
            occ[i] = seen.get(creator[i], 0)
            seen[creator[i]] = occ[i] + 1
        adj = {i: score[i] * np.power(cfg.diversity_decay, occ[i]) for i in rows}
        window, rest = [], []
        for i in sorted(rows, key=lambda i: (-adj[i], i)):
            if occ[i] < cfg.max_per_creator and len(window) < cfg.diversity_window:
                window.append(i)
            else:
                rest.append(i)
        for p, i in enumerate((window + rest)[:keep]):
            order.append(i)
            adj_out.append(adj[i])
            pos_out.append(p)
    return np.array(order, np.int64), np.array(adj_out), np.array(pos_out, np.int64)


def _random_catalog(rng, n_videos, dim, n_creators):
    import numpy as np

    emb = rng.standard_normal((n_videos, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return catalogue.Catalog(
        ids=np.arange(1, n_videos + 1, dtype=np.int64),
        emb=emb,
        log_quality=rng.normal(size=n_videos),
        log_creator=rng.normal(size=n_videos),
        log_freshness=rng.normal(size=n_videos),
        log1p_pop=rng.uniform(0, 2, n_videos),
        # large and negative keys (a creator-less video's own key) as the catalogue makes them
        creator=rng.choice(np.array([-7, 3, 10**12, 5, 42, 77, 1_000_003]), n_videos)
        if n_creators is None
        else rng.integers(0, n_creators, n_videos) * 1_000_003 - 5,
    )


def _ragged_users(rng, n_users, lengths):
    """Flat candidate rows of ``n_users`` with the given lengths (0 = no candidates), the rows
    shuffled so that ``seg`` is unsorted."""
    import numpy as np

    seg = np.repeat(np.arange(n_users), lengths)
    return seg[rng.permutation(len(seg))]


def test_block_kernel_equals_a_per_user_reference_with_ties_short_and_empty_users():
    """Learned-style scores from a few values (ties everywhere, also at the kernel's cut-off),
    few creators (long creator runs: rows whose cut-off is redone over all candidates), users
    with more candidates than the cut-off, fewer than ``keep``, none; unsorted rows; blocks of
    several users, padded rows."""
    import numpy as np

    rng = np.random.default_rng(11)
    cat = _random_catalog(rng, 400, 8, None)
    for decay, window, max_pc, keep in [(0.9, 3, 1, 10), (0.5, 10, 2, 40), (0.0, 2, 1, 5)]:
        cfg = _cfg(diversity_decay=decay, diversity_window=window, max_per_creator=max_pc)
        lengths = rng.choice([0, 1, 3, 9, 10, 40, 70, 150, 300], 23)
        seg = _ragged_users(rng, 23, lengths)
        n = len(seg)
        idx = rng.integers(0, len(cat.ids), n)
        ls = rng.integers(-3, 3, n).astype(np.float64) * 0.5
        zero = np.zeros(n, np.int64)
        score = np.exp(ls)
        creator = cat.creator[idx]
        want = _per_user_reference(score, creator, seg, 23, keep, cfg)
        for block in (1, 64, 500, 1 << 20):
            got = ranking.rank_block(
                cat, idx, seg, 23, np.zeros((23, 8), np.float32), zero, np.zeros(n), cfg,
                keep=keep, log_score=ls, block_candidates=block,
            )  # fmt: skip
            for g, w in zip(got, want, strict=True):
                np.testing.assert_array_equal(g, w)


def test_block_kernel_equals_a_per_user_reference_on_the_formula():
    """The formula's scores (gathered vectors, one batched dot per block; and the small
    catalogue's one product) order and cut the candidates as the reference does over
    ``log_scores``: the same ranking, the same adjusted scores up to rounding."""
    import numpy as np

    rng = np.random.default_rng(5)
    p = RecParams()
    shapes = [(5_000, [300] * 12), (5_000, [0, 5, 260, 1, 400, 90] * 2), (50, [8] * 12)]
    for n_videos, lengths in shapes:
        cat = _random_catalog(rng, n_videos, 16, max(2, n_videos // 20))
        cfg = ranking.RankConfig.from_params(p, ranker="hybrid")
        cfg = _cfg(
            weights=cfg.weights, top_n=100, diversity_decay=0.8, diversity_window=10,
            max_per_creator=2,
        )  # fmt: skip
        nu = len(lengths)
        seg = np.repeat(np.arange(nu), lengths)
        n = len(seg)
        idx = rng.integers(0, n_videos, n)
        users = rng.standard_normal((nu, 16)).astype(np.float32)
        users /= np.linalg.norm(users, axis=1, keepdims=True)
        src = rng.integers(0, len(ranking.FEATURES) - ranking.SRC0, n)
        fatigue = rng.integers(0, 3, n).astype(np.float64)
        cw = rng.random(n) * (rng.random(n) < 0.3)
        ls = ranking.log_scores(cat, idx, seg, users, src, fatigue, cfg.weights, cw, 3.0)
        want = _per_user_reference(
            np.exp(np.clip(ls, -700, 700)), cat.creator[idx], seg, nu, cfg.top_n, cfg
        )
        for block in (700, ranking.BLOCK_CANDIDATES):
            got = ranking.rank_block(
                cat, idx, seg, nu, users, src, fatigue, cfg, cowatch=cw, block_candidates=block
            )
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[2], want[2])
            np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_block_kernel_with_no_candidates_or_nothing_to_keep():
    import numpy as np

    rng = np.random.default_rng(2)
    cat = _random_catalog(rng, 50, 4, 5)
    cfg = _cfg()
    e = np.zeros(0, np.int64)
    users = np.zeros((3, 4), np.float32)
    for args, keep in [((e, e, 3), None), ((np.array([1, 2]), np.array([2, 2]), 3), 0)]:
        idx, seg, nu = args
        got = ranking.rank_block(
            cat, idx, seg, nu, users, np.zeros(len(idx), np.int64), np.zeros(len(idx)), cfg,
            keep=keep,
        )  # fmt: skip
        assert [len(x) for x in got] == [0, 0, 0]
