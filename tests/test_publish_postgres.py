"""Publishing lake rows into Postgres: COPY + upsert, foreign keys respected, status rule."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from fyplake.serving.pg_publish import (
    upsert_sounds,
    upsert_user_embeddings,
    upsert_users,
    upsert_videos,
)

U, V, S = 5_900_000, 5_910_000, 5_920_000
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_users_sounds_videos_upsert_idempotently(pg):
    users = [(U + i, "18-24", "US", "en", i == 0, T0) for i in range(3)]
    assert upsert_users(pg, users, chunk=2).upserted == 3
    assert upsert_users(pg, [(U + 1, "25-34", "DE", "de", False, T0)]).upserted == 1
    assert pg.execute("SELECT age_band, country FROM users WHERE id = %s", (U + 1,)).fetchone() == (
        "25-34",
        "DE",
    )

    res = upsert_sounds(pg, [(S, "beat", U, T0), (S + 1, "orphan", 1_234_567_890_123, T0)])
    assert res.upserted == 2
    orphan = pg.execute("SELECT creator_id FROM sounds WHERE id = %s", (S + 1,)).fetchone()
    assert orphan == (None,)

    videos = [
        (V, U, 15_000, "a", "first", ["x"], S, "en", "ready", T0),
        (V + 1, U, 20_000, "b", "second", [], 999_999_999, "en", "processing", T0),
        (V + 2, 1_234_567_890_123, 1000, "c", "", [], None, "en", "ready", T0),  # no creator
        (V + 3, U, 1000, "d", "", None, None, None, "weird", T0),
    ]
    res = upsert_videos(pg, videos)
    assert (res.rows, res.upserted, res.skipped) == (4, 3, 1)
    rows = {
        r[0]: r[1:]
        for r in pg.execute(
            "SELECT id, status, sound_id, hashtags, language FROM videos "
            "WHERE id BETWEEN %s AND %s",
            (V, V + 10),
        ).fetchall()
    }
    assert rows[V] == ("ready", S, ["x"], "en")
    assert rows[V + 1] == ("processing", None, [], "en")  # unknown sound -> NULL
    assert rows[V + 3] == ("processing", None, [], "unknown")  # unknown status -> processing

    # Postgres keeps the pipeline's final status; the lake only moves videos out of processing
    pg.execute("UPDATE videos SET status = 'failed' WHERE id = %s", (V,))
    upsert_videos(
        pg,
        [
            (V, U, 15_000, "a2", "first", ["x"], S, "en", "ready", T0),
            (V + 1, U, 20_000, "b", "second", [], S, "en", "ready", T0),
        ],
    )
    got = pg.execute(
        "SELECT id, status, title FROM videos WHERE id IN (%s, %s) ORDER BY id", (V, V + 1)
    ).fetchall()
    assert got == [(V, "failed", "a2"), (V + 1, "ready", "b")]


def test_user_embeddings_skip_unknown_users_and_check_dimensions(pg):
    upsert_users(pg, [(U + 10, "18-24", "US", "en", False, T0)])
    vec = np.ones(128, dtype=np.float32)
    res = upsert_user_embeddings(
        pg, [(U + 10, vec, "m1"), (U + 10, vec * 2, "m1"), (1_234_567_890_124, vec)]
    )
    assert res.upserted == 1 and res.skipped == 2
    assert pg.execute(
        "SELECT model_version FROM user_embeddings WHERE user_id = %s", (U + 10,)
    ).fetchone() == ("m1",)
    with pytest.raises(ValueError, match="shape"):
        upsert_user_embeddings(pg, [(U + 10, [1.0, 2.0])])


def test_a_video_without_a_creator_is_published_without_one(pg):
    """An imported item has no creator (``creator_id`` NULL): it is published (the ready set
    is built from Postgres, so a skipped video would never be served), with no user made."""
    users_before = pg.execute("SELECT count(*) FROM users").fetchone()[0]
    res = upsert_videos(
        pg, [(V + 20, None, 60_000, "Toy Story", "", ["comedy"], None, "en", "ready", T0)]
    )
    assert (res.upserted, res.skipped) == (1, 0)
    got = pg.execute("SELECT creator_id, status FROM videos WHERE id = %s", (V + 20,)).fetchone()
    assert got == (None, "ready")
    assert pg.execute("SELECT count(*) FROM users").fetchone()[0] == users_before
