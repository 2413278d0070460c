"""Videos: metadata with live counts, similar videos (pgvector HNSW), uploads."""

from __future__ import annotations

import logging
from pathlib import Path as FilePath
from typing import Annotated, Any

import redis.exceptions
from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from psycopg.rows import dict_row
from starlette.concurrency import run_in_threadpool

from fyplake import keys
from fyplake.serving.counters import live_deltas
from fyplake.serving.uploads import (
    PipelineMissing,
    UploadError,
    UploadMeta,
    UploadTooLarge,
    submit,
)
from serving_api import metrics
from serving_api.deps import ApiKey, Services, ServicesDep
from serving_api.errors import (
    INVALID,
    NOT_FOUND,
    UNAUTHORIZED,
    UNAVAILABLE,
    UNPARSABLE,
    ApiError,
)
from serving_api.models import (
    CountsOut,
    ErrorOut,
    SimilarItemOut,
    SimilarOut,
    Text,
    UploadOut,
    ValidationErrorOut,
    VideoOut,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/videos", tags=["videos"], responses=INVALID)

VideoId = Annotated[int, Path(gt=0, lt=2**53)]


async def _applied_batches(services: Services, batch_ids: list[str]) -> set[str]:
    async with services.pg.connection() as conn:
        cur = await conn.execute(
            "SELECT batch_id FROM counter_flush_batches WHERE batch_id = ANY(%s)", (batch_ids,)
        )
        return {r[0] for r in await cur.fetchall()}


async def _media(services: Services, video_id: int) -> dict[str, Any] | None:
    """Renditions, thumbnails and transcode job from the video pipeline's catalog."""
    try:
        from fyplake.media.catalog import video_media
    except ImportError:  # pragma: no cover - the pipeline ships with fyplake
        return None

    def call() -> dict[str, Any] | None:
        with services.pg_sync.connection() as conn:
            return video_media(conn, video_id, services.settings)

    media = await run_in_threadpool(call)
    if media is None:
        return None
    keep = ("url", "cover_url", "renditions", "thumbnails", "width", "height", "has_audio", "job")
    return {k: media.get(k) for k in keep}


@router.get(
    "/{video_id}",
    response_model=VideoOut,
    responses={**NOT_FOUND, **UNAVAILABLE},
    summary="A video's metadata, status, media and live counts",
)
async def get_video(services: ServicesDep, video_id: VideoId) -> VideoOut:
    """Counts are Postgres plus increments still in Valkey (``counts.live``); if Valkey is
    unreachable they are Postgres's alone (``live: false``) rather than a 503."""
    async with services.pg.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT id, creator_id, status, status_reason, duplicate_of, title, description, "
            "hashtags, sound_id, language, duration_ms, url, created_at, view_count, "
            "like_count, comment_count, share_count FROM videos WHERE id = %s",
            (video_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise ApiError(404, "video_not_found", f"no video {video_id}")
    counts = {
        "views": row.pop("view_count"),
        "likes": row.pop("like_count"),
        "comments": row.pop("comment_count"),
        "shares": row.pop("share_count"),
    }
    live = True
    try:
        deltas = await live_deltas(
            services.valkey, video_id, lambda ids: _applied_batches(services, ids)
        )
        counts = {k: v + deltas[k] for k, v in counts.items()}
    except redis.exceptions.RedisError as exc:
        live = False
        logger.warning("live counts of video %d unavailable: %s", video_id, exc)
    return VideoOut(
        **row, counts=CountsOut(**counts, live=live), media=await _media(services, video_id)
    )


#: Nearest neighbours through the HNSW index (the inner query is a plain index-ordered scan),
#: over-fetched, then filtered to ready videos.
SIMILAR_SQL = """
SELECT n.video_id, n.distance
FROM (
    SELECT video_id, embedding <=> %(q)s::vector AS distance
    FROM video_embeddings
    WHERE video_id <> %(id)s
    ORDER BY embedding <=> %(q)s::vector
    LIMIT %(fetch)s
) n
JOIN videos v ON v.id = n.video_id AND v.status = 'ready'
ORDER BY n.distance
LIMIT %(limit)s
"""


@router.get(
    "/{video_id}/similar",
    response_model=SimilarOut,
    responses={**NOT_FOUND, **UNAVAILABLE},
    summary="Nearest videos by embedding",
)
async def similar_videos(
    services: ServicesDep,
    video_id: VideoId,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SimilarOut:
    """Ready videos nearest to this one by cosine distance of their 128-d embeddings, found
    through the HNSW index (over-fetched, then filtered to ready videos)."""
    async with services.pg.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT embedding::text FROM video_embeddings WHERE video_id = %s", (video_id,)
        )
        found = await cur.fetchone()
        if found is None:
            raise ApiError(404, "no_embedding", f"video {video_id} has no published embedding")
        fetch = 3 * limit + 20
        while True:
            await conn.execute(f"SET LOCAL hnsw.ef_search = {max(40, min(fetch, 1000))}")
            cur = await conn.execute(
                SIMILAR_SQL, {"q": found[0], "id": video_id, "fetch": fetch, "limit": limit}
            )
            rows = await cur.fetchall()
            if len(rows) >= limit or fetch >= 1000:
                break
            fetch = min(1000, fetch * 4)  # many neighbours are not ready: look further
    items = [SimilarItemOut(video_id=r[0], distance=float(r[1])) for r in rows]
    return SimilarOut(video_id=video_id, items=items)


def _file_name(raw: str | None) -> str:
    """The client's file name without folders or control characters (it is stored as text)."""
    name = "".join(ch for ch in FilePath(raw or "").name if ch.isprintable())
    return name[:255] or "upload.mp4"


def _split_tags(raw: str) -> tuple[str, ...]:
    tags = (keys.normalize_hashtag(t) for t in raw.replace(",", " ").split())
    return tuple(dict.fromkeys(t for t in tags if t))


@router.post(
    "",
    status_code=202,
    response_model=UploadOut,
    responses={
        **UNPARSABLE,
        **UNAUTHORIZED,
        413: {"model": ErrorOut, "description": "File larger than FYP_UPLOAD_MAX_BYTES"},
        422: {
            "model": ValidationErrorOut | ErrorOut,
            "description": "Invalid form fields, unknown creator/sound or empty file",
        },
        **UNAVAILABLE,
    },
    summary="Upload a video",
)
async def upload_video(
    services: ServicesDep,
    _auth: ApiKey,
    file: Annotated[UploadFile, File(description="The video file (mp4, mov, webm, ...).")],
    creator_id: Annotated[int, Form(gt=0, lt=2**53)],
    title: Annotated[Text, Form(max_length=300)] = "",
    description: Annotated[Text, Form(max_length=5000)] = "",
    hashtags: Annotated[
        Text, Form(max_length=2000, description="Space/comma separated, '#' optional.")
    ] = "",
    sound_id: Annotated[int | None, Form(gt=0, lt=2**53)] = None,
    language: Annotated[Text, Form(max_length=8)] = "unknown",
) -> UploadOut:
    """Stores the original in the media store, records the video as ``processing`` in
    Postgres and queues its transcode (``upload_jobs``, drained by the video pipeline); the
    video reaches feeds only once the pipeline marks it ``ready``. Poll
    ``GET /v1/videos/{id}`` for its status, renditions and thumbnails."""
    filename = _file_name(file.filename)
    meta = UploadMeta(creator_id, title, description, _split_tags(hashtags), sound_id, language)
    try:
        receipt = await run_in_threadpool(submit, file.file, filename, meta, services.settings)
    except UploadTooLarge as exc:
        raise ApiError(413, "upload_too_large", str(exc)) from None
    except UploadError as exc:
        raise ApiError(422, "bad_upload", str(exc)) from None
    except PipelineMissing as exc:
        raise ApiError(503, "pipeline_unavailable", str(exc)) from None
    metrics.UPLOADS.inc()
    return UploadOut(
        video_id=receipt.video_id,
        status="processing",
        queue=receipt.queue,
        job_state=receipt.job_state,
    )
