"""The learned ranker: an XGBoost ranking model trained nightly on the lake's own history.

**Training pairs.** The engine generates its candidates as of a past date ``T' = ds -
horizon`` (``rec_ranker_horizon_days``), exactly as the nightly would have on ``T'`` (same
candidate kernel, same catalogue, lists and user rows as of ``T'``). Each (user, candidate) is
labelled by what the user did with it in ``(T', ds]`` -- the window after the as-of instant up
to the end of ``ds`` -- with a graded relevance (``LABELS``, defined once in ``labels``):

    3  liked, shared or commented
    2  watched to at least ``rec_ranker_label_completion`` (0.5), not skipped
    1  watched less than that, not skipped
    0  skipped, or not shown at all

A candidate shown several times keeps its best grade. Only users the ranker would rank (at
least ``cold_start_min`` impressions as of ``T'``) with at least one label > 0 form query groups;
at most ``rec_ranker_sample_users`` users (a seeded hash sample) and, per user, every labelled
candidate plus ``rec_ranker_negatives`` label-0 candidates (a seeded sample).

**Features** (``LEARNED_FEATURES``): the rank kernel's own ``FEATURES`` (``ranking.feature_matrix``:
log cosine of the user and video vectors -- ALS blended with content --, log quality, creator
score, freshness, log1p popularity, creator fatigue, log1p co-engagement score, the kept
source's one-hot), then what the catalogue and user rows carry cheaply (``EXTRA_FEATURES``):
the source's own candidate score and how many sources produced the candidate, the user's
hashtag/sound/creator affinity share for the video, the video's smoothed completion/like/
comment/share rates and log1p impressions, the user's history length and whether they have a
vector, and demographics as small integer codes (the vocabulary is saved with the model).
Training rows and serving compute them with the same functions (``FeatureBuilder.matrix`` after
``ranking.feature_matrix``, inside the same per-batch context ``ranking.CandidateContext``), so
they cannot drift apart. Everything is as of ``T'``: silver cut at ``T'``, gold of ``T'``.

**Model.** ``xgboost.spark.SparkXGBRanker`` (qid = user) on the training users;
``rec_ranker_validation_share`` of the users (a seeded hash) is held out and the model's nDCG@10
on their candidates is compared with the formulas' on the same users. A model is *accepted*
when it does at least as well as the fallback formula there (paired difference >= 0); below
``rec_ranker_min_users`` labelled users or ``rec_ranker_min_positives_per_feature`` positives
per feature nothing is trained. The model is saved in the lake (``models/ranker/<model_id>``,
the estimator's own format) with a ``gold.models`` row (window, features, counts, metrics,
Delta versions read, path, status). The rank job scores with the newest accepted model of a
``ds`` at or before its own: the booster's bytes are broadcast with the catalogue and every Arrow
batch of users is scored with ``inplace_predict``; score = exp(prediction) (positive and
monotone, so diversity, fatigue, exploration and the cold-start mix apply as for the formula).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from jobs.recsys import catalogue, ranking
from jobs.recsys.candidates import CandidateConfig, generate_batch
from jobs.recsys.catalogue import Catalog, SourceLists
from jobs.recsys.common import as_of_epoch
from jobs.recsys.params import EXPLORATION, SOURCE_CODE, RecParams

logger = logging.getLogger(__name__)

KIND = "ranker"
#: Share of impressions held out to label a ``train_random`` ranker.
RANDOM_LABEL_SHARE = 0.2
#: Graded relevance of a (user, candidate) in the label window.
LABELS = {"engaged": 3, "watched": 2, "glanced": 1, "none": 0}
#: Affinity kinds (gold.user_affinities.kind) in feature order.
AFFINITY_KINDS = ("hashtag", "sound", "creator")
#: Demographic columns, coded by the model's vocabulary (unknown value: missing).
DEMOGRAPHICS = ("age_band", "country", "language")
VIDEO_RATES = ("completion_rate", "like_rate", "comment_rate", "share_rate")
EXTRA_FEATURES = (
    "source_score",
    "n_sources",
    *[f"aff_{k}" for k in AFFINITY_KINDS],
    *VIDEO_RATES,
    "log1p_impressions",
    "log1p_history",
    "has_vector",
    *DEMOGRAPHICS,
)
LEARNED_FEATURES = (*ranking.FEATURES, *EXTRA_FEATURES)
NDCG_K = 10

TRAIN_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.LongType()),
        T.StructField("video_id", T.LongType()),
        T.StructField("source", T.StringType()),
        T.StructField("features", T.ArrayType(T.FloatType())),
        T.StructField("base_margin", T.DoubleType()),
    ]
)


def base_margin(m: np.ndarray, weights: tuple[float, ...]) -> np.ndarray:
    """The formula's log score from a learned feature matrix's first ``FEATURES`` columns: the
    margin boosting starts from (training, validation and serving all call this)."""
    if not weights:
        return np.zeros(len(m))
    nf = len(ranking.FEATURES)
    return np.asarray(m[:, :nf], np.float64) @ np.asarray(weights, np.float64)


def base_weights(p: RecParams) -> tuple[float, ...]:
    """The formula boosting starts from (``rec_ranker_base``; empty = from zero)."""
    return () if p.ranker_base == "none" else tuple(ranking.design_weights(p, p.ranker_base))


# --- the features beyond the formula's --------------------------------------------------------


@dataclass(eq=False)
class VideoSide:
    """Per catalogue position: smoothed rates + log1p impressions, and the keys (hashtags, sound,
    creator) a user's affinities are matched on (CSR per kind over a per-kind vocabulary)."""

    rates: np.ndarray  # (n, 5) float64
    vocab: dict[str, dict[str, int]] = field(default_factory=dict)
    ptr: dict[str, np.ndarray] = field(default_factory=dict)
    keys: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, cat: Catalog, video_features: DataFrame, videos: DataFrame) -> VideoSide:
        n = len(cat.ids)
        rates = np.zeros((n, len(VIDEO_RATES) + 1))
        vf = (
            video_features.where(F.col("status") == "ready")
            .select("video_id", *VIDEO_RATES, "impressions")
            .toPandas()
        )
        if len(vf):
            pos = cat.index(vf["video_id"].to_numpy(np.int64))
            ok = pos >= 0
            vals = vf[list(VIDEO_RATES)].to_numpy(np.float64)
            rates[pos[ok], : len(VIDEO_RATES)] = np.nan_to_num(vals[ok])
            rates[pos[ok], -1] = np.log1p(vf["impressions"].fillna(0).to_numpy(np.float64)[ok])
        meta = videos.select("video_id", "hashtags", "sound_id").toPandas()
        per_kind: dict[str, list[list[str]]] = {k: [[] for _ in range(n)] for k in AFFINITY_KINDS}
        if len(meta):
            pos = cat.index(meta["video_id"].to_numpy(np.int64))
            for p_, tags, sound in zip(pos, meta["hashtags"], meta["sound_id"], strict=True):
                if p_ < 0:
                    continue
                per_kind["hashtag"][p_] = [str(t) for t in (tags if tags is not None else [])]
                if sound is not None and not (isinstance(sound, float) and math.isnan(sound)):
                    per_kind["sound"][p_] = [str(int(sound))]
        per_kind["creator"] = [[str(int(c))] for c in cat.creator]
        side = cls(rates=rates)
        for kind, lists in per_kind.items():
            vocab: dict[str, int] = {}
            flat = [vocab.setdefault(k, len(vocab)) for lst in lists for k in lst]
            side.vocab[kind] = vocab
            side.ptr[kind] = np.r_[0, np.cumsum([len(lst) for lst in lists])].astype(np.int64)
            side.keys[kind] = np.asarray(flat, np.int64)
        return side


@dataclass(eq=False)
class FeatureBuilder:
    """``EXTRA_FEATURES`` of flat candidates, appended to ``ranking.feature_matrix``'s columns.
    ``vocab``: demographic value -> code (the model's; fixed at training)."""

    side: VideoSide
    vocab: dict[str, list[str]]

    def user_codes(
        self, n_eng: np.ndarray, seg_keys: list[str], uvec: np.ndarray, extra: dict | None
    ) -> dict[str, Any]:
        """Per batch of users: history length, vector presence, demographic codes, and each
        kind's affinities as sorted (row * vocabulary size + key id) -> share."""
        n = len(n_eng)
        demo = np.full((n, len(DEMOGRAPHICS)), np.nan)
        lookup = [{v: i for i, v in enumerate(self.vocab.get(c, []))} for c in DEMOGRAPHICS]
        for i, key in enumerate(seg_keys):
            for j, v in enumerate(str(key).split("|")[: len(DEMOGRAPHICS)]):
                code = lookup[j].get(v)
                if code is not None:
                    demo[i, j] = code
        aff = {}
        lists = None if extra is None else extra.get("affinity")
        for kind in AFFINITY_KINDS:
            vocab = self.side.vocab.get(kind, {})
            size = max(1, len(vocab))
            if lists is None or not len(lists[1]):
                aff[kind] = (np.zeros(0, np.int64), np.zeros(0), size)
                continue
            off, kinds, keys, shares = lists
            rows = np.repeat(np.arange(n), np.diff(off))
            sel = [
                (r, vocab.get(k), s)
                for r, kd, k, s in zip(rows, kinds, keys, shares, strict=True)
                if kd == kind and k in vocab
            ]
            if not sel:
                aff[kind] = (np.zeros(0, np.int64), np.zeros(0), size)
                continue
            r, kid, s = (np.asarray(x) for x in zip(*sel, strict=True))
            code = r.astype(np.int64) * size + kid.astype(np.int64)
            order = np.argsort(code, kind="stable")
            aff[kind] = (code[order], s.astype(np.float64)[order], size)
        return {
            "log1p_history": np.log1p(np.asarray(n_eng, np.float64)),
            "has_vector": (np.abs(uvec).sum(axis=1) > 0).astype(np.float64),
            "demo": demo,
            "aff": aff,
        }

    def matrix(
        self,
        x: np.ndarray,
        cat: Catalog,
        idx: np.ndarray,
        rows: np.ndarray,
        codes: dict[str, Any],
        cscore: np.ndarray,
        nsrc: np.ndarray | None,
    ) -> np.ndarray:
        """(n, len(LEARNED_FEATURES)) float32: ``x`` (the kernel's ``feature_matrix``) and the
        extra columns. ``rows``: each candidate's user row in the batch."""
        n = len(idx)
        out = np.empty((n, len(LEARNED_FEATURES)), np.float32)
        out[:, : x.shape[1]] = x
        j = x.shape[1]
        out[:, j] = cscore
        out[:, j + 1] = 1.0 if nsrc is None else nsrc
        j += 2
        for kind in AFFINITY_KINDS:
            out[:, j] = self._affinity(kind, idx, rows, codes["aff"][kind])
            j += 1
        k = self.side.rates.shape[1]
        out[:, j : j + k] = self.side.rates[idx]
        j += k
        out[:, j] = codes["log1p_history"][rows]
        out[:, j + 1] = codes["has_vector"][rows]
        out[:, j + 2 : j + 2 + len(DEMOGRAPHICS)] = codes["demo"][rows]
        return out

    def _affinity(self, kind: str, idx: np.ndarray, rows: np.ndarray, aff) -> np.ndarray:
        codes, shares, size = aff
        if len(codes) == 0 or len(idx) == 0:
            return np.zeros(len(idx))
        ptr, keys = self.side.ptr[kind], self.side.keys[kind]
        lo, hi = ptr[idx], ptr[idx + 1]
        lens = hi - lo
        rep = np.repeat(np.arange(len(idx)), lens)
        gather = np.repeat(lo - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
        want = rows[rep].astype(np.int64) * size + keys[gather]
        pos = np.minimum(np.searchsorted(codes, want), len(codes) - 1)
        hit = np.where(codes[pos] == want, shares[pos], 0.0)
        return np.bincount(rep, weights=hit, minlength=len(idx))


@dataclass(eq=False)
class BoundRanker(FeatureBuilder):
    """A trained model bound to a catalogue: what the rank kernel calls (broadcast once;
    the booster is rebuilt from its bytes once per Python worker)."""

    booster_raw: bytes = b""
    model_id: str = ""
    base: tuple[float, ...] = ()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_booster", None)
        return state

    def booster(self):  # noqa: ANN201
        b = self.__dict__.get("_booster")
        if b is None:
            import xgboost as xgb

            b = xgb.Booster(model_file=bytearray(self.booster_raw))
            b.set_param({"nthread": 1})  # one Spark task, one core
            self.__dict__["_booster"] = b
        return b

    def log_scores(
        self,
        x: np.ndarray,
        cat: Catalog,
        idx: np.ndarray,
        rows: np.ndarray,
        codes: dict[str, Any],
        cscore: np.ndarray,
        nsrc: np.ndarray | None,
    ) -> np.ndarray:
        """The model's prediction (a log score: the kernel ranks by exp of it)."""
        m = self.matrix(x, cat, idx, rows, codes, cscore, nsrc)
        return np.asarray(
            self.booster().inplace_predict(m, base_margin=base_margin(m, self.base)), np.float64
        )


@dataclass(frozen=True)
class Model:
    """A trained ranker, catalogue-independent: booster bytes, demographic vocabulary."""

    model_id: str
    booster_raw: bytes
    vocab: dict[str, list[str]]
    base: tuple[float, ...] = ()  # the formula boosting started from (``base_margin``)
    features: tuple[str, ...] = LEARNED_FEATURES
    info: dict = field(default_factory=dict, compare=False)

    def bind(self, cat: Catalog, video_features: DataFrame, videos: DataFrame) -> BoundRanker:
        return BoundRanker(
            VideoSide.build(cat, video_features, videos),
            self.vocab,
            booster_raw=bytes(self.booster_raw),
            model_id=self.model_id,
            base=self.base,
        )

    def predict(self, m: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        b = xgb.Booster(model_file=bytearray(self.booster_raw))
        m = np.asarray(m, np.float32)
        return np.asarray(b.inplace_predict(m, base_margin=base_margin(m, self.base)), np.float64)


# --- labels and training rows ---------------------------------------------------------------


def labels(watch: DataFrame, start_epoch: float, end_epoch: float, completion: float) -> DataFrame:
    """(user_id, video_id, label): the best graded relevance (``LABELS``) of each impression
    with ``start_epoch <= event_time < end_epoch``; nothing outside the window counts."""
    t = F.col("event_time").cast("double")
    skipped = F.coalesce(F.col("skipped"), F.lit(False))
    engaged = (
        F.coalesce(F.col("liked"), F.lit(False))
        | F.coalesce(F.col("shared"), F.lit(False))
        | F.coalesce(F.col("commented"), F.lit(False))
    )
    comp = F.coalesce(F.col("completion_rate"), F.lit(0.0))
    grade = (
        F.when(engaged, LABELS["engaged"])
        .when(~skipped & (comp >= completion), LABELS["watched"])
        .when(~skipped, LABELS["glanced"])
        .otherwise(LABELS["none"])
    )
    return (
        watch.where((t >= F.lit(start_epoch)) & (t < F.lit(end_epoch)))
        .groupBy("user_id", "video_id")
        .agg(F.max(grade).cast("int").alias("label"))
    )


def demographic_vocab(users: DataFrame) -> dict[str, list[str]]:
    """Sorted distinct values (nulls as ``unknown``, as in the segment key) per demographic."""
    out = {}
    for c in DEMOGRAPHICS:
        vals = users.select(F.coalesce(F.col(c), F.lit("unknown")).alias("v")).distinct().collect()
        out[c] = sorted(str(r["v"]) for r in vals)
    return out


def training_batch(
    batch: pa.RecordBatch,
    cat: Catalog,
    lists: SourceLists,
    ccfg: CandidateConfig,
    cfg: ranking.RankConfig,
    dim: int,
    fb: FeatureBuilder,
    block_users: int = 256,
    base: tuple[float, ...] = (),
) -> pa.RecordBatch:
    """The candidates of ``candidate_inputs`` rows (with ``ranking.with_affinity``) and their
    ``LEARNED_FEATURES``, computed as the rank kernel computes them (same candidate kernel,
    same ``CandidateContext``, same ``feature_matrix`` + ``FeatureBuilder.matrix``). Exploration
    candidates are left out: the ranker never scores them."""
    uid, n_eng, seg_keys, uvec, fat_row, fat_c, fat_n, _w_off, _watched, hist = ranking._user_side(
        batch, cat, dim
    )
    n = len(uid)
    row, cidx, src, cscore, mask = generate_batch(batch, cat, lists, ccfg, dim)
    ok = (cidx >= 0) & (src != SOURCE_CODE[EXPLORATION])
    ctx = ranking.CandidateContext(
        n, row, cidx, fat_row, fat_c, fat_n, cat, ranking._with_cowatch(cfg), hist, ok
    )
    codes = fb.user_codes(n_eng, seg_keys, uvec, {"affinity": ranking.affinity_lists(batch)})
    nsrc = ranking.n_sources(mask)
    out_rows, out_feats = [], []
    for lo, hi, sl, cw in ctx.blocks(ok, block_users):
        x = ranking.feature_matrix(
            cat,
            cidx[sl],
            row[sl] - lo,
            uvec[lo:hi],
            src[sl],
            ctx.fatigue[sl],
            cw,
            cfg.cowatch_scale,
        )
        out_feats.append(fb.matrix(x, cat, cidx[sl], row[sl], codes, cscore[sl], nsrc[sl]))
        out_rows.append(sl)
    sel = np.concatenate(out_rows) if out_rows else np.zeros(0, np.int64)
    feats = (
        np.concatenate(out_feats) if out_feats else np.zeros((0, len(LEARNED_FEATURES)), np.float32)
    )
    width = len(LEARNED_FEATURES)
    names = pa.array(list(ranking.SOURCES), pa.string())
    values = pa.array(feats.reshape(-1), pa.float32())
    offsets = pa.array(np.arange(len(sel) + 1, dtype=np.int32) * width)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(uid[row[sel]], pa.int64()),
            pa.array(cat.ids[cidx[sel]], pa.int64()),
            names.take(pa.array(src[sel], pa.int64())),
            pa.ListArray.from_arrays(offsets, values),
            pa.array(base_margin(feats, base), pa.float64()),
        ],
        names=[f.name for f in TRAIN_SCHEMA.fields],
    )


def candidate_features(
    rows: DataFrame,
    cat: Catalog,
    lists: SourceLists,
    ccfg: CandidateConfig,
    cfg: ranking.RankConfig,
    dim: int,
    fb: FeatureBuilder,
    base: tuple[float, ...] = (),
) -> DataFrame:
    """``training_batch`` over every batch of ``rows``: user_id, video_id, source, features."""
    bc = rows.sparkSession.sparkContext.broadcast((cat, lists, fb))

    def kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        c, lst, f = bc.value
        for batch in batches:
            if batch.num_rows:
                yield training_batch(batch, c, lst, ccfg, cfg, dim, f, base=base)

    return rows.mapInArrow(kernel, TRAIN_SCHEMA)


def _bucket(col: str, seed: int) -> F.Column:
    """A seeded uniform number in [0, 1) per value of ``col`` (user sampling and splits)."""
    return (F.abs(F.xxhash64(F.col(col), F.lit(seed))) % F.lit(1_000_003)) / F.lit(1_000_003.0)


@dataclass
class TrainingData:
    """The labelled candidates (``rows``: user_id, video_id, source, features, label,
    validation) and what they came from."""

    rows: DataFrame | None
    vocab: dict[str, list[str]]
    as_of: dt.date
    label_from: dt.datetime
    label_to: dt.datetime
    labelled_users: int = 0
    reason: str | None = None


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=epoch)


def training_window(ds: dt.date, p: RecParams) -> tuple[dt.date, float, float]:
    """(T', label window start, label window end): the as-of date the candidates are generated
    for and the epoch seconds of (end of T', end of ds]."""
    as_of = ds - dt.timedelta(days=p.ranker_horizon_days)
    return as_of, as_of_epoch(as_of), as_of_epoch(ds)


def training_data(
    watch: DataFrame,
    prep,
    p: RecParams,
    gold: dict[str, DataFrame],  # noqa: ANN001
    ds: dt.date,
    window: tuple[dt.date, float, float] | None = None,
) -> TrainingData:
    """Labelled candidates for ``ds``: ``prep`` is silver prepared as of T' (``training_window``),
    ``gold`` the engine's gold frames of T' (lake partitions or ``gold_as_of``); labels come
    from ``watch`` in (T', ds] only. ``window`` (as-of date, label start, label end epoch)
    replaces ``training_window``'s (``train_random``: as of ds, labels from a held-out slice)."""
    from jobs.recsys import pipeline

    as_of, start, end = window or training_window(ds, p)
    assert prep.ds == as_of, (prep.ds, as_of)
    win = (_utc(start), _utc(end))
    lab = labels(watch, start, end, p.ranker_label_completion).where(F.col("label") > 0)
    n_eng = prep.events.groupBy("user_id").agg(F.count(F.lit(1)).alias("n"))
    users = (
        lab.select("user_id")
        .distinct()
        .join(n_eng.where(F.col("n") >= p.cold_start_min), "user_id", "left_semi")
        .join(prep.users.select("user_id"), "user_id", "left_semi")
        .cache()
    )
    n_users = users.count()
    vocab = demographic_vocab(prep.users)
    if n_users == 0:
        return TrainingData(None, vocab, as_of, *win, 0, "no user with a labelled candidate")
    if n_users > p.ranker_sample_users:
        users = users.where(_bucket("user_id", p.seed) < F.lit(p.ranker_sample_users / n_users))
    cat = catalogue.build_catalog(
        gold["video_features"],
        gold["video_embeddings"],
        None,
        None,
        p.embedding_dim,
        gold["video_neighbours"],
    )
    lists = catalogue.build_lists(
        cat, gold["hashtag_top"], gold["sound_top"], gold["creator_top"], gold["trending"]
    )
    only = _restrict(prep, users)
    rows = pipeline._inputs(  # the same user rows the nightly's candidate stage reads
        only,
        p,
        user_emb=gold["user_embeddings"],
        user_affinities=gold["user_affinities"],
        assignments=gold["exploration_assignments"],
    )
    rows = ranking.with_affinity(rows, gold["user_affinities"])
    fb = FeatureBuilder(VideoSide.build(cat, gold["video_features"], prep.videos), vocab)
    cands = candidate_features(
        rows,
        cat,
        lists,
        CandidateConfig.from_params(p),
        ranking.RankConfig.from_params(p),
        p.embedding_dim,
        fb,
        base_weights(p),
    )
    all_lab = labels(watch, start, end, p.ranker_label_completion)
    rnd = F.xxhash64("user_id", "video_id", F.lit(p.seed))
    neg_rank = F.row_number().over(Window.partitionBy("user_id", "_neg").orderBy(rnd, "video_id"))
    # validation users keep every candidate (they are ranked as the rank job ranks them);
    # training users keep their labelled candidates and a sample of the rest
    data = (
        cands.join(all_lab, ["user_id", "video_id"], "left")
        .fillna(0, subset=["label"])
        .withColumn("validation", _bucket("user_id", p.seed + 1) < F.lit(p.ranker_validation_share))
        .withColumn("_neg", F.col("label") == 0)
        .withColumn("_rank", neg_rank)
        .where(F.col("validation") | ~F.col("_neg") | (F.col("_rank") <= F.lit(p.ranker_negatives)))
        .drop("_neg", "_rank")
    )
    # a query group needs a positive and a negative to say anything about order
    grp = data.groupBy("user_id").agg(F.max("label").alias("_mx"), F.min("label").alias("_mn"))
    keep = grp.where((F.col("_mx") > 0) & (F.col("_mn") == 0)).select("user_id")
    data = data.join(keep, "user_id", "left_semi")
    users.unpersist()
    return TrainingData(data, vocab, as_of, *win, n_users)


def _restrict(prep, users: DataFrame):  # noqa: ANN001, ANN202
    import dataclasses

    return dataclasses.replace(prep, users=prep.users.join(users, "user_id", "left_semi"))


def gold_as_of(silver, as_of: dt.date, p: RecParams) -> tuple[Any, dict[str, DataFrame]]:  # noqa: ANN001
    """The engine's stages as of ``as_of`` in memory (when the lake has no gold of that date,
    and in the offline evaluation): (prepared silver, gold frames by table name)."""
    from jobs.recsys import pipeline

    prep = pipeline.prepare(silver, as_of, p)
    out = pipeline.stage_features(prep, p)
    out.update(pipeline.stage_embeddings(prep, p))
    out.update(
        pipeline.stage_exploration(
            prep, p, out["video_features"], out["video_embeddings"], out["user_embeddings"]
        )
    )
    return prep, out


# --- training, validation, storage ------------------------------------------------------------


def ndcg_at(
    labels_: np.ndarray, scores: np.ndarray, groups: np.ndarray, k: int = NDCG_K
) -> np.ndarray:
    """nDCG@k per group (gain 2^label - 1, log2 discount; ties broken by row order), for rows
    sorted by group."""
    bounds = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])
    out = np.zeros(len(bounds) - 1)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    for g in range(len(bounds) - 1):
        a, b = bounds[g], bounds[g + 1]
        lab = labels_[a:b].astype(np.float64)
        gain = np.exp2(lab) - 1.0
        order = np.argsort(-scores[a:b], kind="stable")[:k]
        ideal = np.sort(gain)[::-1][:k]
        idcg = float(ideal @ disc[: len(ideal)])
        out[g] = float(gain[order] @ disc[: len(order)]) / idcg if idcg > 0 else 0.0
    return out


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    if len(x) == 0:
        return 0.0, 0.0
    se = float(np.std(x, ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0
    return float(np.mean(x)), se


def validate(model_predict, val: Any, p: RecParams) -> dict[str, float]:  # noqa: ANN001
    """nDCG@10 on the validation users' candidates: the model and the formulas (design, hybrid)
    on the same rows, and the paired difference model minus the fallback formula."""
    x, y, g = val
    nf = len(ranking.FEATURES)
    out: dict[str, float] = {
        "validation_users": float(len(np.unique(g))),
        "validation_rows": float(len(y)),
    }
    if len(y) == 0:
        return out
    per = {"model": ndcg_at(y, model_predict(x), g)}
    for name in ("design", "hybrid"):
        w = np.asarray(ranking.design_weights(p, name), np.float64)
        per[name] = ndcg_at(y, x[:, :nf].astype(np.float64) @ w, g)
    for name, v in per.items():
        out[f"ndcg_{name}"], out[f"ndcg_{name}_se"] = _mean_se(v)
    out["ndcg_diff"], out["ndcg_diff_se"] = _mean_se(per["model"] - per[p.ranker_fallback])
    return out


def _collect(df: DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, user ids) of labelled rows, sorted by user."""
    pdf = (
        df.select("user_id", "video_id", "label", "features")
        .orderBy("user_id", "video_id")
        .toPandas()
    )
    if len(pdf) == 0:
        return np.zeros((0, len(LEARNED_FEATURES)), np.float32), np.zeros(0), np.zeros(0, np.int64)
    x = np.stack(pdf["features"].to_numpy()).astype(np.float32)
    return x, pdf["label"].to_numpy(np.float64), pdf["user_id"].to_numpy(np.int64)


def xgb_params(p: RecParams) -> dict[str, Any]:
    """The XGBoost parameters (the Spark estimator's and ``xgboost.train``'s names agree)."""
    return {
        "objective": p.ranker_objective,
        "max_depth": p.ranker_max_depth,
        "learning_rate": p.ranker_learning_rate,
        "eval_metric": f"ndcg@{NDCG_K}",
        "tree_method": "hist",
        "seed": p.seed,
    }


def spark_ranker(p: RecParams):  # noqa: ANN201
    """The ``SparkXGBRanker`` estimator over training rows (qid = user)."""
    from xgboost.spark import SparkXGBRanker

    params = xgb_params(p)
    return SparkXGBRanker(
        features_col="features",
        label_col="label",
        qid_col="user_id",
        base_margin_col="base_margin",
        num_workers=p.ranker_workers,
        n_estimators=p.ranker_rounds,
        objective=params["objective"],
        max_depth=params["max_depth"],
        learning_rate=params["learning_rate"],
        eval_metric=params["eval_metric"],
        tree_method=params["tree_method"],
        random_state=p.seed,
    )


@dataclass
class TrainResult:
    """What ``fit`` produced: ``model`` None when nothing was trained (``status`` skipped) or
    the fitted estimator model (``spark_model``) with its metrics; ``status`` accepted or
    rejected (worse than the fallback formula on the validation users)."""

    status: str
    reason: str | None
    data: TrainingData
    model: Model | None = None
    spark_model: Any = None
    counts: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def fit(data: TrainingData, p: RecParams, ds: dt.date) -> TrainResult:
    """Train on the non-validation users with SparkXGBRanker and validate on the others, unless
    there is too little history (``rec_ranker_min_users`` labelled users, or fewer positives
    than ``rec_ranker_min_positives_per_feature`` x features): then status ``skipped``."""
    if data.rows is None:
        return TrainResult("skipped", data.reason, data)
    rows = data.rows.cache()
    c = rows.agg(
        F.countDistinct("user_id").alias("users"),
        F.count(F.lit(1)).alias("rows"),
        F.sum((F.col("label") > 0).cast("long")).alias("positives"),
        F.countDistinct(F.when(F.col("validation"), F.col("user_id"))).alias("validation_users"),
    ).first()
    counts = {k: int(c[k] or 0) for k in ("users", "rows", "positives", "validation_users")}
    min_pos = math.ceil(p.ranker_min_positives_per_feature * len(LEARNED_FEATURES))
    reason = None
    if counts["users"] < p.ranker_min_users:
        reason = f"{counts['users']} labelled users < rec_ranker_min_users {p.ranker_min_users}"
    elif counts["positives"] < min_pos:
        reason = (
            f"{counts['positives']} positive candidates < {min_pos} "
            f"({p.ranker_min_positives_per_feature:g} per feature)"
        )
    elif counts["validation_users"] == 0 or counts["validation_users"] == counts["users"]:
        reason = "no users on one side of the validation split"
    if reason:
        rows.unpersist()
        logger.warning("learned ranker for %s not trained: %s", ds, reason)
        return TrainResult("skipped", reason, data, counts=counts)
    train = rows.where(~F.col("validation")).select("user_id", "label", "features", "base_margin")
    spark_model = spark_ranker(p).fit(train)
    raw = bytes(spark_model.get_booster().save_raw("json"))
    model = Model(model_id_for(ds, data, p, raw), raw, data.vocab, base_weights(p))
    metrics = validate(model.predict, _collect(rows.where(F.col("validation"))), p)
    rows.unpersist()
    accepted = metrics.get("ndcg_diff", -1.0) >= 0.0
    status = "accepted" if accepted else "rejected"
    reason = (
        None
        if accepted
        else (
            f"validation nDCG@{NDCG_K} {metrics.get('ndcg_model', 0):.4f} below the "
            f"{p.ranker_fallback} formula's {metrics.get(f'ndcg_{p.ranker_fallback}', 0):.4f}"
        )
    )
    logger.info("learned ranker %s: %s %s", model.model_id, status, json.dumps(metrics))
    return TrainResult(status, reason, data, model, spark_model, counts, metrics)


def model_id_for(ds: dt.date, data: TrainingData, p: RecParams, raw: bytes) -> str:
    blob = (
        json.dumps(
            {"ds": ds.isoformat(), "as_of": data.as_of.isoformat(), "params": p.as_dict()},
            sort_keys=True,
            default=str,
        ).encode()
        + raw
    )
    return f"{ds:%Y%m%d}-{hashlib.sha1(blob).hexdigest()[:10]}"


def model_path(settings, model_id: str) -> str:  # noqa: ANN001
    """``<lake>/models/ranker/<model_id>``: the estimator model's folder."""
    return settings.lake_path("models", KIND, model_id)


def save(result: TrainResult, path: str) -> None:
    result.spark_model.write().overwrite().save(path)


def load(
    path: str, model_id: str, vocab: dict[str, list[str]], base: tuple[float, ...] = ()
) -> Model:
    """The model saved at ``path`` (estimator format) as a ``Model``."""
    from xgboost.spark import SparkXGBRankerModel

    raw = bytes(SparkXGBRankerModel.load(path).get_booster().save_raw("json"))
    return Model(model_id, raw, vocab, tuple(base))


def models_row(
    result: TrainResult, ds: dt.date, p: RecParams, inputs: dict[str, int], path: str | None
) -> tuple:
    """The gold.models row (declared column order)."""
    d = result.data
    return (
        result.model.model_id if result.model else f"{ds:%Y%m%d}-none",
        ds,
        KIND,
        result.status,
        result.reason,
        d.as_of,
        d.label_from,
        d.label_to,
        list(LEARNED_FEATURES),
        int(result.counts.get("users", d.labelled_users)),
        int(result.counts.get("rows", 0)),
        int(result.counts.get("positives", 0)),
        json.dumps(result.metrics, sort_keys=True),
        json.dumps(inputs, sort_keys=True),
        json.dumps(
            {
                "xgboost": xgb_params(p),
                "rounds": p.ranker_rounds,
                "workers": p.ranker_workers,
                "vocab": d.vocab,
                "base": p.ranker_base,
                "base_weights": list(base_weights(p)),
                "negatives": p.ranker_negatives,
                "sample_users": p.ranker_sample_users,
                "label_completion": p.ranker_label_completion,
            },
            sort_keys=True,
        ),
        path,
        dt.datetime.now(dt.UTC).replace(tzinfo=None),
    )


def latest_model(models: DataFrame, ds: dt.date) -> tuple[Model | None, str]:
    """The newest accepted ranker of a ds at or before ``ds`` whose features are today's, loaded
    from its path; (None, why) when there is none."""
    rows = (
        models.where((F.col("kind") == KIND) & (F.col("ds") <= F.lit(ds)))
        .orderBy(F.col("ds").desc(), F.col("created_at").desc())
        .collect()
    )
    if not rows:
        return None, f"no ranker trained as of {ds}"
    for r in rows:
        if r["status"] != "accepted" or not r["path"]:
            continue
        if tuple(r["features"]) != LEARNED_FEATURES:
            return None, f"model {r['model_id']} has another feature set"
        params = json.loads(r["params"])
        model = load(
            r["path"], r["model_id"], params.get("vocab", {}), params.get("base_weights", ())
        )
        return model, f"model {r['model_id']} of {r['ds']}"
    latest = rows[0]
    return None, f"no accepted ranker as of {ds} (latest {latest['ds']}: {latest['status']}" + (
        f", {latest['reason']})" if latest["reason"] else ")"
    )


def train_ranker(
    source,  # noqa: ANN001
    ds: dt.date,
    p: RecParams,
    *,
    labels_from: str = "time",
    fraction: float = RANDOM_LABEL_SHARE,
) -> Model | None:
    """Train a ranker on ``source`` (a ``pipeline.Silver`` -- e.g. an evaluation's training
    split -- or a ``pipeline.Prepared``, whose silver frames are used) for ``ds``, all in
    memory: the engine's stages as of T' = ds - horizon, labels from (T', ds]; or, with
    ``labels_from="random"`` (``train_random``), as of ds with labels from a random slice.
    Returns the model, or None when there is too little history or the model does worse than
    the fallback formula on its validation users (the fallback formula ranks then)."""
    if labels_from == "random":
        res = train_random(source, ds, p, fraction=fraction)
    elif labels_from == "time":
        res = train(source, ds, p)
    else:
        raise ValueError(f"labels_from must be 'time' or 'random', got {labels_from!r}")
    return res.model if res.status == "accepted" else None


def random_label_split(watch: DataFrame, fraction: float, seed: int) -> tuple[DataFrame, DataFrame]:
    """(history, held out): each impression held out with probability ``fraction`` (a seeded
    hash of user, video and time, so a re-run draws the same slice)."""
    u = F.xxhash64(
        F.lit(int(seed)), "user_id", "video_id", F.col("event_time").cast("long")
    ).bitwiseAND(F.lit((1 << 52) - 1)) / F.lit(float(1 << 52))
    tagged = watch.withColumn("_held", u < F.lit(fraction))
    return (
        tagged.where(~F.col("_held")).drop("_held"),
        tagged.where(F.col("_held")).drop("_held"),
    )


def train_random(
    source,  # noqa: ANN001
    ds: dt.date,
    p: RecParams,
    *,
    fraction: float = RANDOM_LABEL_SHARE,
) -> TrainResult:
    """A ranker for *missing* interactions rather than future ones: a random ``fraction`` of
    ``source``'s impressions is held out, the engine runs as of ``ds`` on the rest, and the
    held-out impressions label its candidates. ``fyp evaluate --holdout random`` trains this
    way, as its EASE baseline validates lambda on a random slice: each model is fit to the
    kind of gap it is scored on. The nightly trains on the future window (``train``)."""
    from jobs.recsys import pipeline

    silver = source
    if isinstance(source, pipeline.Prepared):
        silver = pipeline.Silver(_raw_watch(source), source.users, source.videos, source.follows)
    history, held = random_label_split(silver.watch, fraction, p.seed + 17)
    history = history.localCheckpoint(eager=True)
    held = held.localCheckpoint(eager=True)
    hist_silver = pipeline.Silver(history, silver.users, silver.videos, silver.follows)
    prep, gold = gold_as_of(hist_silver, ds, p)
    window = (ds, 0.0, as_of_epoch(ds))
    return fit(training_data(held, prep, p, gold, ds, window=window), p, ds)


def train(
    source,
    ds: dt.date,
    p: RecParams,
    gold: dict[str, DataFrame] | None = None,  # noqa: ANN001
    prep=None,
) -> TrainResult:  # noqa: ANN001
    """``train_ranker`` with the whole result; ``gold``/``prep``: the engine's frames as of T'
    when the caller has them (the job reads them from the lake)."""
    from jobs.recsys import pipeline

    silver = source
    if isinstance(source, pipeline.Prepared):
        silver = pipeline.Silver(_raw_watch(source), source.users, source.videos, source.follows)
    early = too_little_history(silver.watch, ds, p)
    if early is not None:
        return early
    as_of, _, _ = training_window(ds, p)
    if gold is None or prep is None:
        prep, gold = gold_as_of(silver, as_of, p)
    return fit(training_data(silver.watch, prep, p, gold, ds), p, ds)


def too_little_history(watch: DataFrame, ds: dt.date, p: RecParams) -> TrainResult | None:
    """A ``skipped`` result when fewer than ``rec_ranker_min_users`` users have a positive label
    in (T', ds] and the ranker's history as of T' (one aggregation, before any engine stage
    runs); None when there may be enough."""
    from jobs.recsys.features import events_as_of

    as_of, start, end = training_window(ds, p)
    n_eng = events_as_of(watch, as_of).groupBy("user_id").agg(F.count(F.lit(1)).alias("n"))
    n = (
        labels(watch, start, end, p.ranker_label_completion)
        .where(F.col("label") > 0)
        .select("user_id")
        .distinct()
        .join(n_eng.where(F.col("n") >= p.cold_start_min), "user_id", "left_semi")
        .count()
    )
    if n >= p.ranker_min_users:
        return None
    win = (_utc(start), _utc(end))
    reason = f"{n} labelled users < rec_ranker_min_users {p.ranker_min_users}"
    logger.warning("learned ranker for %s not trained: %s", ds, reason)
    data = TrainingData(None, {}, as_of, *win, n, reason)
    return TrainResult("skipped", reason, data, counts={"users": n})


def _raw_watch(prep) -> DataFrame:  # noqa: ANN001
    """The silver.watch_history columns the engine reads, back from prepared events (its
    ``completion`` is the clipped completion_rate)."""
    return prep.events.select(
        "user_id",
        "video_id",
        "creator_id",
        "event_time",
        "liked",
        "shared",
        "commented",
        "skipped",
        F.col("completion").alias("completion_rate"),
        F.to_date("event_time").alias("event_date"),
    )
