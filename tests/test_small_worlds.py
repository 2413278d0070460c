"""The engine on the smallest worlds: an empty lake, one user, a handful of users, only skips,
and an as-of date years after the last event (issue 12 item 7, issue 18 item 3).

The embeddings stage is tested on in-memory silver frames; the nightly chain (features ->
embeddings -> exploration -> candidates -> rank, the jobs the DAG submits) on a real Delta lake
of its own. Every world is a few rows, so each test takes seconds, not minutes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from lakehelpers import lake_settings
from pyspark.sql import functions as F
from pyspark.sql.types import StructType
from pyspark.testing import assertDataFrameEqual

from fyplake import catalog, delta_io
from jobs.recsys import pipeline
from jobs.recsys.params import COLD_EXPLORE, COLD_POPULAR, RecParams
from orchestration.inprocess import run_tasks
from orchestration.tasks import NIGHTLY_TASKS, through

DS = dt.date(2026, 11, 10)
T0 = dt.datetime(2026, 11, 1, 8)  # users and videos exist from here
DIM = 128


def user(uid: int, age: str = "18-24", country: str = "US") -> tuple:
    return (uid, age, country, "en", False, T0, T0)


def video(vid: int, creator: int, tags: list[str], sound: int | None = None) -> tuple:
    return (
        vid,
        creator,
        15_000,
        f"clip {vid} about {' '.join(tags)}",
        None,
        tags,
        sound,
        "en",
        "ready",
        T0,
        T0,
    )


def watch(
    eid: int,
    uid: int,
    vid: int,
    when: dt.datetime,
    completion: float = 1.0,
    liked: bool = False,
    skipped: bool = False,
) -> tuple:
    """One silver impression (``silver`` fills its creator id from the video, as silver does)."""
    ms = int(15_000 * completion)
    return (
        f"e{eid}",
        uid,
        vid,
        None,
        ms,
        15_000,
        completion,
        liked,
        False,
        False,
        skipped,
        when,
        when.date(),
    )


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour)


def silver(spark, users=(), videos=(), events=(), follows=()) -> pipeline.Silver:
    def frame(spec, rows):
        return spark.createDataFrame(list(rows), StructType.fromDDL(spec.schema))

    vids = frame(catalog.SILVER_VIDEOS, videos)
    events = frame(catalog.SILVER_WATCH_HISTORY, events)
    creators = vids.select("video_id", F.col("creator_id").alias("_c"))
    events = events.join(creators, "video_id", "left").withColumn("creator_id", F.col("_c"))
    return pipeline.Silver(
        watch=events.select(*catalog.SILVER_WATCH_HISTORY.columns),
        users=frame(catalog.SILVER_USERS, users),
        videos=vids,
        follows=frame(catalog.SILVER_FOLLOWS, follows),
    )


def embed(spark, world: pipeline.Silver, ds: dt.date = DS) -> dict:
    """The embeddings stage on ``world`` as of ``ds``: {table: rows sorted by key}."""
    p = RecParams()
    out = pipeline.stage_embeddings(pipeline.prepare(world, ds, p), p)
    return {
        "videos": out["video_embeddings"].select("video_id", "embedding", "cf_weight"),
        "users": out["user_embeddings"].select("user_id", "embedding", "engagements"),
        "neighbours": out["video_neighbours"].drop("ds"),
    }


def unit_norms(rows, col: str = "embedding") -> list[float]:
    return [round(float(np.linalg.norm(np.asarray(r[col], np.float64))), 4) for r in rows]


# --- a handful of users: the shape of a first day -------------------------------------------

#: 5 users, 8 videos of 3 creators. Users 1-3 engage, user 4 only skips, user 5 has no events.
HANDFUL_VIDEOS = [
    video(10, 100, ["cats"], 7),
    video(11, 100, ["cats"], 7),
    video(12, 100, ["cats", "fun"]),
    video(13, 200, ["cars"], 8),
    video(14, 200, ["cars"], 8),
    video(15, 200, ["cars", "fun"]),
    video(16, 300, ["food"]),
    video(17, 300, ["food", "fun"]),
]
HANDFUL_USERS = [user(1), user(2), user(3, "25-34", "DE"), user(4), user(5, "35-44", "BR")]
HANDFUL_EVENTS = [
    watch(1, 1, 10, at(DS, 9)),
    watch(2, 1, 11, at(DS, 10), liked=True),
    watch(3, 1, 13, at(DS, 11), completion=0.1, skipped=True),
    watch(4, 2, 10, at(DS, 9), completion=0.8),
    watch(5, 2, 12, at(DS, 12)),
    watch(6, 3, 13, at(DS, 9)),
    watch(7, 3, 14, at(DS, 13), liked=True),
    watch(8, 4, 16, at(DS, 9), completion=0.05, skipped=True),
    watch(9, 4, 17, at(DS, 10), completion=0.0, skipped=True),
]


def test_embeddings_on_a_handful_of_users(spark):
    """Fewer rated videos than ALS factors and a user who only skipped: ALS used to die with
    SingularMatrixException here. Every video still gets a unit 128-d vector, every user with
    impressions a vector, and videos watched together sit closer than unrelated ones."""
    got = embed(spark, silver(spark, HANDFUL_USERS, HANDFUL_VIDEOS, HANDFUL_EVENTS))
    videos = got["videos"].orderBy("video_id").collect()
    assert [r["video_id"] for r in videos] == [10, 11, 12, 13, 14, 15, 16, 17]
    assert all(len(r["embedding"]) == DIM for r in videos)
    assert unit_norms(videos) == [1.0] * 8
    users = got["users"].orderBy("user_id").collect()
    assert [(r["user_id"], r["engagements"]) for r in users] == [(1, 3), (2, 2), (3, 2), (4, 2)]
    assert unit_norms(users) == [1.0] * 4
    emb = {r["video_id"]: np.asarray(r["embedding"]) for r in videos}
    # 10 and 11: same creator, tag and sound, both watched by user 1; 16: another creator/topic
    assert emb[10] @ emb[11] > emb[10] @ emb[16]


def test_embeddings_with_no_events_are_content_vectors(spark):
    """A lake with videos and users but no impressions yet (day one before anyone watched):
    no ALS to fit. Videos get their content vector (cf_weight 0), no user has a vector."""
    got = embed(spark, silver(spark, HANDFUL_USERS, HANDFUL_VIDEOS, events=()))
    videos = got["videos"].orderBy("video_id").collect()
    assert [r["video_id"] for r in videos] == [10, 11, 12, 13, 14, 15, 16, 17]
    assert unit_norms(videos) == [1.0] * 8
    assert {r["cf_weight"] for r in videos} == {0.0}
    emb = {r["video_id"]: np.asarray(r["embedding"]) for r in videos}
    assert emb[13] @ emb[14] > emb[13] @ emb[10]  # shared creator, tag and sound
    assert got["users"].count() == 0 and got["neighbours"].count() == 0


def test_embeddings_of_an_empty_lake(spark):
    got = embed(spark, silver(spark))
    assert [got[k].count() for k in ("videos", "users", "neighbours")] == [0, 0, 0]


def test_embeddings_when_every_impression_is_a_skip(spark):
    """Only negative ratings: nothing for implicit ALS to prefer (it used to be singular).
    Videos fall back to content vectors; users still get a (negative-weighted) vector."""
    events = [
        watch(i, 1 + i % 3, 10 + i % 8, at(DS, 9 + i % 10), completion=0.05, skipped=True)
        for i in range(12)
    ]
    got = embed(spark, silver(spark, HANDFUL_USERS, HANDFUL_VIDEOS, events))
    videos = got["videos"].collect()
    assert len(videos) == 8 and unit_norms(videos) == [1.0] * 8
    assert {r["cf_weight"] for r in videos} == {0.0}
    assert sorted(r["user_id"] for r in got["users"].collect()) == [1, 2, 3]


def test_one_user_is_not_factorised(spark):
    """One user who liked three videos: a one-row factorisation makes every video a multiple of
    that user's factor (all alike), so ALS is not fitted and the vectors are content vectors."""
    vids = [video(10, 100, ["cats"]), video(11, 200, ["cars"]), video(12, 300, ["food"])]
    events = [watch(v, 1, v, at(DS, 9 + v - 10), liked=True) for v in (10, 11, 12)]
    got = embed(spark, silver(spark, [user(1)], vids, events))
    videos = got["videos"].orderBy("video_id").collect()
    assert [r["video_id"] for r in videos] == [10, 11, 12] and unit_norms(videos) == [1.0] * 3
    assert {r["cf_weight"] for r in videos} == {0.0}
    emb = [np.asarray(r["embedding"]) for r in videos]
    assert max(emb[0] @ emb[1], emb[0] @ emb[2], emb[1] @ emb[2]) < 0.5  # not all alike
    assert [(r["user_id"], r["engagements"]) for r in got["users"].collect()] == [(1, 3)]


#: Enough users and videos with positives for ALS to run (the far as-of test needs it to).
ALS_USERS = [user(u) for u in range(1, 9)]
ALS_VIDEOS = [video(10 + v, 100 + v % 3, [["cats"], ["cars"], ["food"]][v % 3]) for v in range(9)]
ALS_EVENTS = [
    watch(
        100 * u + v,
        u,
        10 + v,
        at(DS - dt.timedelta(days=v % 4), 8 + u),
        completion=0.3 + 0.07 * ((u + v) % 10),
        liked=(u * v) % 5 == 0,
    )
    for u in range(1, 9)
    for v in range(9)
    if (u + v) % 3 != 0
]


def test_an_as_of_date_years_after_the_data_gives_the_same_embeddings(spark):
    """Engagement decays from the latest impression, not from the as-of date: 30 years later
    the 14-day half-life no longer underflows every weight to zero (ALS used to die with
    SingularMatrixException), and nothing happened in between, so the vectors are the same."""
    world = silver(spark, ALS_USERS, ALS_VIDEOS, ALS_EVENTS)
    near = embed(spark, world, DS)
    far = embed(spark, world, DS + dt.timedelta(days=365 * 30))
    assert max(r["cf_weight"] for r in near["videos"].collect()) > 0  # ALS did run
    for key in ("videos", "users", "neighbours"):
        assertDataFrameEqual(far[key], near[key], rtol=1e-5)


def test_decay_is_relative_to_the_latest_impression(spark):
    """The weights of a far as-of date equal the weights as of the last active day."""
    world = silver(spark, ALS_USERS, ALS_VIDEOS, ALS_EVENTS)
    p = RecParams()
    cols = ["user_id", "video_id", "event_time", "decay", "weight"]
    near = pipeline.prepare(world, DS, p, cache=False).events.select(*cols)
    far = pipeline.prepare(world, dt.date(2061, 1, 1), p, cache=False).events.select(*cols)
    assert near.where(F.col("weight") > 0).count() == far.where(F.col("weight") > 0).count() > 0
    assertDataFrameEqual(far, near, rtol=1e-9)


# --- the nightly chain on a real lake -------------------------------------------------------


def write_silver(spark, settings, world: pipeline.Silver) -> None:
    for spec, df in (
        (catalog.SILVER_WATCH_HISTORY, world.watch),
        (catalog.SILVER_USERS, world.users),
        (catalog.SILVER_VIDEOS, world.videos),
        (catalog.SILVER_FOLLOWS, world.follows),
    ):
        df.write.format("delta").mode("overwrite").save(spec.path(settings))


def gold_of(spark, settings, spec, ds: dt.date = DS):
    return delta_io.read_table(spark, spec, settings=settings).where(F.col("ds") == F.lit(ds))


def nightly_feeds(spark, settings, ds: dt.date = DS):
    run_tasks(through(NIGHTLY_TASKS, "ranking"), ds, spark=spark, settings=settings, gates=False)
    return gold_of(spark, settings, catalog.GOLD_FEEDS, ds).select(
        "user_id", "rank", "video_id", "source"
    )


def test_nightly_on_an_empty_lake(spark, tmp_path):
    """No silver table at all: every job runs, writes its (empty) ds partition and a run."""
    settings = lake_settings(tmp_path)
    feeds = nightly_feeds(spark, settings)
    assert feeds.count() == 0
    for name in ("video_embeddings", "user_embeddings", "candidates", "feeds"):
        assert delta_io.table_exists(spark, catalog.table(f"gold.{name}"), settings), name
    runs = delta_io.read_table(spark, catalog.GOLD_RUNS, settings=settings)
    engine = [t.job for t in through(NIGHTLY_TASKS, "ranking")]
    assert sorted(r["job"] for r in runs.collect()) == sorted(engine)


def test_nightly_first_day_of_a_handful_of_users_gives_cold_start_feeds(spark, tmp_path):
    """The first day of a new platform: five users (one never watched anything, one only
    skipped), eight videos. Every user gets a feed of unwatched ready videos, led by the
    cold-start lists (none of them is past the design's ``cold_start_min`` of 10)."""
    settings = lake_settings(tmp_path, rec_cold_start_min=10, rec_cold_start_full=20)
    write_silver(spark, settings, silver(spark, HANDFUL_USERS, HANDFUL_VIDEOS, HANDFUL_EVENTS))
    rows = nightly_feeds(spark, settings).collect()
    feeds: dict[int, list] = {}
    for r in sorted(rows, key=lambda r: (r["user_id"], r["rank"])):
        feeds.setdefault(r["user_id"], []).append(r)
    assert sorted(feeds) == [1, 2, 3, 4, 5]
    watched = {}
    for e in HANDFUL_EVENTS:
        watched.setdefault(e[1], set()).add(e[2])
    for uid, feed in feeds.items():
        ids = [r["video_id"] for r in feed]
        assert [r["rank"] for r in feed] == list(range(1, len(feed) + 1))
        assert len(ids) == len(set(ids)) and not set(ids) & watched.get(uid, set())
        assert set(ids) == set(range(10, 18)) - watched.get(uid, set())  # the whole rest
        assert feed[0]["source"] in (COLD_POPULAR, COLD_EXPLORE)


def test_the_hourly_features_run_reuses_the_cold_start_prior_of_the_day_before(spark, tmp_path):
    """``cold_prior=reuse`` (the hourly DAG's features task) takes the prior the latest earlier
    day's features run recorded in gold.runs instead of validating again; with none recorded it
    validates, as the nightly always does."""
    from jobs.jobrun import record_run
    from jobs.nightly import features

    settings = lake_settings(tmp_path)
    write_silver(spark, settings, silver(spark, HANDFUL_USERS, HANDFUL_VIDEOS, HANDFUL_EVENTS))
    alone = features.run(spark, settings, DS, cold_prior="reuse")
    assert alone["cold_prior_source"] == "prior" and "cold_prior_note" in alone  # validated:
    # too few users here, so the fallback

    before = DS - dt.timedelta(days=1)
    choice = {"cold_prior": 500.0, "cold_prior_source": "validated", "cold_prior_users": 40}
    now = dt.datetime.now(dt.UTC)
    record_run(
        spark,
        settings,
        ds=before,
        job="features",
        run_id="r0",
        started_at=now,
        inputs={},
        outputs={},
        params=choice,
    )
    hourly = features.run(spark, settings, DS, cold_prior="reuse")
    assert (hourly["cold_prior"], hourly["cold_prior_source"]) == (500.0, "reused")
    assert hourly["cold_prior_from"] == f"features {before} (r0)"
    runs = delta_io.read_table(spark, catalog.GOLD_RUNS, settings=settings)
    row = runs.where((F.col("ds") == F.lit(DS)) & (F.col("job") == "features")).first()
    assert '"cold_prior_source": "reused"' in row["params"]  # the next day may reuse it too

    nightly = features.run(spark, settings, DS)
    assert nightly["cold_prior_source"] == "prior" and "cold_prior_note" in nightly  # its own
    with pytest.raises(ValueError, match="cold_prior must be one of"):
        features.run(spark, settings, DS, cold_prior="always")


def test_nightly_years_after_the_data(spark, tmp_path):
    """A whole nightly for an as-of date decades after the last event (``fyp job`` defaults
    to yesterday on an imported 1990s log): feeds for every user, none containing a watch."""
    settings = lake_settings(tmp_path)
    write_silver(spark, settings, silver(spark, ALS_USERS, ALS_VIDEOS, ALS_EVENTS))
    rows = nightly_feeds(spark, settings, DS + dt.timedelta(days=365 * 30)).collect()
    watched = {(e[1], e[2]) for e in ALS_EVENTS}
    assert sorted({r["user_id"] for r in rows}) == list(range(1, 9))
    assert not {(r["user_id"], r["video_id"]) for r in rows} & watched


def test_publishing_the_empty_first_day_of_a_new_platform(spark, stack, tmp_path):
    """No users yet, so the nightly ranked nothing: publishing has nothing to do and says so
    (it used to fail the DAG run). Once a feed is served, an empty day is refused instead."""
    import redis

    from fyplake import keys
    from jobs.publish import feeds as publish_feeds

    url = stack.valkey.rstrip("/").rsplit("/", 1)[0] + "/11"  # a Valkey db of its own
    settings = lake_settings(tmp_path, valkey_url=url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        delta_io.ensure_table(spark, catalog.GOLD_FEEDS, settings)
        out = publish_feeds.run(spark, settings, DS, sync_ready="false", datasets="feed")
        assert out["feed"] == {"published": False, "reason": "no feed rows, no earlier feed"}
        assert client.get(keys.current(keys.FEED)) is None
        client.set(keys.current(keys.FEED), "3")  # a feed version is being served
        with pytest.raises(ValueError, match="version 3 keeps serving"):
            publish_feeds.run(spark, settings, DS, sync_ready="false", datasets="feed")
    finally:
        client.flushdb()
        client.close()


def test_a_job_result_is_strict_json(spark):
    """A job's result is its task's XCom, which Airflow sends as strict JSON. On a small world
    the evaluation's standard error of a one-user bucket is NaN, and the nightly's evaluation
    task died with "Out of range float values are not JSON compliant" on every try."""
    import json

    from jobs._entry import run_job

    def run(spark, settings, ds):
        return {
            "metrics": [
                {"metric": "ndcg_warm_se", "value": float("nan")},
                {"metric": "ndcg", "value": 0.25},
            ],
            "notes": {"best": float("inf"), "bounds": (float("-inf"), 1.0)},
        }

    result = run_job("stub", run, DS, spark=spark)
    result.pop("seconds")
    assert json.loads(json.dumps(result, allow_nan=False)) == {
        "job": "stub",
        "ds": "2026-11-10",
        "metrics": [{"metric": "ndcg_warm_se", "value": None}, {"metric": "ndcg", "value": 0.25}],
        "notes": {"best": None, "bounds": [None, 1.0]},
    }


# --- the rank job's fused pass against the materialised candidates ---------------------------

TASTES = ["cats", "cars", "food", "dance", "music", "travel"]


def mixed_world(spark, seed: int = 7) -> pipeline.Silver:
    """36 users from no history to 30 impressions (cold, blending and warm users), 60 videos
    of 8 creators over six hashtags and five sounds, follows, three days of taste-driven
    watches, likes and skips before ``DS``."""
    rng = np.random.default_rng(seed)
    videos = [
        video(v, 900 + v % 8, [TASTES[v % 6], TASTES[(v // 6) % 6]], 70 + v % 5 if v % 2 else None)
        for v in range(200, 260)
    ]
    users = [user(u, ["18-24", "25-34", "35-44"][u % 3], ["US", "DE"][u % 2]) for u in range(1, 37)]
    events, eid = [], 0
    for uid in range(1, 37):
        taste = TASTES[uid % 6]
        for _ in range([0, 2, 4, 9, 16, 30][uid % 6]):
            vid = int(rng.integers(200, 260))
            fit = taste in videos[vid - 200][5]
            day = DS - dt.timedelta(days=int(rng.integers(1, 4)))
            eid += 1
            events.append(
                watch(
                    eid,
                    uid,
                    vid,
                    at(day, int(rng.integers(0, 24))),
                    completion=float(rng.uniform(0.6, 1.0) if fit else rng.uniform(0.0, 0.4)),
                    liked=fit and rng.random() < 0.4,
                    skipped=not fit and rng.random() < 0.5,
                )
            )
    follows = [(u, 900 + u % 8, T0) for u in range(1, 37) if u % 3 == 0]
    return silver(spark, users, videos, events, follows)


def test_the_rank_jobs_fused_pass_ranks_what_gold_candidates_holds(spark, tmp_path):
    """The rank job generates and ranks candidates in one pass per batch of users (issue 16:
    no user x candidate table at scale). Its feeds are the ones the materialised candidates
    (gold.candidates of every user) give when ranked, row for row; and they do not depend on
    how many users gold.candidates keeps (re-running candidates + ranking with a sample of 5
    users leaves every feed as it was)."""
    settings = lake_settings(
        tmp_path,
        rec_cold_start_min=3,
        rec_cold_start_full=10,
        rec_candidates_sample_users=-1,
        rec_weight_popularity=1.0,  # set: no blend validation (tests/test_recsys_blend.py)
        rec_weight_cowatch=3.0,
    )
    write_silver(spark, settings, mixed_world(spark))
    cols = ["user_id", "rank", "video_id", "source", "score", "raw_score", "ranked_by"]
    nightly_feeds(spark, settings)
    feeds = gold_of(spark, settings, catalog.GOLD_FEEDS).select(*cols)
    published = spark.createDataFrame(feeds.collect(), feeds.schema)  # before the re-run
    assert published.select("user_id").distinct().count() == 36

    from jobs.jobrun import Reads
    from jobs.recsys.lakeio import read_silver

    reads, p = Reads(spark, settings), RecParams.from_settings(settings)
    gold = lambda spec: reads.gold(spec, DS)  # noqa: E731
    cands = gold(catalog.GOLD_CANDIDATES)
    assert cands.select("user_id").distinct().count() == 36  # (no history: trending ones)
    ranked = pipeline.rank_candidates(
        pipeline.prepare(read_silver(reads), DS, p),
        p,
        video_features=gold(catalog.GOLD_VIDEO_FEATURES),
        video_emb=gold(catalog.GOLD_VIDEO_EMBEDDINGS),
        user_emb=gold(catalog.GOLD_USER_EMBEDDINGS),
        coldstart_pools=gold(catalog.GOLD_COLDSTART_POOLS),
        candidates_df=cands,
        neighbours=gold(catalog.GOLD_VIDEO_NEIGHBOURS),
    )
    assertDataFrameEqual(ranked.select(*cols), published)

    sampled = settings.model_copy(update={"rec_candidates_sample_users": 5})
    tasks = tuple(t for t in NIGHTLY_TASKS if t.task_id in ("candidates", "ranking"))
    run_tasks(tasks, DS, spark=spark, settings=sampled, gates=False)
    kept = gold_of(spark, sampled, catalog.GOLD_CANDIDATES)
    assert kept.select("user_id").distinct().count() == 5
    assertDataFrameEqual(gold_of(spark, sampled, catalog.GOLD_FEEDS).select(*cols), published)
