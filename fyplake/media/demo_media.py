"""Real media for videos that have none: a generated world's videos (``fyp demo``) get a short,
distinct synthetic clip each, run through the real upload pipeline, so the web feed plays them.

The generator makes catalog rows, never media files: its videos are ``ready`` in Postgres without
a stored original, renditions or a master playlist, and the web page can only show their titles.
:func:`give_media` fixes that for chosen ids (the demo picks its user's first feed pages):

1. :func:`synth_clip` renders a clip with ffmpeg's ``gradients`` source and a few drifting boxes
   placed from a seed (so no two clips match as duplicates), the video's title and id drawn on it
   when ``drawtext`` and a font are there; small and vertical, no audio (the video keeps the
   sound the world gave it);
2. :func:`attach_original` stores it as the video's original exactly as an upload is stored
   (``originals/<id>/<sha16>/source.mp4``, a ``video_sources`` row, a queued ``upload_jobs``
   row) and puts the video back to ``processing``;
3. :func:`fyplake.media.uploads.run_inline` runs the pipeline ``fyp upload --wait`` and the
   transcode DAG run: probe, fingerprint, the one-graph HLS ladder, thumbnails, master playlist,
   Postgres records, ``ready``.

Idempotent: a video that already has a stored original and is ``ready`` is left alone.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fyplake.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from fyplake.media.store import open_store, original_key

#: Fonts tried for the title (Debian's fonts-dejavu-core); without one the clip has no text.
FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def _font() -> str | None:
    return next((f for f in FONTS if Path(f).is_file()), None)


def _has_filter(name: str) -> bool:
    out = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-filters"], capture_output=True, text=True, check=False
    ).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def synth_clip(
    path: str | Path,
    *,
    seed: int,
    title: str = "",
    width: int = 360,
    height: int = 640,
    seconds: float = 15.0,
    fps: int = 12,
) -> Path:
    """A ``width`` x ``height`` H.264 MP4 of ``seconds`` without audio: a seeded gradient with
    drifting boxes, ``title`` drawn over it when ffmpeg has ``drawtext`` and a font is found.
    15 s by default: the shortest upload the validation accepts (``media_min_duration_s``)."""
    path = Path(path)
    rng = random.Random(seed)
    layers = ["format=yuv420p"]
    for _ in range(5):
        bw, bh = rng.randint(width // 8, width // 3), rng.randint(height // 8, height // 3)
        vx, vy = rng.uniform(-60, 60), rng.uniform(-60, 60)
        x0, y0 = rng.randint(0, width), rng.randint(0, height)
        layers.append(
            f"drawbox=x='mod({x0}+{vx:.1f}*t,{width})-{bw // 2}'"
            f":y='mod({y0}+{vy:.1f}*t,{height})-{bh // 2}':w={bw}:h={bh}"
            f":color=0x{rng.randint(0, 0xFFFFFF):06x}:t=fill"
        )
    font = _font()
    textfile = None
    if title and font and _has_filter("drawtext"):
        textfile = path.with_suffix(".txt")
        words, lines, line = title.split(), [], ""
        for w in words:  # wrap at ~22 characters
            if line and len(line) + 1 + len(w) > 22:
                lines.append(line)
                line = w
            else:
                line = f"{line} {w}".strip()
        lines.append(line)
        textfile.write_text("\n".join(lines[:4]), encoding="utf-8")
        layers.append(
            f"drawtext=fontfile={font}:textfile={textfile}:expansion=none:fontcolor=white"
            f":fontsize={max(12, width // 15)}:borderw=2:bordercolor=black:line_spacing=6"
            ":x=(w-text_w)/2:y=h*0.38"
        )
    source = (
        f"gradients=s={width}x{height}:r={fps}:d={seconds}:seed={seed % 2**31}"
        f":speed=0.03:c0=0x{rng.randint(0, 0xFFFFFF):06x}:c1=0x{rng.randint(0, 0xFFFFFF):06x}"
    )
    args = [
        "-f",
        "lavfi",
        "-i",
        source,
        "-vf",
        ",".join(layers),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        str(fps * 2),
        "-pix_fmt",
        "yuv420p",
        "-an",
        "-movflags",
        "+faststart",
        str(path),
    ]
    try:
        run_ffmpeg(args, what="demo clip", timeout=120)  # FFmpegError (a RuntimeError) on failure
    finally:
        if textfile is not None:
            textfile.unlink(missing_ok=True)
    return path


def has_media(conn: Any, video_id: int) -> bool:
    """Whether the video is ``ready`` with a stored original and a master playlist."""
    row = conn.execute(
        """SELECT v.status = 'ready' AND v.url IS NOT NULL AND s.original_path IS NOT NULL
             FROM videos v LEFT JOIN video_sources s ON s.video_id = v.id WHERE v.id = %s""",
        (video_id,),
    ).fetchone()
    return bool(row and row[0])


def attach_original(video_id: int, clip: str | Path, *, settings: Any) -> None:
    """Store ``clip`` as the original of the existing video ``video_id`` (as an upload stores
    one) and queue its transcode: the video is ``processing`` until the pipeline finishes."""
    import psycopg

    from fyplake.media.pipeline import sha256_file
    from fyplake.serving.clients import resolve_postgres_dsn

    clip = Path(clip)
    sha = sha256_file(clip)
    size = clip.stat().st_size
    key = original_key(video_id, sha, ".mp4")
    store = open_store(settings)
    store.put_file(key, clip)
    with psycopg.connect(resolve_postgres_dsn(settings), autocommit=True) as conn:
        with conn.transaction():
            conn.execute(
                """INSERT INTO video_sources (video_id, original_path, content_sha256,
                                              asset_prefix, filename, size_bytes)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (video_id) DO UPDATE SET original_path = EXCLUDED.original_path,
                       content_sha256 = EXCLUDED.content_sha256,
                       asset_prefix = EXCLUDED.asset_prefix, filename = EXCLUDED.filename,
                       size_bytes = EXCLUDED.size_bytes, probe = NULL, probed_at = NULL,
                       uploaded_at = now()""",
                (video_id, key, sha, f"videos/{video_id}/{sha[:16]}", clip.name, size),
            )
            conn.execute(
                """INSERT INTO upload_jobs (video_id, original_uri) VALUES (%s, %s)
                   ON CONFLICT (video_id) DO UPDATE SET original_uri = EXCLUDED.original_uri,
                       state = 'queued', attempts = 0, runner = NULL, dag_run_id = NULL,
                       last_error = NULL, requested_at = now(), triggered_at = NULL,
                       started_at = NULL, finished_at = NULL""",
                (video_id, store.uri(key)),
            )
            conn.execute(
                """UPDATE videos SET status = 'processing', status_reason = NULL,
                          duplicate_of = NULL, updated_at = now()
                    WHERE id = %s""",
                (video_id,),
            )


def give_media(
    video_ids: Iterable[int],
    *,
    settings: Any = None,
    on_video: Callable[[dict[str, Any]], None] | None = None,
    **clip: Any,
) -> list[dict[str, Any]]:
    """Give each video without media a synthetic clip, transcoded by the real pipeline.

    Returns one dict per id: ``video_id``, ``status`` (``ready``, ``failed`` with ``reason``, or
    ``had media``) and the pipeline's ``seconds``. ``clip`` goes to :func:`synth_clip`
    (``width``, ``height``, ``seconds``, ``fps``). Raises ``LookupError`` for an unknown id."""
    import psycopg

    from fyplake.media.uploads import run_inline
    from fyplake.serving.clients import resolve_postgres_dsn

    if settings is None:
        from fyplake.config import get_settings

        settings = get_settings()
    dsn = resolve_postgres_dsn(settings)
    done = []
    with tempfile.TemporaryDirectory(prefix="fyp-demo-media-") as tmp:
        for vid in video_ids:
            with psycopg.connect(dsn, autocommit=True) as conn:
                row = conn.execute("SELECT title FROM videos WHERE id = %s", (vid,)).fetchone()
                if row is None:
                    raise LookupError(f"video {vid} does not exist")
                if has_media(conn, vid):
                    out = {"video_id": vid, "status": "had media", "seconds": 0.0}
                    done.append(out)
                    if on_video is not None:
                        on_video(out)
                    continue
            title = f"#{vid} {row[0] or ''}".strip()
            path = synth_clip(Path(tmp) / f"video-{vid}.mp4", seed=int(vid), title=title, **clip)
            attach_original(vid, path, settings=settings)
            path.unlink(missing_ok=True)
            result = run_inline(vid, settings=settings)
            out = {
                "video_id": vid,
                "status": result["status"],
                "reason": result.get("reason"),
                "seconds": result["timings"].get("total"),
            }
            done.append(out)
            if on_video is not None:
                on_video(out)
    return done
