"""The hybrid ranker's blend weights chosen per run by validation (jobs/recsys/blend.py):
co-engagement dominant where item co-occurrence predicts the held-out items, a weight set
explicitly kept, the prior when validation cannot run.

One generated world (160 users, 78 videos): videos come in triples, each user engages with
every video of four triples (so a held-out video is predicted by its two partners), and six
decoy videos are watched briefly (never a positive) by nearly everyone, so popularity points
away from what users engage with.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from fyplake import catalog
from fyplake.config import Settings
from jobs.recsys import blend, learned, pipeline
from jobs.recsys.params import RecParams

DS = dt.date(2026, 11, 10)
T0 = dt.datetime(2026, 11, 1, 8)
TAGS = ["dance", "food", "cats", "cars", "music", "art"]
N_USERS, N_TRIPLES, N_DECOYS = 160, 24, 6
P = RecParams(cold_start_min=3, cold_start_full=5, blend_users=500)


def _user(uid: int) -> tuple:
    return (uid, ["18-24", "25-34"][uid % 2], "US", "en", False, T0, T0)


def _video(vid: int) -> tuple:
    tags = [TAGS[vid % 6], TAGS[(vid // 7) % 6]]
    return (vid, 900 + vid % 9, 15_000, f"clip {vid}", None, tags, 50, "en", "ready", T0, T0)


def _watch(eid: str, uid: int, vid: int, when: dt.datetime, completion: float) -> tuple:
    return (
        eid,
        uid,
        vid,
        None,
        int(15_000 * completion),
        15_000,
        completion,
        False,
        False,
        False,
        False,
        when,
        when.date(),
    )


def _events(seed: int = 3) -> list[tuple]:
    rng = np.random.default_rng(seed)
    decoys = list(range(1000, 1000 + N_DECOYS))
    out = []
    for uid in range(1, N_USERS + 1):
        triples = rng.choice(N_TRIPLES, 4, replace=False)
        vids = [100 + 3 * t + j for t in triples for j in range(3)]
        vids += [int(v) for v in rng.choice(decoys, 4, replace=False)]
        for j, vid in enumerate(rng.permutation(vids)):
            when = dt.datetime(2026, 11, 6 + j // 4, 9 + j % 4, uid % 60)
            completion = 0.1 if vid >= 1000 else 0.9
            out.append(_watch(f"u{uid}v{vid}", uid, int(vid), when, completion))
    return out


def _silver(spark) -> pipeline.Silver:
    def frame(spec, rows):
        return spark.createDataFrame(list(rows), StructType.fromDDL(spec.schema))

    ids = [100 + i for i in range(3 * N_TRIPLES)] + list(range(1000, 1000 + N_DECOYS))
    vids = frame(catalog.SILVER_VIDEOS, [_video(v) for v in ids])
    ev = frame(catalog.SILVER_WATCH_HISTORY, _events())
    ev = ev.join(vids.select("video_id", F.col("creator_id").alias("_c")), "video_id", "left")
    return pipeline.Silver(
        watch=ev.withColumn("creator_id", F.col("_c")).select(
            *catalog.SILVER_WATCH_HISTORY.columns
        ),
        users=frame(catalog.SILVER_USERS, [_user(u) for u in range(1, N_USERS + 1)]),
        videos=vids,
        follows=frame(catalog.SILVER_FOLLOWS, []),
    )


@pytest.fixture(scope="module")
def engine(spark):
    prep, gold = learned.gold_as_of(_silver(spark), DS, P)
    return prep, gold


def _resolve(engine, p: RecParams, report: dict) -> RecParams:
    prep, gold = engine
    return blend.resolve(
        prep,
        p,
        video_features=gold["video_features"],
        video_emb=gold["video_embeddings"],
        neighbours=gold["video_neighbours"],
        lists={k: gold[k] for k in ("hashtag_top", "sound_top", "creator_top", "trending")},
        report=report,
    )


@pytest.mark.parametrize("holdout", ["random", "time"])
def test_validation_picks_co_engagement_where_co_occurrence_predicts(engine, holdout):
    report: dict = {}
    p = _resolve(engine, P.replace(blend_holdout=holdout), report)
    assert report["blend_source"] == "validated", report
    assert report["blend_holdout"] == holdout
    assert report["blend_users"] >= blend.BLEND_MIN_USERS
    # co-engagement above the prior's; on the random slice popularity off too (EASE's order)
    assert p.w_cowatch > blend.PRIOR[1], report
    if holdout == "random":
        assert p.w_popularity == 0.0, report
    assert report["blend_ndcg_best"] > report["blend_ndcg_prior"], report
    # coarse to fine: fewer pairs than the full grid per (fatigue, design scale) rung, the
    # prior among them
    cells = [tuple(float(x) for x in c.split("/")) for c in report["blend_ndcg"]]
    assert {c[2] for c in cells} == set(blend.FATIGUE_GRID), report
    assert {c[3] for c in cells} == set(blend.DESIGN_SCALE_GRID), report
    rungs = len(blend.FATIGUE_GRID) * len(blend.DESIGN_SCALE_GRID)
    n_div = len(blend.CAP_GRID) * len(blend.DIVERSITY_DECAY_GRID)
    assert len(cells) <= blend.BLEND_MAX_PAIRS * (rungs + 1) + n_div, report
    assert "3/3/0.9/1/2/0.8" in report["blend_ndcg"], report
    # creator diversity: every (cap, decay) rung scored at one cell; the kept one is the most
    # diverse within a standard error of the best
    rungs = {c[4:] for c in cells}
    assert rungs == {
        (float(c or 10), y) for c in blend.CAP_GRID for y in blend.DIVERSITY_DECAY_GRID
    }
    kept = (p.diversity_max_per_creator, p.diversity_decay)
    assert kept in rungs and isinstance(p.diversity_max_per_creator, int), report
    div = report["blend_diversity"]
    assert div["kept"] == f"{kept[0]:g}/{kept[1]:g}", report
    first = next(
        r for r in sorted(rungs) if div[f"{r[0]:g}/{r[1]:g}"][0] <= div[f"{r[0]:g}/{r[1]:g}"][1]
    )
    assert first == kept, report
    assert p.fatigue_decay in blend.FATIGUE_GRID
    assert p.w_design_scale in blend.DESIGN_SCALE_GRID
    assert report["blend_weights"]["fatigue_decay"] == p.fatigue_decay
    assert report["blend_weights"]["w_design_scale"] == p.w_design_scale
    assert report["blend_item_model"].get("lambda_from") == "the run's fit", report
    # the ALS video vectors are refit without the held-out slice (rec_blend_refit_embeddings)
    assert "embeddings" in report["blend_phase_seconds"], report


def test_the_same_inputs_give_the_same_choice(engine):
    """A retried or re-run ranking validates again on the same inputs: the same choice, down to
    every cell's score, keeps the re-run's feeds equal to the first run's."""
    first: dict = {}
    again: dict = {}
    _resolve(engine, P.replace(blend_holdout="random"), first)
    _resolve(engine, P.replace(blend_holdout="random"), again)
    assert first["blend_source"] == "validated", first
    assert again["blend_weights"] == first["blend_weights"]
    assert again["blend_ndcg"] == first["blend_ndcg"]


def test_an_explicit_weight_is_kept_and_the_other_validated(engine):
    report: dict = {}
    p = _resolve(engine, P.replace(blend_holdout="random", w_popularity=2.0), report)
    assert p.w_popularity == 2.0
    assert p.w_cowatch > blend.PRIOR[1], report
    assert all(k.startswith("2/") for k in report["blend_ndcg"]), report
    both: dict = {}
    q = _resolve(
        engine,
        P.replace(
            w_popularity=2.0,
            w_cowatch=1.0,
            fatigue_decay=0.8,
            w_design_scale=0.5,
            diversity_max_per_creator=3,
            diversity_decay=1.0,
        ),
        both,
    )
    assert (q.w_popularity, q.w_cowatch, q.fatigue_decay, q.w_design_scale) == (2, 1, 0.8, 0.5)
    assert both["blend_source"] == "configured"
    # both exponents and the design scale set, fatigue unset: only fatigue is searched
    only: dict = {}
    r = _resolve(
        engine,
        P.replace(
            w_popularity=2.0,
            w_cowatch=1.0,
            w_design_scale=1.0,
            diversity_max_per_creator=2,
            diversity_decay=0.8,
            blend_refit_embeddings=False,
        ),
        only,
    )
    assert "embeddings" not in only["blend_phase_seconds"], only
    assert (r.w_popularity, r.w_cowatch) == (2.0, 1.0)
    assert only["blend_source"] == "validated", only
    assert {c.split("/")[2] for c in only["blend_ndcg"]} == {
        f"{f:g}" for f in blend.FATIGUE_GRID
    }, only
    assert {tuple(c.split("/")[i] for i in (0, 1, 3, 4, 5)) for c in only["blend_ndcg"]} == {
        ("2", "1", "1", "2", "0.8")
    }, only
    assert len(only["blend_ndcg"]) == len(blend.FATIGUE_GRID), only


def test_settings_unset_means_validated_and_set_means_kept(monkeypatch):
    monkeypatch.setenv("FYP_REC_WEIGHT_POPULARITY", "1.5")
    p = RecParams.from_settings(Settings())
    assert p.w_popularity == 1.5
    assert p.w_cowatch is None
    assert blend.needs_validation(p)
    assert RecParams().w_popularity is None and RecParams().blend_holdout == "time"
    w = blend.with_prior(RecParams())
    assert (w.w_popularity, w.w_cowatch) == blend.PRIOR
    assert w.fatigue_decay == blend.FATIGUE_PRIOR
    assert w.w_design_scale == blend.DESIGN_SCALE_PRIOR
    assert (w.diversity_max_per_creator, w.diversity_decay) == blend.DIVERSITY_PRIOR
    assert RecParams().diversity_max_per_creator is None
    assert RecParams().fatigue_decay is None
    monkeypatch.setenv("FYP_REC_FATIGUE_DECAY", "1")
    assert RecParams.from_settings(Settings()).fatigue_decay == 1.0


def test_too_few_validation_users_keep_the_prior(engine):
    prep, _gold = engine
    few = prep.__class__(**{**prep.__dict__, "users": prep.users.where(F.col("user_id") <= 10)})
    report: dict = {}
    p = _resolve((few, engine[1]), P, report)
    assert report["blend_source"] == "prior", report
    assert (p.w_popularity, p.w_cowatch) == blend.PRIOR
    assert p.fatigue_decay == blend.FATIGUE_PRIOR


def test_the_most_diverse_rung_within_a_standard_error_is_kept():
    rng = np.random.default_rng(5)
    best = rng.uniform(0.2, 0.4, 400)
    assert blend._within(best, best, blend.DIVERSITY_SE)
    assert blend._within(best - 0.001 + rng.normal(0, 0.05, 400), best, blend.DIVERSITY_SE)
    assert not blend._within(best - 0.05, best, blend.DIVERSITY_SE)
