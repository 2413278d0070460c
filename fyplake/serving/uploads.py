"""POST /v1/videos hands uploads to the video pipeline (``fyplake.media.uploads``).

``submit_upload`` streams the file to the media store, inserts the ``processing`` row and a
``upload_jobs`` row (the durable queue the transcode pipeline drains) in one transaction. This
module only adapts its outcome for the API. Blocking: the API runs it in its thread pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, BinaryIO

from fyplake.config import Settings, get_settings

logger = logging.getLogger(__name__)

#: Where uploads wait for the transcode pipeline (see sql/002_media.sql).
QUEUE = "postgres:upload_jobs"


class UploadError(ValueError):
    """An upload the caller must fix (unknown creator or sound, empty file)."""


class UploadTooLarge(UploadError):
    def __init__(self, message: str, video_id: int) -> None:
        super().__init__(message)
        self.video_id = video_id


class PipelineMissing(RuntimeError):
    """fyplake.media is not installed in this deployment."""


@dataclass(frozen=True)
class UploadMeta:
    creator_id: int
    title: str = ""
    description: str = ""
    hashtags: tuple[str, ...] = ()
    sound_id: int | None = None
    language: str = "unknown"


@dataclass(frozen=True)
class UploadReceipt:
    video_id: int
    status: str
    reason: str | None
    job_state: str | None
    queue: str = QUEUE


def submit(
    fileobj: BinaryIO, filename: str, meta: UploadMeta, settings: Settings | None = None
) -> UploadReceipt:
    """Hand one upload stream to the pipeline; returns what the client is told."""
    settings = settings or get_settings()
    try:
        from fyplake.media.catalog import video_media
        from fyplake.media.uploads import UnknownCreator, submit_upload
    except ImportError as exc:  # pragma: no cover - the pipeline ships with fyplake
        raise PipelineMissing(f"the video pipeline is not installed: {exc}") from exc
    import psycopg

    from fyplake.serving.clients import resolve_postgres_dsn

    head = fileobj.read(1)
    if not head:
        raise UploadError("the uploaded file is empty")
    fileobj.seek(0)
    try:
        video_id = submit_upload(
            fileobj,
            meta.creator_id,
            filename=filename,
            title=meta.title,
            description=meta.description,
            hashtags=list(meta.hashtags),
            sound_id=meta.sound_id,
            language=meta.language,
            settings=settings,
        )
    except UnknownCreator as exc:
        raise UploadError(str(exc)) from None
    except psycopg.errors.ForeignKeyViolation:
        raise UploadError(f"unknown sound {meta.sound_id}") from None
    with psycopg.connect(resolve_postgres_dsn(settings)) as conn:
        media: dict[str, Any] = video_media(conn, video_id, settings) or {}
    status = media.get("status", "processing")
    reason = media.get("reason")
    if status == "failed":  # at submit time only the size limit fails a video
        raise UploadTooLarge(f"{reason} (recorded as failed video {video_id})", video_id)
    job = media.get("job") or {}
    return UploadReceipt(video_id, status, reason, job.get("state"))
