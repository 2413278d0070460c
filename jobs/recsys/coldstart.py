"""Cold start for new users: demographic popular pools and the diverse exploration list.

A segment is (age_band, country, language). Its popularity estimate is shrunk towards its
language's, which is shrunk towards the global one (hierarchical smoothing with ``prior`` pseudo
engagements), so a segment with five users still gets a sensible, language-aware list:

    p_global(v)  = x_global(v) / X_global
    p_lang(v)    = (x_lang(v) + prior * p_global(v)) / (X_lang + prior)
    p_segment(v) = (x_segment(v) + prior * p_lang(v)) / (X_segment + prior)

where x is the summed positive, decayed engagement weight of users in that group.
How the lists are mixed into a feed (70% popular, 30% diverse, blending towards personalised
between the two engagement thresholds) lives in ``ranking.cold_start_share``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.recsys.common import top_per_key

SEGMENT = ["age_band", "country", "language"]


def segments(users: DataFrame) -> DataFrame:
    """Distinct demographic segments of the users (null parts become 'unknown')."""
    return users.select(
        *[F.coalesce(F.col(c), F.lit("unknown")).alias(c) for c in SEGMENT]
    ).distinct()


def demographic_pools(
    events: DataFrame, users: DataFrame, ready: DataFrame, n: int, prior: float
) -> DataFrame:
    """Top ``n`` ready videos per segment: age_band, country, language, rank, video_id, score.

    ``events`` carry ``weight`` (decayed engagement); ``ready`` has the ready videos' ``video_id``.
    """
    seg_users = users.select(
        "user_id", *[F.coalesce(F.col(c), F.lit("unknown")).alias(c) for c in SEGMENT]
    )
    pos = (
        events.select("user_id", "video_id", F.greatest(F.col("weight"), F.lit(0.0)).alias("x"))
        .where(F.col("x") > 0)
        .join(ready.select("video_id"), "video_id", "left_semi")
        .join(seg_users, "user_id")
    )
    seg_x = pos.groupBy(*SEGMENT, "video_id").agg(F.sum("x").alias("x_s")).cache()
    glob = seg_x.groupBy("video_id").agg(F.sum("x_s").alias("x_g"))
    total_g = glob.agg(F.sum("x_g").alias("tot_g"))
    p_glob = glob.crossJoin(F.broadcast(total_g)).select(
        "video_id", (F.col("x_g") / F.col("tot_g")).alias("p_g")
    )
    lang_x = seg_x.groupBy("language", "video_id").agg(F.sum("x_s").alias("x_l"))
    lang_tot = lang_x.groupBy("language").agg(F.sum("x_l").alias("tot_l"))
    glob_top = top_per_key(p_glob.withColumn("_all", F.lit(1)), ["_all"], "p_g", n).select(
        "video_id"
    )
    segs = segments(users)
    langs = segs.select("language").distinct()
    # language candidates: what the language engaged with, plus the global top
    lang_cands = (
        lang_x.select("language", "video_id").unionByName(langs.crossJoin(glob_top)).distinct()
    )
    p_lang = (
        lang_cands.join(lang_x, ["language", "video_id"], "left")
        .join(lang_tot, "language", "left")
        .join(p_glob, "video_id", "left")
        .fillna(0.0, subset=["x_l", "tot_l", "p_g"])
        .withColumn(
            "p_l", (F.col("x_l") + F.lit(prior) * F.col("p_g")) / (F.col("tot_l") + F.lit(prior))
        )
        .select("language", "video_id", "p_l")
    )
    lang_top = top_per_key(p_lang, ["language"], "p_l", 2 * n).select("language", "video_id")
    seg_tot = seg_x.groupBy(*SEGMENT).agg(F.sum("x_s").alias("tot_s"))
    seg_cands = (
        seg_x.select(*SEGMENT, "video_id").unionByName(segs.join(lang_top, "language")).distinct()
    )
    scored = (
        seg_cands.join(seg_x, [*SEGMENT, "video_id"], "left")
        .join(seg_tot, SEGMENT, "left")
        .join(p_lang, ["language", "video_id"], "left")
        .fillna(0.0, subset=["x_s", "tot_s", "p_l"])
        .withColumn(
            "score", (F.col("x_s") + F.lit(prior) * F.col("p_l")) / (F.col("tot_s") + F.lit(prior))
        )
    )
    return top_per_key(scored, SEGMENT, "score", n).select(*SEGMENT, "rank", "video_id", "score")


def diverse_pool(features: DataFrame, videos: DataFrame, n: int) -> DataFrame:
    """The exploration list: round-robin over hashtags (most-used first), each round taking every
    hashtag's next-best ready video by base_score, each video once: rank, video_id, score.

    A new user's 30% exploration share is drawn from it (shuffled per user in ranking), so it
    spans as many topics as the catalogue has.
    """
    ready = features.where(F.col("status") == "ready").select("video_id", "base_score")
    tagged = ready.join(
        videos.select("video_id", F.explode("hashtags").alias("hashtag")), "video_id"
    )
    tag_order = (
        tagged.groupBy("hashtag")
        .agg(F.count(F.lit(1)).alias("_videos"))
        .withColumn(
            "_tag_rank",
            F.row_number().over(Window.orderBy(F.col("_videos").desc(), F.col("hashtag").asc())),
        )
    )
    per_tag = top_per_key(tagged, ["hashtag"], "base_score", n, rank="_round").join(
        tag_order, "hashtag"
    )
    first = top_per_key(
        per_tag.withColumn("_neg", -(F.col("_round") * F.lit(1_000_000) + F.col("_tag_rank"))),
        ["video_id"],
        "_neg",
        1,
        tie="hashtag",
        rank="_dup",
    )
    ordered = first.withColumn(
        "rank", F.row_number().over(Window.orderBy(F.col("_round"), F.col("_tag_rank")))
    ).where(F.col("rank") <= n)
    return ordered.select("rank", "video_id", F.col("base_score").alias("score"))
