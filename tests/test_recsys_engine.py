"""The whole engine on a small generated world, through the real lake path:
generator -> landing -> ingest/silver (lake pipeline) -> recommendation jobs -> gold.feeds."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from fyplake import catalog, delta_io


@pytest.fixture(scope="module")
def world(spark, settings, tmp_path_factory):
    from fyplake.synth import generate_world
    from jobs.lake.pipeline import landing_dates, run_lake_pipeline

    lake = tmp_path_factory.mktemp("recsys-world") / "lake"
    summary = generate_world(
        users=160, videos=140, days=3, seed=11, lake_root=lake, events_per_user_day=12.0
    )
    s = settings.model_copy(update={"lake": str(lake), "quality_dir": str(lake.parent / "q")})
    for day in landing_dates(s):
        run_lake_pipeline(spark, s, day, gates=False)
    return s, dt.date.fromisoformat(summary.end_date)


@pytest.mark.slow
def test_every_user_gets_a_feed_and_new_videos_reach_feeds(spark, world):
    from jobs.recsys.pipeline import run_nightly

    s, ds = world
    results = run_nightly(spark, s, ds)
    rank = results["rank"]
    assert rank["inputs"]["gold.candidates"] >= 0 and rank["outputs"]["gold.feeds"] >= 0

    feeds = delta_io.read_table(spark, catalog.GOLD_FEEDS, settings=s).where(F.col("ds") == ds)
    users = delta_io.read_table(spark, catalog.SILVER_USERS, settings=s)
    known = users.where(F.col("signup_time") < F.lit(dt.datetime.combine(ds + dt.timedelta(days=1), dt.time())))
    history = delta_io.read_table(spark, catalog.SILVER_WATCH_HISTORY, settings=s)
    per_user = feeds.groupBy("user_id").agg(F.count(F.lit(1)).alias("n"), F.max("rank").alias("mx"))
    # a feed for every user, new users (no history at all) included, ranks 1..n without gaps
    missing = known.join(per_user, "user_id", "left_anti").count()
    assert missing == 0
    assert per_user.where((F.col("n") < 20) | (F.col("n") != F.col("mx"))).count() == 0
    never_watched = known.join(history, "user_id", "left_anti").select("user_id")
    assert never_watched.count() > 0
    cold_sources = {r[0] for r in feeds.join(never_watched, "user_id").select("source").distinct().collect()}
    assert cold_sources <= {"coldstart_popular", "coldstart_diverse", "exploration"}
    # no duplicates, nothing already watched, only ready videos
    assert feeds.groupBy("user_id", "video_id").count().where("count > 1").count() == 0
    assert feeds.join(history.select("user_id", "video_id"), ["user_id", "video_id"]).count() == 0
    videos = delta_io.read_table(spark, catalog.SILVER_VIDEOS, settings=s)
    assert feeds.join(videos.where("status != 'ready'"), "video_id").count() == 0
    # new videos reach feeds through the exploration pool
    pool = delta_io.read_table(spark, catalog.GOLD_EXPLORATION_POOL, settings=s).where(F.col("ds") == ds)
    new_in_feeds = feeds.where(F.col("source") == "exploration").join(pool, "video_id", "left_semi")
    assert new_in_feeds.select("video_id").distinct().count() > 0
    # embeddings are 128-d
    vemb = delta_io.read_table(spark, catalog.GOLD_VIDEO_EMBEDDINGS, settings=s).where(F.col("ds") == ds)
    assert {r[0] for r in vemb.select(F.size("embedding")).distinct().collect()} == {128}

    # re-running the ranking for the same ds: the same run id and rows, no duplicates
    from jobs import rank as rank_job

    before = {tuple(r) for r in feeds.select("user_id", "rank", "video_id", "source").collect()}
    again = rank_job.run(spark, s, ds)
    assert again["run_id"] == rank["run_id"]
    feeds2 = delta_io.read_table(spark, catalog.GOLD_FEEDS, settings=s).where(F.col("ds") == ds)
    assert {tuple(r) for r in feeds2.select("user_id", "rank", "video_id", "source").collect()} == before
    runs = delta_io.read_table(spark, catalog.GOLD_RUNS, settings=s).where(F.col("ds") == ds)
    assert {r["job"] for r in runs.collect()} >= {"features", "embeddings", "exploration", "candidates", "rank"}
