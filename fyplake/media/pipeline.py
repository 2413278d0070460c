"""The video pipeline as steps over one video id (Airflow tasks and `fyp upload --wait` run them).

    validate -> fingerprint (dedupe) -> plan -> transcode (the whole ladder from one ffmpeg graph)
                                             -> thumbnails, audio (alongside the renditions)
             -> store (master playlist + Postgres records) -> mark_ready

Every step takes the video id (and, for ``transcode``/``store``, what earlier steps returned),
reads what it needs from Postgres and the media store, and returns a small JSON-able dict (XCom
carries these, never media). Each step is idempotent: outputs go to fixed, content-addressed keys
(``videos/<id>/<sha16>/...``) and Postgres rows are upserted or replaced, so re-running a step
for the same upload gives the same outputs. A step that finds the video already ``failed`` or
``duplicate`` does nothing. Only :func:`step_mark_ready` sets ``ready``, and only from
``processing``; only ``ready`` videos are ever served.

The content fingerprint runs *before* the transcode (the issue lists it after): a re-upload is
then marked ``duplicate`` within seconds and never costs a transcode.

Failures: a file that is not a valid video ends as ``failed`` with a reason from
:func:`step_validate` (the run itself succeeds); an ffmpeg crash raises, is retried (by Airflow,
or once by :func:`run_pipeline`), and after the last attempt the video is marked ``failed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fyplake.media.store import MediaStore, open_store, public_url

logger = logging.getLogger(__name__)

TERMINAL = ("failed", "duplicate")
#: Advisory-lock keys serializing duplicate and sound matching across concurrent runs.
_LOCK_FINGERPRINT = 0x66797001
_LOCK_SOUND = 0x66797002


class VideoNotFound(LookupError):
    pass


# --------------------------------------------------------------------------------------------
# plumbing
# --------------------------------------------------------------------------------------------


def _settings(settings: Any) -> Any:
    if settings is not None:
        return settings
    from fyplake.config import get_settings

    return get_settings()


@contextmanager
def connect(settings: Any = None):
    """A Postgres connection (autocommit) to the configured or embedded server."""
    import psycopg

    from fyplake.endpoints import postgres_dsn

    with psycopg.connect(postgres_dsn(_settings(settings)), autocommit=True) as conn:
        yield conn


def work_dir(settings: Any, video_id: int) -> Path:
    """Local scratch space of one video (originals fetched from S3, encoder output)."""
    return Path(settings.home) / "work" / "media" / str(int(video_id))


def _video(conn: Any, video_id: int) -> dict[str, Any]:
    row = conn.execute(
        """SELECT v.id, v.creator_id, v.status, v.status_reason, v.duplicate_of, v.sound_id,
                  s.original_path, s.content_sha256, s.asset_prefix, s.size_bytes, s.probe,
                  s.filename
             FROM videos v LEFT JOIN video_sources s ON s.video_id = v.id
            WHERE v.id = %s""",
        (video_id,),
    ).fetchone()
    if row is None:
        raise VideoNotFound(f"video {video_id} does not exist")
    cols = [
        "id",
        "creator_id",
        "status",
        "status_reason",
        "duplicate_of",
        "sound_id",
        "original_path",
        "content_sha256",
        "asset_prefix",
        "size_bytes",
        "probe",
        "filename",
    ]
    return dict(zip(cols, row, strict=True))


def _skip(video: dict[str, Any]) -> dict[str, Any] | None:
    if video["status"] in TERMINAL:
        return {"skipped": True, "status": video["status"], "reason": video["status_reason"]}
    return None


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def local_original(settings: Any, video: dict[str, Any], store: MediaStore | None = None) -> Path:
    """A local file with the original bytes: the stored file itself for a local store, else a
    verified copy in the work dir (downloaded once per machine)."""
    from fyplake.media.store import LocalMediaStore

    store = store or open_store(settings)
    key = video["original_path"]
    if not key:
        raise FileNotFoundError(f"video {video['id']} has no stored original")
    if isinstance(store, LocalMediaStore):
        return store.local_path(key)
    dest = work_dir(settings, video["id"]) / ("source" + Path(key).suffix)
    marker = dest.with_suffix(dest.suffix + ".sha256")
    if dest.exists() and marker.exists() and marker.read_text().strip() == video["content_sha256"]:
        return dest
    tmp = dest.with_suffix(dest.suffix + ".part")
    store.get_file(key, tmp)
    digest = sha256_file(tmp)
    if video["content_sha256"] and digest != video["content_sha256"]:
        tmp.unlink(missing_ok=True)
        raise OSError(f"original of video {video['id']} changed in the store (sha256 mismatch)")
    tmp.replace(dest)
    marker.write_text(digest)
    return dest


def mark_failed(video_id: int, reason: str, *, settings: Any = None, conn: Any = None) -> bool:
    """Set ``failed`` with ``reason`` (only from ``processing``); close the upload job."""
    settings = _settings(settings)
    reason = reason.strip().replace("\n", " ")[:1000]
    with _maybe_connect(settings, conn) as c:
        with c.transaction():
            cur = c.execute(
                """UPDATE videos SET status = 'failed', status_reason = %s, updated_at = now()
                    WHERE id = %s AND status = 'processing'""",
                (reason, video_id),
            )
            c.execute(
                """UPDATE upload_jobs SET state = 'failed', last_error = %s, finished_at = now()
                    WHERE video_id = %s AND state <> 'done'""",
                (reason, video_id),
            )
    if cur.rowcount:
        logger.info("video %s failed: %s", video_id, reason)
    return bool(cur.rowcount)


@contextmanager
def _maybe_connect(settings: Any, conn: Any):
    if conn is not None:
        yield conn
    else:
        with connect(settings) as c:
            yield c


# --------------------------------------------------------------------------------------------
# steps
# --------------------------------------------------------------------------------------------


def step_validate(
    video_id: int, *, settings: Any = None, run_id: str | None = None, runner: str = "inline"
) -> dict[str, Any]:
    """Acknowledge the upload job, probe the original and apply the upload rules.

    Returns ``{"ok": True, "probe": {...}}``, or ``{"ok": False, "reason": ...}`` after marking
    the video ``failed`` (a bad file is an outcome, not an error)."""
    from fyplake.media.probe import ProbeError, probe, validate

    settings = _settings(settings)
    with connect(settings) as conn:
        video = _video(conn, video_id)
        conn.execute(
            """UPDATE upload_jobs SET state = 'running', started_at = coalesce(started_at, now()),
                      dag_run_id = coalesce(%s, dag_run_id), runner = %s
                WHERE video_id = %s AND state IN ('queued', 'triggered', 'running')""",
            (run_id, runner, video_id),
        )
        if (skipped := _skip(video)) is not None:
            return {"ok": False, **skipped}
        try:
            path = local_original(settings, video)
            result = probe(path)
        except ProbeError as exc:
            reason = f"invalid upload: {exc}"
            mark_failed(video_id, reason, settings=settings, conn=conn)
            shutil.rmtree(work_dir(settings, video_id), ignore_errors=True)
            return {"ok": False, "reason": reason}
        except FileNotFoundError as exc:
            reason = f"invalid upload: the original file is missing ({exc})"
            mark_failed(video_id, reason, settings=settings, conn=conn)
            return {"ok": False, "reason": reason}
        problems = validate(result, settings)
        with conn.transaction():
            conn.execute(
                """UPDATE video_sources SET container = %s, video_codec = %s, audio_codec = %s,
                          width = %s, height = %s, rotation = %s, fps = %s, has_audio = %s,
                          duration_ms = %s, probe = %s, probed_at = now()
                    WHERE video_id = %s""",
                (
                    result.container,
                    result.video_codec,
                    result.audio_codec,
                    result.width,
                    result.height,
                    result.rotation,
                    result.fps,
                    result.has_audio,
                    result.duration_ms,
                    json.dumps(result.as_dict()),
                    video_id,
                ),
            )
            conn.execute(
                "UPDATE videos SET duration_ms = %s, updated_at = now() WHERE id = %s",
                (result.duration_ms, video_id),
            )
        if problems:
            reason = "invalid upload: " + "; ".join(problems)
            mark_failed(video_id, reason, settings=settings, conn=conn)
            shutil.rmtree(work_dir(settings, video_id), ignore_errors=True)
            return {"ok": False, "reason": reason, "probe": result.as_dict()}
    return {"ok": True, "probe": result.as_dict()}


def _probe_of(video: dict[str, Any]) -> Any:
    from fyplake.media.probe import ProbeResult

    if not video["probe"]:
        raise RuntimeError(f"video {video['id']} has not been validated yet")
    data = video["probe"] if isinstance(video["probe"], dict) else json.loads(video["probe"])
    return ProbeResult.from_dict(data)


def step_fingerprint(video_id: int, *, settings: Any = None) -> dict[str, Any]:
    """Hash sampled frames; mark the video ``duplicate`` if an earlier upload has the same content.

    Returns ``{"duplicate_of": id or None, "match_fraction": f}``."""
    from fyplake.media import fingerprint as fp

    settings = _settings(settings)
    with connect(settings) as conn:
        video = _video(conn, video_id)
        if (skipped := _skip(video)) is not None:
            return {"duplicate_of": video["duplicate_of"], **skipped}
        info = _probe_of(video)
        hashes = fp.frame_hashes(
            local_original(settings, video), info.duration_ms, settings.media_fingerprint_frames
        )
        lo, hi = fp.duration_window(info.duration_ms)
        best: tuple[float, int] | None = None
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_FINGERPRINT,))
            conn.execute(
                """INSERT INTO video_fingerprints (video_id, algorithm, frame_hashes, duration_ms)
                   VALUES (%s, %s, %s, %s)
                   ON CONFLICT (video_id) DO UPDATE SET algorithm = EXCLUDED.algorithm,
                       frame_hashes = EXCLUDED.frame_hashes, duration_ms = EXCLUDED.duration_ms,
                       created_at = now()""",
                (video_id, fp.ALGORITHM, hashes, info.duration_ms),
            )
            rows = conn.execute(
                """SELECT f.video_id, f.frame_hashes FROM video_fingerprints f
                     JOIN videos v ON v.id = f.video_id
                    WHERE f.video_id <> %s AND f.algorithm = %s
                      AND f.duration_ms BETWEEN %s AND %s
                      AND v.status IN ('processing', 'ready')
                    ORDER BY f.video_id""",
                (video_id, fp.ALGORITHM, lo, hi),
            ).fetchall()
            for other_id, other_hashes in rows:
                frac = fp.match_fraction(
                    hashes, list(other_hashes), settings.media_duplicate_max_hamming
                )
                if frac >= settings.media_duplicate_min_fraction and (
                    best is None or frac > best[0]
                ):
                    best = (frac, other_id)
            if best is not None:
                frac, original = best
                reason = (
                    f"duplicate of video {original}: {round(frac * len(hashes))} of "
                    f"{len(hashes)} sampled frames match"
                )
                conn.execute(
                    """UPDATE videos SET status = 'duplicate', duplicate_of = %s,
                              status_reason = %s, updated_at = now()
                        WHERE id = %s AND status = 'processing'""",
                    (original, reason, video_id),
                )
                conn.execute(
                    """UPDATE upload_jobs SET state = 'done', finished_at = now()
                        WHERE video_id = %s""",
                    (video_id,),
                )
                logger.info("video %s is a %s", video_id, reason)
                shutil.rmtree(work_dir(settings, video_id), ignore_errors=True)
                return {"duplicate_of": original, "match_fraction": frac, "reason": reason}
    return {"duplicate_of": None, "match_fraction": 0.0 if best is None else best[0]}


def step_plan(video_id: int, *, settings: Any = None) -> list[dict[str, Any]]:
    """The renditions to make (largest first), as dicts for dynamic task mapping."""
    from fyplake.media.transcode import plan_ladder

    settings = _settings(settings)
    with connect(settings) as conn:
        video = _video(conn, video_id)
        if _skip(video) is not None:
            return []
        info = _probe_of(video)
    plan = plan_ladder(
        info.width,
        info.height,
        settings.media_ladder,
        has_audio=info.has_audio,
        audio_kbps=settings.media_audio_kbps,
    )
    return [r.as_dict() for r in plan]


def step_transcode_ladder(
    video_id: int,
    renditions: list[dict[str, Any]],
    *,
    settings: Any = None,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Encode ``renditions`` from one decode of the original (one ffmpeg filter graph) and put
    each one's playlist and segments into the media store."""
    from fyplake.media.transcode import Rendition, transcode_ladder

    settings = _settings(settings)
    with connect(settings) as conn:
        video = _video(conn, video_id)
    if (skipped := _skip(video)) is not None:
        return [{"name": r.get("name"), **skipped} for r in renditions]
    if not renditions:
        return []
    info = _probe_of(video)
    plan = [Rendition.from_dict(r) for r in renditions]
    hls_dir = work_dir(settings, video_id) / "hls"
    outputs = [(hls_dir / r.name, r) for r in plan]
    made = transcode_ladder(
        local_original(settings, video), outputs, fps=info.fps, settings=settings, threads=threads
    )
    store = open_store(settings)
    results = []
    for (out_dir, r), out in zip(outputs, made, strict=True):
        prefix = f"{video['asset_prefix']}/hls/{r.name}"
        # Segments first, playlist last: a reader that sees the playlist finds every segment.
        for seg in sorted(out_dir.glob("*.ts")):
            store.put_file(f"{prefix}/{seg.name}", seg)
        store.put_file(f"{prefix}/{out.playlist}", out_dir / out.playlist)
        shutil.rmtree(out_dir, ignore_errors=True)
        result = out.as_dict()
        result["playlist_path"] = f"{prefix}/{out.playlist}"
        results.append(result)
    return results


def step_thumbnails(video_id: int, *, settings: Any = None) -> list[dict[str, Any]]:
    """JPEG thumbnails at several instants, stored under ``<prefix>/thumbs/``."""
    from fyplake.media.thumbnails import make_thumbnails

    settings = _settings(settings)
    with connect(settings) as conn:
        video = _video(conn, video_id)
    if _skip(video) is not None:
        return []
    info = _probe_of(video)
    out_dir = work_dir(settings, video_id) / "thumbs"
    thumbs = make_thumbnails(
        local_original(settings, video),
        out_dir,
        info.duration_ms,
        count=settings.media_thumbnail_count,
        short_side=settings.media_thumbnail_short_side,
    )
    store = open_store(settings)
    result = []
    for t in thumbs:
        key = f"{video['asset_prefix']}/thumbs/{t.file}"
        store.put_file(key, out_dir / t.file)
        result.append({"t_ms": t.t_ms, "path": key, "width": t.width, "height": t.height})
    shutil.rmtree(out_dir, ignore_errors=True)
    return result


def step_audio(video_id: int, *, settings: Any = None) -> dict[str, Any]:
    """Extract the soundtrack, fingerprint it and link the video to its sound.

    A soundtrack that matches an earlier upload's (bit error rate under
    ``settings.media_sound_max_ber``) links to that upload's sound; otherwise a new "original
    sound" is created for the creator. No audio, or silence: no sound is linked (a sound the
    uploader picked, ``videos.sound_id``, is kept)."""
    import base64

    from fyplake.media import audio

    settings = _settings(settings)
    with connect(settings) as conn:
        video = _video(conn, video_id)
        if (skipped := _skip(video)) is not None:
            return {"sound_id": video["sound_id"], **skipped}
        info = _probe_of(video)
        if not info.has_audio:
            conn.execute("DELETE FROM audio_fingerprints WHERE video_id = %s", (video_id,))
            return {"sound_id": video["sound_id"], "audio": None, "reason": "no audio track"}
        wd = work_dir(settings, video_id) / "audio"
        m4a = audio.extract_audio(local_original(settings, video), wd / "sound.m4a")
        key = f"{video['asset_prefix']}/audio/sound.m4a"
        open_store(settings).put_file(key, m4a)
        pcm = audio.decode_pcm(m4a)
        shutil.rmtree(wd, ignore_errors=True)
        if audio.is_silent(pcm):
            conn.execute("DELETE FROM audio_fingerprints WHERE video_id = %s", (video_id,))
            return {"sound_id": video["sound_id"], "audio": key, "reason": "silent audio track"}
        fp = audio.fingerprint(pcm)
        keys = audio.index_keys(fp)
        duration_ms = int(len(pcm) * 1000 / audio.SAMPLE_RATE)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_SOUND,))
            existing = conn.execute(
                "SELECT sound_id FROM audio_fingerprints WHERE video_id = %s", (video_id,)
            ).fetchone()
            match: tuple[Any, int] | None = None
            rows = conn.execute(
                """SELECT video_id, sound_id, fingerprint FROM audio_fingerprints
                    WHERE hashes && %s::integer[] AND video_id <> %s AND sound_id IS NOT NULL
                      AND algorithm = %s
                    ORDER BY video_id LIMIT 200""",
                (keys, video_id, audio.ALGORITHM),
            ).fetchall()
            for _other, sound_id, other_fp in rows:
                m = audio.best_match(audio.from_bytes(other_fp), fp)
                if (
                    m is not None
                    and m.ber < settings.media_sound_max_ber
                    and (match is None or m.ber < match[0].ber)
                ):
                    match = (m, sound_id)
            if existing is not None and existing[0] is not None:
                sound_id, created = existing[0], False  # a re-run keeps its first answer
            elif match is not None:
                sound_id, created = match[1], False
            elif video["sound_id"] is not None:
                sound_id, created = video["sound_id"], False
            else:
                fp_text = f"{audio.ALGORITHM}:" + base64.b64encode(audio.to_bytes(fp)).decode()
                sound_id = conn.execute(
                    """INSERT INTO sounds (id, title, creator_id, audio_fingerprint)
                       VALUES (nextval('media_sound_id_seq'), %s, %s, %s) RETURNING id""",
                    (
                        f"original sound - creator {video['creator_id']}",
                        video["creator_id"],
                        fp_text,
                    ),
                ).fetchone()[0]
                created = True
            ber = match[0].ber if match and match[1] == sound_id else (0.0 if created else None)
            offset = (
                match[0].offset_ms if match and match[1] == sound_id else (0 if created else None)
            )
            conn.execute(
                """INSERT INTO audio_fingerprints (video_id, sound_id, algorithm, fingerprint,
                          hashes, duration_ms, audio_path, match_ber, match_offset_ms)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (video_id) DO UPDATE SET sound_id = EXCLUDED.sound_id,
                       algorithm = EXCLUDED.algorithm, fingerprint = EXCLUDED.fingerprint,
                       hashes = EXCLUDED.hashes, duration_ms = EXCLUDED.duration_ms,
                       audio_path = EXCLUDED.audio_path, match_ber = EXCLUDED.match_ber,
                       match_offset_ms = EXCLUDED.match_offset_ms""",
                (
                    video_id,
                    sound_id,
                    audio.ALGORITHM,
                    audio.to_bytes(fp),
                    keys,
                    duration_ms,
                    key,
                    ber,
                    offset,
                ),
            )
            conn.execute(
                "UPDATE videos SET sound_id = %s, updated_at = now() WHERE id = %s",
                (sound_id, video_id),
            )
    return {
        "sound_id": sound_id,
        "created": created,
        "audio": key,
        "match_ber": None if ber is None else round(float(ber), 4),
    }


def step_store(
    video_id: int,
    renditions: list[dict[str, Any]],
    thumbnails: list[dict[str, Any]],
    *,
    settings: Any = None,
) -> dict[str, Any]:
    """Write the master playlist; record renditions and thumbnails; set ``videos.url``."""
    from fyplake.media.transcode import master_playlist

    settings = _settings(settings)
    renditions = [r for r in renditions if r and not r.get("skipped")]
    with connect(settings) as conn:
        video = _video(conn, video_id)
        if (skipped := _skip(video)) is not None:
            return skipped
        if not renditions:
            raise RuntimeError(f"video {video_id}: no rendition was produced")
        prefix = video["asset_prefix"]
        master_key = f"{prefix}/hls/master.m3u8"
        text = master_playlist(renditions)
        open_store(settings).put_bytes(master_key, text.encode())
        url = public_url(settings, master_key)
        with conn.transaction():
            conn.execute("DELETE FROM video_renditions WHERE video_id = %s", (video_id,))
            conn.execute("DELETE FROM video_thumbnails WHERE video_id = %s", (video_id,))
            for r in renditions:
                conn.execute(
                    """INSERT INTO video_renditions (video_id, name, width, height, bandwidth,
                              average_bandwidth, codecs, frame_rate, segment_count, duration_ms,
                              playlist_path)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    (
                        video_id,
                        r["name"],
                        r["width"],
                        r["height"],
                        r["bandwidth"],
                        r["average_bandwidth"],
                        r["codecs"],
                        r.get("frame_rate"),
                        r["segment_count"],
                        r["duration_ms"],
                        r["playlist_path"],
                    ),
                )
            for t in thumbnails or []:
                conn.execute(
                    """INSERT INTO video_thumbnails (video_id, t_ms, path, width, height)
                       VALUES (%s, %s, %s, %s, %s)""",
                    (video_id, t["t_ms"], t["path"], t["width"], t["height"]),
                )
            conn.execute(
                "UPDATE videos SET url = %s, updated_at = now() WHERE id = %s", (url, video_id)
            )
    return {
        "master": master_key,
        "url": url,
        "renditions": [r["name"] for r in renditions],
        "thumbnails": len(thumbnails or []),
    }


def step_mark_ready(video_id: int, *, settings: Any = None, cleanup: bool = True) -> dict[str, Any]:
    """``processing`` -> ``ready`` (only once the master playlist is recorded); close the job."""
    settings = _settings(settings)
    with connect(settings) as conn:
        with conn.transaction():
            conn.execute(
                """UPDATE videos SET status = 'ready', status_reason = NULL, updated_at = now()
                    WHERE id = %s AND status = 'processing' AND url IS NOT NULL
                      AND EXISTS (SELECT 1 FROM video_renditions r WHERE r.video_id = videos.id)""",
                (video_id,),
            )
            conn.execute(
                """UPDATE upload_jobs SET state = 'done', finished_at = coalesce(finished_at, now())
                    WHERE video_id = %s AND state <> 'failed'""",
                (video_id,),
            )
        video = _video(conn, video_id)
        landed = land_ready_video(conn, video_id, settings) if video["status"] == "ready" else None
    if cleanup:
        shutil.rmtree(work_dir(settings, video_id), ignore_errors=True)
    if video["status"] != "ready":
        return {"status": video["status"], "reason": video["status_reason"]}
    return {"status": "ready", "landed": landed}


def land_ready_video(conn: Any, video_id: int, settings: Any) -> str:
    """Hand a ready upload to the lake: its ``videos`` record (and its original sound's, when the
    pipeline created one) as a landing file, so ingest -> silver -> the nightly make it a
    candidate and put it in lists like any other video.

    Written after ``ready`` is committed, never before (the lake must not call a video ready
    that Postgres does not); a re-run writes the same file name again, and silver upserts by id.
    """
    from fyplake.ids import PLATFORM_SOURCE, is_platform_id
    from fyplake.landing import iso_utc, landing_root, write_records

    row = conn.execute(
        """SELECT v.creator_id, v.duration_ms, v.title, v.description, v.hashtags, v.sound_id,
                  v.language, v.created_at, s.title, s.creator_id, s.created_at
             FROM videos v LEFT JOIN sounds s ON s.id = v.sound_id WHERE v.id = %s""",
        (video_id,),
    ).fetchone()
    (
        creator_id,
        duration_ms,
        title,
        description,
        hashtags,
        sound_id,
        language,
        created_at,
        sound_title,
        sound_creator,
        sound_created,
    ) = row
    root = landing_root(settings)
    if sound_id is not None and is_platform_id(sound_id):
        write_records(
            root,
            "sounds",
            [
                {
                    "sound_id": sound_id,
                    "title": sound_title,
                    "creator_id": sound_creator,
                    "created_at": iso_utc(sound_created),
                    "source": PLATFORM_SOURCE,
                }
            ],
            producer="upload",
            token=f"sound-{sound_id}",
            settings=settings,
        )
    path = write_records(
        root,
        "videos",
        [
            {
                "video_id": video_id,
                "creator_id": creator_id,
                "duration_ms": duration_ms,
                "title": title,
                "description": description,
                "hashtags": list(hashtags or []),
                "sound_id": sound_id,
                "language": language,
                "status": "ready",
                "created_at": iso_utc(created_at),
                "source": PLATFORM_SOURCE,
            }
        ],
        producer="upload",
        token=f"video-{video_id}",
        settings=settings,
    )
    return str(path)


# --------------------------------------------------------------------------------------------
# the whole pipeline in-process (fyp upload --wait, tests, bench)
# --------------------------------------------------------------------------------------------


def run_pipeline(
    video_id: int,
    *,
    settings: Any = None,
    workers: int | None = None,
    retries: int = 1,
    run_id: str | None = None,
    on_step: Any = None,
) -> dict[str, Any]:
    """Run every step for ``video_id`` in this process: the whole ladder from one ffmpeg run
    (one decode, ``split`` into one encoder per rendition), thumbnails and audio beside it.

    The same step functions the Airflow tasks call. Never raises for a bad upload or an ffmpeg
    crash: the video ends ``failed`` with the reason. Returns the final status, reason and
    per-step timings. ``on_step(name)`` is called as each step finishes (progress display).
    ``workers`` is accepted for older callers and no longer used: there is one ffmpeg."""
    del workers
    from fyplake.media.ffmpeg import FFmpegError
    from fyplake.media.transcode import default_threads

    settings = _settings(settings)
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    def timed(name: str, fn, *args, **kwargs):
        start = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            timings[name] = round(time.monotonic() - start, 3)
            if on_step is not None:
                on_step(name)

    def result(extra: dict[str, Any] | None = None) -> dict[str, Any]:
        with connect(settings) as conn:
            video = _video(conn, video_id)
        timings["total"] = round(time.monotonic() - t0, 3)
        out = {
            "video_id": video_id,
            "status": video["status"],
            "reason": video["status_reason"],
            "duplicate_of": video["duplicate_of"],
            "sound_id": video["sound_id"],
            "timings": timings,
        }
        out.update(extra or {})
        return out

    def attempt(name: str, fn, *args, **kwargs):
        for i in range(retries + 1):
            try:
                return timed(name, fn, *args, settings=settings, **kwargs)
            except (FFmpegError, OSError, ValueError, RuntimeError) as exc:
                logger.warning("%s of video %s failed (attempt %d): %s", name, video_id, i + 1, exc)
                if i == retries:
                    raise

    try:
        checked = timed("validate", step_validate, video_id, settings=settings, run_id=run_id)
        if not checked["ok"]:
            return result()
        dup = attempt("fingerprint", step_fingerprint, video_id)
        if dup.get("duplicate_of"):
            return result()
        plan = step_plan(video_id, settings=settings)
        threads = default_threads(settings, 1)
        with ThreadPoolExecutor(max_workers=2) as side:
            # Thumbnails and audio run beside the one ffmpeg that makes the whole ladder.
            thumbs_f = side.submit(attempt, "thumbnails", step_thumbnails, video_id)
            audio_f = side.submit(attempt, "audio", step_audio, video_id)
            renditions = attempt(
                "transcode", step_transcode_ladder, video_id, plan, threads=threads
            )
            thumbs = thumbs_f.result()
            sound = audio_f.result()
        timed("store", step_store, video_id, renditions, thumbs, settings=settings)
        timed("mark_ready", step_mark_ready, video_id, settings=settings)
        return result(
            {
                "renditions": [
                    {k: r[k] for k in ("name", "width", "height", "started_at", "finished_at")}
                    for r in renditions
                    if not r.get("skipped")
                ],
                "sound": sound,
            }
        )
    except Exception as exc:  # noqa: BLE001 - the outcome is recorded on the video
        what = exc.args[0] if exc.args else type(exc).__name__
        mark_failed(video_id, f"processing failed: {what}", settings=settings)
        logger.exception("video %s failed", video_id)
        return result({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        shutil.rmtree(work_dir(settings, video_id), ignore_errors=True)
