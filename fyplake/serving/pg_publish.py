"""Publishing lake tables into Postgres: COPY into a temp table, then one upsert per chunk.

Rows arrive as iterables of tuples (a Spark ``toLocalIterator()`` or hand-made lists), are
buffered ``chunk`` at a time, COPYed into a temporary table and merged with one
``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` per chunk, each chunk its own transaction (the
upserts are idempotent, so a re-run after a failure converges). The HNSW indexes stay in place
and are maintained by the upserts.

Foreign keys are respected rather than violated: rows whose parent is missing (a video whose
creator is not in ``users``, an embedding of an unknown video) are skipped and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 20_000
EMBEDDING_DIM = 128


@dataclass
class UpsertResult:
    table: str
    rows: int = 0  # rows read
    upserted: int = 0
    skipped: int = 0  # rows whose parent row is missing

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.rows,
            "upserted": self.upserted,
            "skipped": self.skipped,
        }


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    buf: list[Sequence[Any]] = []
    for row in rows:
        buf.append(row)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def _copy_upsert(
    conn: psycopg.Connection,
    rows: Iterable[Sequence[Any]],
    *,
    table: str,
    temp_ddl: str,
    columns: Sequence[str],
    merge_sql: str,
    chunk: int,
    binary_types: Sequence[str] | None = None,
) -> UpsertResult:
    result = UpsertResult(table)
    cols = ", ".join(columns)
    for batch in _chunks(rows, chunk):
        with conn.transaction():
            conn.execute(f"CREATE TEMP TABLE fyp_stage ({temp_ddl}) ON COMMIT DROP")
            fmt = " WITH (FORMAT BINARY)" if binary_types else ""
            with conn.cursor().copy(f"COPY fyp_stage ({cols}) FROM STDIN{fmt}") as copy:
                if binary_types:
                    copy.set_types(list(binary_types))
                for row in batch:
                    copy.write_row(row)
            upserted = conn.execute(merge_sql).rowcount
        result.rows += len(batch)
        result.upserted += upserted
        result.skipped += len(batch) - upserted
    logger.info(
        "%s: %d rows, %d upserted, %d skipped", table, result.rows, result.upserted, result.skipped
    )
    return result


def upsert_users(
    conn: psycopg.Connection, rows: Iterable[Sequence[Any]], chunk: int = DEFAULT_CHUNK
) -> UpsertResult:
    """Rows: (user_id, age_band, country, language, is_creator, signup_time)."""
    return _copy_upsert(
        conn,
        rows,
        table="users",
        temp_ddl="id BIGINT, age_band TEXT, country TEXT, language TEXT, is_creator BOOLEAN, "
        "created_at TIMESTAMPTZ",
        columns=("id", "age_band", "country", "language", "is_creator", "created_at"),
        merge_sql="""
            INSERT INTO users (id, age_band, country, language, is_creator, created_at)
            SELECT DISTINCT ON (id) id, coalesce(age_band, 'unknown'),
                   coalesce(country, 'unknown'), coalesce(language, 'unknown'),
                   coalesce(is_creator, false), coalesce(created_at, now())
            FROM fyp_stage WHERE id IS NOT NULL ORDER BY id
            ON CONFLICT (id) DO UPDATE SET age_band = EXCLUDED.age_band,
                country = EXCLUDED.country, language = EXCLUDED.language,
                is_creator = users.is_creator OR EXCLUDED.is_creator""",
        chunk=chunk,
    )


def upsert_sounds(
    conn: psycopg.Connection, rows: Iterable[Sequence[Any]], chunk: int = DEFAULT_CHUNK
) -> UpsertResult:
    """Rows: (sound_id, title, creator_id, created_at); an unknown creator becomes NULL."""
    return _copy_upsert(
        conn,
        rows,
        table="sounds",
        temp_ddl="id BIGINT, title TEXT, creator_id BIGINT, created_at TIMESTAMPTZ",
        columns=("id", "title", "creator_id", "created_at"),
        merge_sql="""
            INSERT INTO sounds (id, title, creator_id, created_at)
            SELECT DISTINCT ON (s.id) s.id, coalesce(s.title, ''), u.id,
                   coalesce(s.created_at, now())
            FROM fyp_stage s LEFT JOIN users u ON u.id = s.creator_id
            WHERE s.id IS NOT NULL ORDER BY s.id
            ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title""",
        chunk=chunk,
    )


def upsert_videos(
    conn: psycopg.Connection, rows: Iterable[Sequence[Any]], chunk: int = DEFAULT_CHUNK
) -> UpsertResult:
    """Rows: (video_id, creator_id, duration_ms, title, description, hashtags, sound_id,
    language, status, created_at).

    Metadata is refreshed; ``status`` is taken from the lake only while Postgres still says
    ``processing``: once the video pipeline has set a final status, Postgres is the authority.
    Videos of unknown creators are skipped; a video without a creator (``creator_id`` NULL:
    an imported item) is kept without one; an unknown sound becomes NULL.
    """
    return _copy_upsert(
        conn,
        rows,
        table="videos",
        temp_ddl="id BIGINT, creator_id BIGINT, duration_ms BIGINT, title TEXT, "
        "description TEXT, hashtags TEXT[], sound_id BIGINT, language TEXT, status TEXT, "
        "created_at TIMESTAMPTZ",
        columns=(
            "id",
            "creator_id",
            "duration_ms",
            "title",
            "description",
            "hashtags",
            "sound_id",
            "language",
            "status",
            "created_at",
        ),
        merge_sql="""
            INSERT INTO videos (id, creator_id, duration_ms, title, description, hashtags,
                                sound_id, language, status, created_at)
            SELECT DISTINCT ON (v.id) v.id, v.creator_id, v.duration_ms::int,
                   coalesce(v.title, ''), coalesce(v.description, ''),
                   coalesce(v.hashtags, '{}'), s.id, coalesce(v.language, 'unknown'),
                   CASE WHEN v.status IN ('processing', 'ready', 'failed', 'duplicate')
                        THEN v.status ELSE 'processing' END,
                   coalesce(v.created_at, now())
            FROM fyp_stage v
            LEFT JOIN users u ON u.id = v.creator_id
            LEFT JOIN sounds s ON s.id = v.sound_id
            WHERE v.id IS NOT NULL AND (v.creator_id IS NULL OR u.id IS NOT NULL)
            ORDER BY v.id
            ON CONFLICT (id) DO UPDATE SET
                duration_ms = EXCLUDED.duration_ms, title = EXCLUDED.title,
                description = EXCLUDED.description, hashtags = EXCLUDED.hashtags,
                sound_id = EXCLUDED.sound_id, language = EXCLUDED.language,
                status = CASE WHEN videos.status = 'processing' THEN EXCLUDED.status
                              ELSE videos.status END,
                updated_at = now()""",
        chunk=chunk,
    )


def _vector_rows(
    rows: Iterable[Sequence[Any]],
) -> Iterator[tuple[int, Any, str]]:
    import numpy as np

    for row in rows:
        key, emb = row[0], row[1]
        model_version = row[2] if len(row) > 2 and row[2] is not None else ""
        vec = np.asarray(emb, dtype=np.float32)
        if vec.shape != (EMBEDDING_DIM,):
            raise ValueError(f"embedding of {key} has shape {vec.shape}, expected (128,)")
        yield int(key), vec, model_version


def _embedding_upsert(
    conn: psycopg.Connection,
    rows: Iterable[Sequence[Any]],
    *,
    table: str,
    key: str,
    parent: str,
    chunk: int,
) -> UpsertResult:
    from pgvector.psycopg import register_vector

    register_vector(conn)
    return _copy_upsert(
        conn,
        _vector_rows(rows),
        table=table,
        temp_ddl=f"{key} BIGINT, embedding vector({EMBEDDING_DIM}), model_version TEXT",
        columns=(key, "embedding", "model_version"),
        binary_types=("bigint", "vector", "text"),
        merge_sql=f"""
            INSERT INTO {table} ({key}, embedding, model_version, updated_at)
            SELECT DISTINCT ON (e.{key}) e.{key}, e.embedding, e.model_version, now()
            FROM fyp_stage e JOIN {parent} p ON p.id = e.{key}
            ORDER BY e.{key}
            ON CONFLICT ({key}) DO UPDATE SET embedding = EXCLUDED.embedding,
                model_version = EXCLUDED.model_version, updated_at = now()""",
        chunk=chunk,
    )


def upsert_video_embeddings(
    conn: psycopg.Connection, rows: Iterable[Sequence[Any]], chunk: int = 5_000
) -> UpsertResult:
    """Rows: (video_id, 128 floats, model_version?). Unknown videos are skipped."""
    return _embedding_upsert(
        conn, rows, table="video_embeddings", key="video_id", parent="videos", chunk=chunk
    )


def upsert_user_embeddings(
    conn: psycopg.Connection, rows: Iterable[Sequence[Any]], chunk: int = 5_000
) -> UpsertResult:
    """Rows: (user_id, 128 floats, model_version?). Unknown users are skipped."""
    return _embedding_upsert(
        conn, rows, table="user_embeddings", key="user_id", parent="users", chunk=chunk
    )


CREATOR_STATS_COLUMNS = (
    "date",
    "creator_id",
    "videos_watched",
    "views",
    "unique_viewers",
    "watch_ms_total",
    "mean_completion",
    "like_rate",
    "share_rate",
    "comment_rate",
    "new_followers",
    "followers_total",
)


def upsert_creator_stats(
    conn: psycopg.Connection, rows: Iterable[Sequence[Any]], chunk: int = DEFAULT_CHUNK
) -> UpsertResult:
    """Rows in the column order of ``gold.creator_daily_stats`` (``CREATOR_STATS_COLUMNS``)."""
    cols = CREATOR_STATS_COLUMNS
    numeric = ", ".join(f"{c} DOUBLE PRECISION" for c in cols[2:])
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols[2:])
    bigints = {
        "videos_watched",
        "views",
        "unique_viewers",
        "watch_ms_total",
        "new_followers",
        "followers_total",
    }
    select = ", ".join(f"coalesce({c}, 0)::bigint" if c in bigints else c for c in cols[2:])
    return _copy_upsert(
        conn,
        rows,
        table="creator_daily_stats",
        temp_ddl=f"date DATE, creator_id BIGINT, {numeric}",
        columns=cols,
        merge_sql=f"""
            INSERT INTO creator_daily_stats ({", ".join(cols)}, published_at)
            SELECT DISTINCT ON (creator_id, date) date, creator_id, {select}, now()
            FROM fyp_stage WHERE creator_id IS NOT NULL AND date IS NOT NULL
            ORDER BY creator_id, date
            ON CONFLICT (creator_id, date) DO UPDATE SET {updates}, published_at = now()""",
        chunk=chunk,
    )
