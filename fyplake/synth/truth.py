"""Ground truth of a synthetic world, for evaluation: what a recommender should have recovered.

Written next to the landing zone as ``<lake>/ground_truth/`` (Parquet, overwritten per run; the
landing zone only ever sees what a real platform would log). Topic vectors are lists of float32 of
length T, in the order of ``meta.json``'s ``topics``; ids match the landing records.

``users.parquet``
    user_id int64, age_band string, country string, language string,
    signup_time timestamp[ms, UTC], is_creator bool,
    activity float32 (relative daily activity, mean 1), patience float32 (logit shift towards
    watching rather than skipping), topic_vector list<float32> (hidden interest mixture, sums to 1),
    top_topic string.
``videos.parquet``
    video_id int64, creator_id int64, created_at timestamp[ms, UTC], language string,
    duration_ms int32, sound_id int64 (null: no sound), primary_topic string,
    secondary_topic string (null: single topic), topic_vector list<float32> (sums to 1; a second
    topic has weight ``second_topic_weight``), quality float32 in (0, 1), popularity float32 (Zipf
    weight ``1 / rank ** popularity_skew``, 1 = the most popular video).
``creators.parquet``
    creator_id int64 (a user_id), quality float32 (Beta), productivity float32 (relative upload
    rate), niche_vector list<float32> (topics the creator's videos are drawn from),
    top_topic string, videos int32 (number of videos in the world).
``sounds.parquet``
    sound_id int64, topic string, is_original bool (born with one video), popularity float32.
``meta.json``
    generator_version, world_id, seed, params (as given to ``fyp generate``; the shape's name and
    knobs only where they differ from the default shape, ``world.SHAPE_KNOBS``), start_date,
    end_date (last simulated day), topics [{name, hashtags}], counts {users, creators, videos,
    sounds}. Affinity of a user u to a video v is ``dot(u.topic_vector, v.topic_vector)``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fyplake import storage
from fyplake.synth import catalog
from fyplake.synth.world import GENERATOR_VERSION, World

_TS = pa.timestamp("ms", tz="UTC")


def _vectors(matrix: np.ndarray) -> pa.Array:
    rows, cols = matrix.shape
    offsets = pa.array(np.arange(0, rows * cols + 1, cols, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.astype(np.float32).ravel()))


def _names(idx: np.ndarray) -> pa.Array:
    names = np.array(catalog.TOPIC_NAMES, dtype=object)
    return pa.array(np.where(idx >= 0, names[np.maximum(idx, 0)], None), pa.string())


def _nullable_ids(idx: np.ndarray) -> pa.Array:
    return pa.array(idx + 1, pa.int64(), mask=idx < 0)


def _write_parquet(table: pa.Table, path: str | Path) -> None:
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, compression="zstd")
    storage.write_atomic(path, buf.getvalue().to_pybytes())


def write_ground_truth(w: World, root: str | Path) -> list[str | Path]:
    """The world's hidden truth under ``root`` (a folder or an object-store URL)."""
    p = w.params
    n_users = len(w.user_signup_ms)
    is_creator = np.zeros(n_users, bool)
    is_creator[w.creator_user] = True
    users = pa.table(
        {
            "user_id": pa.array(np.arange(1, n_users + 1), pa.int64()),
            "age_band": pa.array(np.array(catalog.AGE_BANDS)[w.user_age]),
            "country": pa.array(np.array([c[0] for c in catalog.COUNTRIES])[w.user_country]),
            "language": pa.array(np.array(catalog.LANGUAGES)[w.user_lang]),
            "signup_time": pa.array(w.user_signup_ms, pa.int64()).cast(_TS),
            "is_creator": pa.array(is_creator),
            "activity": pa.array(w.user_activity, pa.float32()),
            "patience": pa.array(w.user_patience, pa.float32()),
            "topic_vector": _vectors(w.user_theta),
            "top_topic": _names(w.user_theta.argmax(axis=1)),
        }
    )
    videos = pa.table(
        {
            "video_id": pa.array(np.arange(1, len(w.video_created_ms) + 1), pa.int64()),
            "creator_id": pa.array(w.creator_user[w.video_creator] + 1, pa.int64()),
            "created_at": pa.array(w.video_created_ms, pa.int64()).cast(_TS),
            "language": pa.array(np.array(catalog.LANGUAGES)[w.video_lang]),
            "duration_ms": pa.array(w.video_duration_ms, pa.int32()),
            "sound_id": _nullable_ids(w.video_sound),
            "primary_topic": _names(w.video_primary),
            "secondary_topic": _names(w.video_secondary),
            "topic_vector": _vectors(w.video_topic_matrix()),
            "quality": pa.array(w.video_quality, pa.float32()),
            "popularity": pa.array(w.video_popularity, pa.float32()),
        }
    )
    creators = pa.table(
        {
            "creator_id": pa.array(w.creator_user + 1, pa.int64()),
            "quality": pa.array(w.creator_quality, pa.float32()),
            "productivity": pa.array(w.creator_productivity, pa.float32()),
            "niche_vector": _vectors(w.creator_niche),
            "top_topic": _names(w.creator_niche.argmax(axis=1)),
            "videos": pa.array(
                np.bincount(w.video_creator, minlength=len(w.creator_user)), pa.int32()
            ),
        }
    )
    sounds = pa.table(
        {
            "sound_id": pa.array(np.arange(1, len(w.sound_created_ms) + 1), pa.int64()),
            "topic": _names(w.sound_topic),
            "is_original": pa.array(w.sound_original),
            "popularity": pa.array(w.sound_popularity, pa.float32()),
        }
    )
    paths: list[str | Path] = []
    for name, table in (
        ("users", users),
        ("videos", videos),
        ("creators", creators),
        ("sounds", sounds),
    ):
        path = storage.join(root, f"{name}.parquet")
        _write_parquet(table, path)
        paths.append(path)
    meta = {
        "generator_version": GENERATOR_VERSION,
        "world_id": p.world_id,
        "seed": p.seed,
        "params": p.as_dict(),
        "start_date": p.start_date.isoformat(),
        "end_date": (p.start_date + timedelta(days=p.days - 1)).isoformat(),
        "topics": [{"name": t[0], "hashtags": list(t[1])} for t in catalog.TOPICS],
        "counts": {
            "users": n_users,
            "creators": len(w.creator_user),
            "videos": len(w.video_created_ms),
            "sounds": len(w.sound_created_ms),
        },
    }
    meta_path = storage.join(root, "meta.json")
    storage.write_atomic(meta_path, (json.dumps(meta, indent=2) + "\n").encode())
    paths.append(meta_path)
    return paths
