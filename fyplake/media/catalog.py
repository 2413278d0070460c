"""What the serving API (and ``fyp video``) read about a video's media. Read-only."""

from __future__ import annotations

from typing import Any

from fyplake.media.store import public_url


def video_media(conn: Any, video_id: int, settings: Any = None) -> dict[str, Any] | None:
    """A video's status and media, or None when there is no such video.

    ``conn`` is a psycopg (3) connection. URLs are ``settings.media_public_url`` + the media-store
    key; everything under ``videos/`` is immutable (cache forever). Keys:

    - ``video_id``, ``creator_id``, ``status`` (processing|ready|failed|duplicate), ``reason``,
      ``duplicate_of``, ``sound_id``, ``duration_ms``, ``width``, ``height``, ``has_audio``
    - ``url``: the master HLS playlist (None until the video is ready)
    - ``renditions``: ``[{name, width, height, bandwidth, average_bandwidth, codecs, frame_rate,
      segment_count, duration_ms, path, url}]`` largest first (empty unless ready)
    - ``thumbnails``: ``[{t_ms, width, height, path, url}]`` in time order (empty unless ready)
    - ``cover_url``: the middle thumbnail, for feeds
    - ``job``: ``{state, runner, dag_run_id, attempts, requested_at, started_at, finished_at}``
    """
    if settings is None:
        from fyplake.config import get_settings

        settings = get_settings()
    row = conn.execute(
        """SELECT v.id, v.creator_id, v.status, v.status_reason, v.duplicate_of, v.sound_id,
                  v.duration_ms, s.width, s.height, s.has_audio, s.asset_prefix, v.created_at,
                  v.updated_at
             FROM videos v LEFT JOIN video_sources s ON s.video_id = v.id
            WHERE v.id = %s""",
        (video_id,),
    ).fetchone()
    if row is None:
        return None
    (
        vid,
        creator_id,
        status,
        reason,
        duplicate_of,
        sound_id,
        duration_ms,
        width,
        height,
        has_audio,
        prefix,
        created_at,
        updated_at,
    ) = row
    ready = status == "ready"
    renditions: list[dict[str, Any]] = []
    thumbnails: list[dict[str, Any]] = []
    master_url = None
    if ready:
        for r in conn.execute(
            """SELECT name, width, height, bandwidth, average_bandwidth, codecs, frame_rate,
                      segment_count, duration_ms, playlist_path
                 FROM video_renditions WHERE video_id = %s
                ORDER BY width * height DESC, bandwidth DESC""",
            (video_id,),
        ).fetchall():
            renditions.append(
                {
                    "name": r[0],
                    "width": r[1],
                    "height": r[2],
                    "bandwidth": r[3],
                    "average_bandwidth": r[4],
                    "codecs": r[5],
                    "frame_rate": r[6],
                    "segment_count": r[7],
                    "duration_ms": r[8],
                    "path": r[9],
                    "url": public_url(settings, r[9]),
                }
            )
        for t in conn.execute(
            """SELECT t_ms, width, height, path FROM video_thumbnails
                WHERE video_id = %s ORDER BY t_ms""",
            (video_id,),
        ).fetchall():
            thumbnails.append(
                {
                    "t_ms": t[0],
                    "width": t[1],
                    "height": t[2],
                    "path": t[3],
                    "url": public_url(settings, t[3]),
                }
            )
        if prefix:
            master_url = public_url(settings, f"{prefix}/hls/master.m3u8")
    job = conn.execute(
        """SELECT state, runner, dag_run_id, attempts, requested_at, started_at, finished_at
             FROM upload_jobs WHERE video_id = %s""",
        (video_id,),
    ).fetchone()
    return {
        "video_id": vid,
        "creator_id": creator_id,
        "status": status,
        "reason": reason,
        "duplicate_of": duplicate_of,
        "sound_id": sound_id,
        "duration_ms": duration_ms,
        "width": width,
        "height": height,
        "has_audio": has_audio,
        "url": master_url,
        "renditions": renditions,
        "thumbnails": thumbnails,
        "cover_url": thumbnails[len(thumbnails) // 2]["url"] if thumbnails else None,
        "created_at": created_at.isoformat() if created_at else None,
        "updated_at": updated_at.isoformat() if updated_at else None,
        "job": None
        if job is None
        else {
            "state": job[0],
            "runner": job[1],
            "dag_run_id": job[2],
            "attempts": job[3],
            "requested_at": job[4].isoformat() if job[4] else None,
            "started_at": job[5].isoformat() if job[5] else None,
            "finished_at": job[6].isoformat() if job[6] else None,
        },
    }
