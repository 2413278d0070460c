"""The upload hand-off: store the original, record the video, queue its transcode.

:func:`submit_upload` is what ``POST /v1/videos`` and ``fyp upload`` call. It never needs Airflow:

1. the bytes are streamed to a temporary file while being hashed (sha256) and counted; past
   ``settings.upload_max_bytes`` the rest is not read and the video is recorded ``failed``;
2. a ``videos`` row is inserted as ``processing``; the original is stored under
   ``originals/<id>/<sha16>/source.<ext>`` in the media store (private);
3. ``video_sources`` and an ``upload_jobs`` row (state ``queued``) are written in the same
   transaction: the **durable queue** of the hand-off;
4. if ``settings.media_trigger_url`` names the Airflow API, a ``video_transcode`` run is
   triggered at once with conf ``{"video_id": id}`` (state ``triggered``). If Airflow is not
   configured or not reachable the job simply stays ``queued``.

Who picks up a queued job:

- the ``video_upload_drain`` DAG (every minute, in ``dags/video_transcode.py``) claims queued jobs
  and jobs triggered but never acknowledged (:func:`claim_pending`) and triggers a
  ``video_transcode`` run for each;
- ``fyp upload --wait`` on the embedded default claims its own job (:func:`claim_job`) and runs
  the pipeline in this process (:func:`fyplake.media.pipeline.run_pipeline`, the same step
  functions the DAG's tasks call); with ``media_trigger_url`` set it waits for the Airflow run.

A job is acknowledged when its run's first step (validate) sets it ``running``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from fyplake.media.store import open_store, original_key

logger = logging.getLogger(__name__)

DAG_ID = "video_transcode"
#: A job triggered this long ago without its run acknowledging it is triggered again.
ACK_TIMEOUT_S = 600
#: Give up re-triggering a job after this many attempts (it is then marked failed).
MAX_ATTEMPTS = 5


class UploadError(ValueError):
    """The upload cannot be accepted at all (no video id is created)."""


class UnknownCreator(UploadError):
    pass


def _settings(settings: Any) -> Any:
    if settings is not None:
        return settings
    from fyplake.config import get_settings

    return get_settings()


def _suffix(filename: str | None) -> str:
    suffix = Path(filename or "").suffix.lower()
    return suffix if suffix and len(suffix) <= 6 and suffix[1:].isalnum() else ".mp4"


def _spool(
    source: str | Path | BinaryIO | bytes, limit: int, tmp_dir: Path
) -> tuple[Path, str, int, bool]:
    """Copy ``source`` to a temp file; returns (path, sha256, size, over_limit)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="upload-", suffix=".part")
    h = hashlib.sha256()
    size = 0
    over = False
    opened = None
    try:
        if isinstance(source, bytes):
            chunks: Iterable[bytes] = [source]
        else:
            if isinstance(source, (str, Path)):
                opened = open(source, "rb")  # noqa: SIM115 - closed below
                stream = opened
            else:
                stream = source
            chunks = iter(lambda: stream.read(1 << 20), b"")
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                if size + len(chunk) > limit:
                    over = True
                    size += len(chunk)
                    break
                out.write(chunk)
                h.update(chunk)
                size += len(chunk)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        if opened is not None:
            opened.close()
    return Path(tmp), h.hexdigest(), size, over


def submit_upload(
    source: str | Path | BinaryIO | bytes,
    creator_id: int,
    *,
    filename: str | None = None,
    title: str = "",
    description: str = "",
    hashtags: Iterable[str] = (),
    sound_id: int | None = None,
    language: str = "unknown",
    settings: Any = None,
    trigger: bool = True,
) -> int:
    """Accept an upload and hand it to the transcode pipeline; returns the new video id.

    ``source`` is a path, a binary file object (read in 1 MiB chunks, e.g. an ASGI upload's
    ``.file``) or bytes. The video starts ``processing``; its outcome (``ready``, ``failed`` with
    a reason, ``duplicate``) is read later with :func:`fyplake.media.catalog.video_media`. A file
    over the size limit still gets an id, recorded ``failed`` without storing the bytes. Raises
    :class:`UnknownCreator` when ``creator_id`` is not a user."""
    import psycopg

    from fyplake.endpoints import postgres_dsn

    settings = _settings(settings)
    if filename is None and isinstance(source, (str, Path)):
        filename = Path(source).name
    tmp_dir = Path(settings.home) / "work" / "uploads"
    tmp, sha, size, over = _spool(source, settings.upload_max_bytes, tmp_dir)
    try:
        with psycopg.connect(postgres_dsn(settings), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM users WHERE id = %s", (creator_id,)).fetchone():
                raise UnknownCreator(f"creator {creator_id} is not a known user")
            status, reason = "processing", None
            if over:
                status = "failed"
                reason = (
                    f"invalid upload: the file is larger than the upload limit of "
                    f"{settings.upload_max_bytes / (1024 * 1024):.1f} MiB"
                )
            with conn.transaction():
                video_id = conn.execute(
                    """INSERT INTO videos (creator_id, title, description, hashtags, sound_id,
                                           language, status, status_reason)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                    (
                        creator_id,
                        title,
                        description,
                        list(hashtags),
                        sound_id,
                        language,
                        status,
                        reason,
                    ),
                ).fetchone()[0]
                if over:
                    conn.execute(
                        """INSERT INTO video_sources (video_id, filename, size_bytes)
                           VALUES (%s, %s, %s)""",
                        (video_id, filename, size),
                    )
                    logger.info("upload %s rejected: %s", video_id, reason)
                    return int(video_id)
                key = original_key(video_id, sha, _suffix(filename))
                store = open_store(settings)
                # Stored before the transaction commits: a committed job always has its original.
                store.put_file(key, tmp)
                conn.execute(
                    """INSERT INTO video_sources (video_id, original_path, content_sha256,
                                                  asset_prefix, filename, size_bytes)
                       VALUES (%s, %s, %s, %s, %s, %s)""",
                    (video_id, key, sha, f"videos/{video_id}/{sha[:16]}", filename, size),
                )
                conn.execute(
                    "INSERT INTO upload_jobs (video_id, original_uri) VALUES (%s, %s)",
                    (video_id, store.uri(key)),
                )
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("upload %s queued (%d bytes, sha256 %s)", video_id, size, sha[:16])
    if trigger and settings.media_trigger_url:
        try:
            run_id = trigger_airflow(video_id, settings=settings)
            _mark_triggered(video_id, run_id, settings=settings)
        except Exception as exc:  # noqa: BLE001 - the drain picks it up later
            logger.warning(
                "could not trigger %s for video %s (left queued): %s", DAG_ID, video_id, exc
            )
    return int(video_id)


# --------------------------------------------------------------------------------------------
# triggering Airflow and draining the queue
# --------------------------------------------------------------------------------------------


def trigger_airflow(video_id: int, *, settings: Any = None, client: Any = None) -> str:
    """Trigger a ``video_transcode`` run through the Airflow 3 REST API; returns its run id.

    ``settings.media_trigger_url`` is the API server's base URL; with a user name and password
    a JWT is fetched from ``/auth/token`` first."""
    import httpx

    settings = _settings(settings)
    base = (settings.media_trigger_url or "").rstrip("/")
    if not base:
        raise RuntimeError("media_trigger_url is not set")
    own = client is None
    client = client or httpx.Client(timeout=10.0)
    try:
        headers = {}
        if settings.media_trigger_username:
            password = settings.media_trigger_password
            resp = client.post(
                f"{base}/auth/token",
                json={
                    "username": settings.media_trigger_username,
                    "password": password.get_secret_value() if password else "",
                },
            )
            resp.raise_for_status()
            headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        run_id = f"upload__{int(video_id)}__{int(time.time())}"
        resp = client.post(
            f"{base}/api/v2/dags/{DAG_ID}/dagRuns",
            json={"dag_run_id": run_id, "logical_date": None, "conf": {"video_id": int(video_id)}},
            headers=headers,
        )
        resp.raise_for_status()
        return str(resp.json().get("dag_run_id", run_id))
    finally:
        if own:
            client.close()


def _mark_triggered(video_id: int, run_id: str | None, *, settings: Any) -> None:
    import psycopg

    from fyplake.endpoints import postgres_dsn

    with psycopg.connect(postgres_dsn(settings), autocommit=True) as conn:
        conn.execute(
            """UPDATE upload_jobs SET state = 'triggered', triggered_at = now(),
                      attempts = attempts + 1, runner = 'airflow',
                      dag_run_id = coalesce(%s, dag_run_id)
                WHERE video_id = %s AND state IN ('queued', 'triggered')""",
            (run_id, video_id),
        )


def claim_pending(
    *,
    settings: Any = None,
    limit: int = 20,
    ack_timeout_s: float = ACK_TIMEOUT_S,
    runner: str = "airflow",
) -> list[int]:
    """Claim queued jobs (and triggered ones never acknowledged) for triggering; returns ids.

    Claimed jobs move to ``triggered``; concurrent drains never claim the same job
    (``FOR UPDATE SKIP LOCKED``). A job claimed ``MAX_ATTEMPTS`` times is marked failed."""
    import psycopg

    from fyplake.endpoints import postgres_dsn

    settings = _settings(settings)
    with psycopg.connect(postgres_dsn(settings), autocommit=True) as conn:
        with conn.transaction():
            stale = conn.execute(
                """SELECT video_id FROM upload_jobs
                    WHERE state = 'triggered' AND attempts >= %s
                      AND triggered_at < now() - make_interval(secs => %s)""",
                (MAX_ATTEMPTS, ack_timeout_s),
            ).fetchall()
            rows = conn.execute(
                """UPDATE upload_jobs SET state = 'triggered', triggered_at = now(),
                          attempts = attempts + 1, runner = %s
                    WHERE video_id IN (
                        SELECT video_id FROM upload_jobs
                         WHERE (state = 'queued'
                                OR (state = 'triggered' AND attempts < %s
                                    AND triggered_at < now() - make_interval(secs => %s)))
                         ORDER BY requested_at
                         LIMIT %s FOR UPDATE SKIP LOCKED)
                RETURNING video_id""",
                (runner, MAX_ATTEMPTS, ack_timeout_s, limit),
            ).fetchall()
    from fyplake.media.pipeline import mark_failed

    for (video_id,) in stale:
        mark_failed(
            video_id, f"transcode never started after {MAX_ATTEMPTS} triggers", settings=settings
        )
    return sorted(int(r[0]) for r in rows)


def claim_job(video_id: int, *, settings: Any = None, runner: str = "inline") -> bool:
    """Claim one queued job for running it here; False if another runner has it."""
    import psycopg

    from fyplake.endpoints import postgres_dsn

    settings = _settings(settings)
    with psycopg.connect(postgres_dsn(settings), autocommit=True) as conn:
        cur = conn.execute(
            """UPDATE upload_jobs SET state = 'running', runner = %s, attempts = attempts + 1,
                      started_at = now()
                WHERE video_id = %s AND state = 'queued'""",
            (runner, video_id),
        )
    return bool(cur.rowcount)


def drain(*, settings: Any = None, limit: int = 20) -> list[int]:
    """Trigger Airflow for every pending job (needs ``media_trigger_url``); returns triggered ids.

    Jobs whose trigger fails go back to ``queued`` for the next drain."""
    import psycopg

    from fyplake.endpoints import postgres_dsn

    settings = _settings(settings)
    done = []
    for video_id in claim_pending(settings=settings, limit=limit):
        try:
            run_id = trigger_airflow(video_id, settings=settings)
        except Exception as exc:  # noqa: BLE001
            logger.warning("trigger for video %s failed: %s", video_id, exc)
            with psycopg.connect(postgres_dsn(settings), autocommit=True) as conn:
                conn.execute(
                    """UPDATE upload_jobs SET state = 'queued', last_error = %s
                        WHERE video_id = %s AND state = 'triggered'""",
                    (str(exc)[:500], video_id),
                )
            continue
        _mark_triggered(video_id, run_id, settings=settings)
        done.append(video_id)
    return done


def run_inline(video_id: int, *, settings: Any = None, on_step: Any = None) -> dict[str, Any]:
    """Claim the job and run the whole pipeline in this process; returns its outcome."""
    from fyplake.media.pipeline import run_pipeline

    settings = _settings(settings)
    if not claim_job(video_id, settings=settings):
        raise RuntimeError(
            f"the transcode of video {video_id} is not queued "
            "(another runner has it, or it is finished)"
        )
    return run_pipeline(video_id, settings=settings, on_step=on_step)


def wait_for(
    video_id: int, *, settings: Any = None, timeout_s: float = 600, poll_s: float = 1.0
) -> str:
    """Poll until the video leaves ``processing``; returns the status (or ``processing``)."""
    from fyplake.media.pipeline import _video, connect

    settings = _settings(settings)
    deadline = time.monotonic() + timeout_s
    while True:
        with connect(settings) as conn:
            status = _video(conn, video_id)["status"]
        if status != "processing" or time.monotonic() >= deadline:
            return status
        time.sleep(poll_s)


def remove_local_spool(settings: Any = None) -> None:
    """Delete leftover temporary upload files (after a crash)."""
    settings = _settings(settings)
    shutil.rmtree(Path(settings.home) / "work" / "uploads", ignore_errors=True)
