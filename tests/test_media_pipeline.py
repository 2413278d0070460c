"""The video pipeline end to end on the embedded Postgres and the local media store.

Uploads go through ``submit_upload`` (the API's path) and run in-process through
``run_inline``/``run_pipeline`` (the same step functions the Airflow tasks call).
Clip seeds used in this file: 201-239.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import media_clips as clips
import pytest

from fyplake.media import pipeline
from fyplake.media.catalog import video_media
from fyplake.media.ffmpeg import ffmpeg_exe
from fyplake.media.store import open_store
from fyplake.media.transcode import parse_media_playlist
from fyplake.media.uploads import claim_job, claim_pending, run_inline, submit_upload

CREATOR = 7001


@pytest.fixture(scope="module")
def creator(stack):
    import psycopg

    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        for uid in (CREATOR, CREATOR + 1):
            conn.execute(
                "INSERT INTO users (id, is_creator) VALUES (%s, true) ON CONFLICT DO NOTHING",
                (uid,),
            )
    return CREATOR


def _media(pg, settings, video_id):
    return video_media(pg, video_id, settings)


def _upload_and_run(path, settings, creator_id=CREATOR, **kw):
    video_id = submit_upload(path, creator_id, settings=settings, **kw)
    result = run_inline(video_id, settings=settings)
    return video_id, result


def _readback(master: Path) -> str:
    """Decode every rendition of a master playlist with ffmpeg; returns ffmpeg's stderr."""
    proc = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(master),
            "-map",
            "0",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def test_landscape_with_audio_becomes_ready_with_a_readable_ladder(pg, settings, creator, tmp_path):
    import av

    clip = clips.make_clip(tmp_path / "land.mp4", width=854, height=480, seconds=16, seed=201)
    video_id, result = _upload_and_run(clip, settings, title="landscape")
    assert result["status"] == "ready", result
    media = _media(pg, settings, video_id)
    assert media["status"] == "ready" and media["reason"] is None
    assert [(r["name"], r["width"], r["height"]) for r in media["renditions"]] == [
        ("480p", 854, 480),
        ("360p", 640, 360),
    ]  # never above the 480p source
    sha16 = hashlib.sha256(clip.read_bytes()).hexdigest()[:16]  # content-addressed path
    assert media["url"] == f"/media/videos/{video_id}/{sha16}/hls/master.m3u8"
    assert len(media["thumbnails"]) == settings.media_thumbnail_count
    assert media["sound_id"] is not None and media["has_audio"] is True

    store = open_store(settings)
    root = Path(settings.media)
    master_key = media["url"].removeprefix("/media/")
    master = root / master_key
    text = master.read_text()
    assert text.count("#EXT-X-STREAM-INF:") == 2
    assert "RESOLUTION=854x480" in text and "RESOLUTION=640x360" in text
    assert 'CODECS="avc1.' in text and "mp4a.40.2" in text
    _readback(master)

    # Keyframes aligned: identical segment boundaries in every rendition, each starting on a
    # keyframe, 2 s apart.
    boundaries = []
    for r in media["renditions"]:
        playlist = root / r["path"]
        entries = parse_media_playlist(playlist)
        boundaries.append([d for d, _ in entries])
        for _, seg in entries:
            with av.open(str(playlist.parent / seg)) as c:
                first = next(p for p in c.demux(c.streams.video[0]) if p.size)
                assert first.is_keyframe
                assert (
                    c.streams.video[0].codec_context.width,
                    c.streams.video[0].codec_context.height,
                ) == (r["width"], r["height"])
                assert len(c.streams.audio) == 1
    assert boundaries[0] == boundaries[1] == [2.0] * 8
    for t in media["thumbnails"]:
        assert store.exists(t["path"]) and t["path"].startswith(f"videos/{video_id}/")


def test_portrait_without_audio_stays_portrait_and_silent(pg, settings, creator, tmp_path):
    import av

    clip = clips.make_clip(
        tmp_path / "port.mp4", width=480, height=854, seconds=16, seed=202, audio=None
    )
    video_id, result = _upload_and_run(clip, settings)
    assert result["status"] == "ready", result
    media = _media(pg, settings, video_id)
    assert [(r["width"], r["height"]) for r in media["renditions"]] == [(480, 854), (360, 640)]
    assert all(
        r["codecs"].startswith("avc1.") and "mp4a" not in r["codecs"] for r in media["renditions"]
    )
    assert media["sound_id"] is None and media["has_audio"] is False
    root = Path(settings.media)
    _readback(root / media["url"].removeprefix("/media/"))
    seg = next((root / media["renditions"][0]["path"]).parent.glob("seg_*.ts"))
    with av.open(str(seg)) as c:
        assert len(c.streams.audio) == 0
    for t in media["thumbnails"]:
        assert t["height"] > t["width"]


def test_fifteen_second_tiny_clip_is_accepted_and_gets_its_native_size(
    pg, settings, creator, tmp_path
):
    clip = clips.make_clip(tmp_path / "15s.mp4", width=144, height=256, seconds=15, fps=5, seed=203)
    video_id, result = _upload_and_run(clip, settings)
    assert result["status"] == "ready", result
    media = _media(pg, settings, video_id)
    assert [(r["name"], r["width"], r["height"]) for r in media["renditions"]] == [
        ("144p", 144, 256)
    ]
    assert media["duration_ms"] == 15000


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("text", "invalid upload: the file is text, not a video"),
        ("truncated", "invalid upload: the file starts like an MP4/MOV video but its index"),
        ("too_long", "invalid upload: the video is 61.0 s long; the longest allowed is 60 s"),
        ("empty", "invalid upload: the file is empty (0 bytes)"),
        ("audio_only", "invalid upload: the upload has no video stream"),
    ],
)
def test_bad_uploads_fail_with_a_reason(pg, settings, creator, tmp_path, kind, reason):
    if kind == "text":
        path = clips.text_as_mp4(tmp_path / "notes.mp4")
    elif kind == "truncated":
        whole = clips.make_clip(tmp_path / "whole.mp4", seed=204)
        path = clips.truncated(whole, tmp_path / "cut.mp4", keep=0.6)
    elif kind == "too_long":
        path = clips.make_clip(
            tmp_path / "61s.mp4", width=144, height=256, seconds=61, fps=5, seed=205, audio=None
        )
    elif kind == "empty":
        path = tmp_path / "empty.mp4"
        path.write_bytes(b"")
    else:
        path = clips.audio_only(tmp_path / "song.mp4", seed=206)
    video_id, result = _upload_and_run(path, settings)
    assert result["status"] == "failed"
    media = _media(pg, settings, video_id)
    assert media["status"] == "failed"
    assert media["reason"].startswith(reason), media["reason"]
    assert media["renditions"] == [] and media["url"] is None
    assert media["job"]["state"] == "failed"


def test_oversized_upload_is_recorded_failed_without_storing_it(pg, settings, creator, tmp_path):
    small = settings.model_copy(update={"upload_max_bytes": 1024})
    video_id = submit_upload(b"x" * 5000, CREATOR, filename="big.mp4", settings=small)
    media = _media(pg, settings, video_id)
    assert media["status"] == "failed" and "larger than the upload limit" in media["reason"]
    assert media["job"] is None  # nothing queued


def test_reencoded_reupload_is_a_duplicate_and_is_not_transcoded(pg, settings, creator, tmp_path):
    original = clips.make_clip(tmp_path / "orig.mp4", width=320, height=568, seed=210)
    copy = clips.reencode(original, tmp_path / "copy.mp4", width=240, height=426, fps=15, crf=33)
    first, r1 = _upload_and_run(original, settings)
    second, r2 = _upload_and_run(copy, settings, creator_id=CREATOR + 1)
    assert r1["status"] == "ready"
    assert r2["status"] == "duplicate", r2
    media = _media(pg, settings, second)
    assert media["duplicate_of"] == first
    assert media["reason"].startswith(f"duplicate of video {first}:")
    assert media["renditions"] == [] and "transcode_240p" not in r2["timings"]
    # Re-checking the original never turns it into a duplicate of its copy.
    assert pipeline.step_fingerprint(first, settings=settings)["duplicate_of"] is None
    assert _media(pg, settings, first)["status"] == "ready"


def test_clips_sharing_an_audio_track_link_to_one_sound(pg, settings, creator, tmp_path):
    song = clips.melody_wav(tmp_path / "song.wav", 16, seed=220)
    a = clips.make_clip(tmp_path / "a.mp4", width=320, height=568, seed=221, audio=song)
    b_src = clips.make_clip(tmp_path / "b0.mp4", width=568, height=320, seed=222, audio=song)
    b = clips.reencode(b_src, tmp_path / "b.mp4", width=568, height=320, crf=28, audio_kbps=48)
    c = clips.make_clip(tmp_path / "c.mp4", width=320, height=568, seed=223, audio_seed=224)
    va, ra = _upload_and_run(a, settings)
    vb, rb = _upload_and_run(b, settings, creator_id=CREATOR + 1)
    vc, rc = _upload_and_run(c, settings)
    assert ra["status"] == rb["status"] == rc["status"] == "ready"
    assert ra["sound"]["created"] is True
    assert rb["sound"]["created"] is False and rb["sound"]["sound_id"] == ra["sound"]["sound_id"]
    assert rb["sound"]["match_ber"] < settings.media_sound_max_ber
    assert rc["sound"]["sound_id"] != ra["sound"]["sound_id"]
    row = pg.execute(
        "SELECT creator_id, audio_fingerprint FROM sounds WHERE id = %s", (ra["sound"]["sound_id"],)
    ).fetchone()
    assert row[0] == CREATOR and row[1].startswith("hk32-")
    n = pg.execute(
        "SELECT count(*) FROM videos WHERE sound_id = %s", (ra["sound"]["sound_id"],)
    ).fetchone()[0]
    assert n == 2


def test_renditions_run_in_parallel_and_steps_are_idempotent(pg, settings, creator, tmp_path):
    clip = clips.make_clip(tmp_path / "par.mp4", width=480, height=854, seconds=16, seed=230)
    video_id = submit_upload(clip, CREATOR, settings=settings)
    assert claim_job(video_id, settings=settings)
    result = pipeline.run_pipeline(video_id, settings=settings, workers=2)
    assert result["status"] == "ready"
    spans = [(r["started_at"], r["finished_at"]) for r in result["renditions"]]
    assert len(spans) == 2
    assert max(s for s, _ in spans) < min(f for _, f in spans), "renditions ran one after another"

    store = open_store(settings)
    media = _media(pg, settings, video_id)
    keys = store.list(f"videos/{video_id}")
    rows = pg.execute(
        "SELECT name, width, height, playlist_path, segment_count FROM "
        "video_renditions WHERE video_id = %s ORDER BY name",
        (video_id,),
    ).fetchall()
    # Re-run steps for the same upload: same keys, same rows, same sound, still ready.
    plan = pipeline.step_plan(video_id, settings=settings)
    again = pipeline.step_transcode_ladder(video_id, plan, settings=settings)
    thumbs = pipeline.step_thumbnails(video_id, settings=settings)
    sound = pipeline.step_audio(video_id, settings=settings)
    pipeline.step_store(video_id, again, thumbs, settings=settings)
    marked = pipeline.step_mark_ready(video_id, settings=settings)
    assert marked["status"] == "ready"  # and its lake record lands again under the same name
    assert marked["landed"].endswith(f"/upload-video-{video_id}.jsonl")
    assert pipeline.step_validate(video_id, settings=settings)["ok"] is True
    assert store.list(f"videos/{video_id}") == keys
    assert (
        pg.execute(
            "SELECT name, width, height, playlist_path, segment_count FROM "
            "video_renditions WHERE video_id = %s ORDER BY name",
            (video_id,),
        ).fetchall()
        == rows
    )
    assert sound["sound_id"] == media["sound_id"]
    after = _media(pg, settings, video_id)
    assert after["status"] == "ready" and after["url"] == media["url"]
    assert after["thumbnails"] == media["thumbnails"]


def test_ffmpeg_crash_is_retried_then_marks_failed(pg, settings, creator, tmp_path, monkeypatch):
    clip = clips.make_clip(tmp_path / "crash.mp4", width=320, height=568, seed=235)
    video_id = submit_upload(clip, CREATOR, settings=settings)
    calls = _crashing_ffmpeg(tmp_path, monkeypatch)
    try:
        result = run_inline(video_id, settings=settings)
    finally:
        monkeypatch.delenv("FYP_MEDIA_FFMPEG")
        ffmpeg_exe.cache_clear()
    assert result["status"] == "failed"
    assert "simulated encoder crash" in result["reason"]
    assert len(calls.read_text().splitlines()) >= 2  # tried again before giving up
    assert _media(pg, settings, video_id)["job"]["state"] == "failed"


def _crashing_ffmpeg(tmp_path, monkeypatch):
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        f"#!/bin/sh\necho x >> {tmp_path / 'calls'}\necho 'simulated encoder crash' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("FYP_MEDIA_FFMPEG", str(fake))
    ffmpeg_exe.cache_clear()
    return tmp_path / "calls"


def test_operator_marks_failed_only_on_the_last_attempt(
    pg, settings, creator, tmp_path, monkeypatch
):
    from types import SimpleNamespace

    from orchestration import media_operators as operators

    clip = clips.make_clip(tmp_path / "op.mp4", width=320, height=568, seed=236)
    video_id = submit_upload(clip, CREATOR, settings=settings)
    ctx = {
        "params": {"video_id": video_id},
        "dag_run": SimpleNamespace(run_id="t1", conf={}),
        "ti": SimpleNamespace(try_number=1, max_tries=2),
    }
    assert operators.validate(ctx) is True
    _crashing_ffmpeg(tmp_path, monkeypatch)
    try:
        with pytest.raises(Exception, match="simulated encoder crash"):
            operators.transcode(ctx)
        assert _media(pg, settings, video_id)["status"] == "processing"  # Airflow will retry
        ctx["ti"] = SimpleNamespace(try_number=3, max_tries=2)
        with pytest.raises(Exception, match="simulated encoder crash"):
            operators.transcode(ctx)
    finally:
        monkeypatch.delenv("FYP_MEDIA_FFMPEG")
        ffmpeg_exe.cache_clear()
    media = _media(pg, settings, video_id)
    assert media["status"] == "failed"
    assert media["reason"].startswith("transcode failed after 3 attempt(s):")
    assert media["job"]["dag_run_id"] == "t1" and media["job"]["runner"] == "airflow"


def test_queue_claims_each_job_once_and_validate_acknowledges(pg, settings, creator, tmp_path):
    clip = clips.make_clip(tmp_path / "q.mp4", width=320, height=568, seed=237)
    video_id = submit_upload(clip, CREATOR, settings=settings)
    assert _media(pg, settings, video_id)["job"]["state"] == "queued"
    claimed = claim_pending(settings=settings, limit=1000)
    assert video_id in claimed
    assert video_id not in claim_pending(settings=settings, limit=1000)  # not twice
    assert _media(pg, settings, video_id)["job"]["state"] == "triggered"
    assert not claim_job(video_id, settings=settings)  # an inline runner cannot take it now
    # Never acknowledged: picked up again once the acknowledgement timeout has passed.
    assert video_id in claim_pending(settings=settings, limit=1000, ack_timeout_s=0)
    pipeline.step_validate(video_id, settings=settings, run_id="manual__x", runner="airflow")
    job = _media(pg, settings, video_id)["job"]
    assert job["state"] == "running" and job["dag_run_id"] == "manual__x"
    assert video_id not in claim_pending(settings=settings, limit=1000, ack_timeout_s=0)
    pipeline.mark_failed(video_id, "test cleanup", settings=settings)


def test_only_ready_videos_have_media(pg, settings, creator, tmp_path):
    clip = clips.make_clip(tmp_path / "pending.mp4", width=320, height=568, seed=238)
    video_id = submit_upload(clip, CREATOR, settings=settings)
    media = _media(pg, settings, video_id)
    assert media["status"] == "processing"
    assert media["url"] is None and media["renditions"] == [] and media["thumbnails"] == []
    assert _media(pg, settings, 10**15) is None
    pipeline.mark_failed(video_id, "test cleanup", settings=settings)
    assert os.path.exists(settings.media)
