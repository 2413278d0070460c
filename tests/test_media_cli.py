"""`fyp upload` and `fyp video` as a user runs them. Clip seeds used in this file: 501-509."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import media_clips as clips
import pytest

FYP = str(Path(sys.executable).parent / "fyp")


def _fyp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([FYP, *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def cli_creator(stack):
    import psycopg

    with psycopg.connect(stack.postgres, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id) VALUES (7501) ON CONFLICT DO NOTHING")
    return "7501"


def test_upload_wait_json_then_video(cli_creator, tmp_path):
    clip = clips.make_clip(tmp_path / "cli.mp4", width=320, height=568, seconds=16, seed=501)
    proc = _fyp(
        "upload",
        str(clip),
        "--creator",
        cli_creator,
        "--title",
        "hello",
        "--hashtag",
        "#cats",
        "--wait",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    media = json.loads(proc.stdout)
    assert media["status"] == "ready" and media["job"]["runner"] == "inline"
    assert media["url"].endswith("/hls/master.m3u8")
    assert [r["name"] for r in media["renditions"]] == ["320p"]

    shown = _fyp("video", str(media["video_id"]), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["renditions"] == media["renditions"]
    text = _fyp("video", str(media["video_id"]))
    assert text.returncode == 0 and "status      ready" in text.stdout
    assert "320x568" in text.stdout and "thumb_" in text.stdout


def test_upload_without_wait_leaves_it_processing(cli_creator, tmp_path):
    clip = clips.make_clip(tmp_path / "queued.mp4", seed=502)
    proc = _fyp("upload", str(clip), "--creator", cli_creator, "--json")
    assert proc.returncode == 0, proc.stderr
    media = json.loads(proc.stdout)
    assert media["status"] == "processing" and media["job"]["state"] == "queued"
    from fyplake.media.pipeline import mark_failed

    mark_failed(media["video_id"], "test cleanup")


def test_failures_are_one_line_and_non_zero(cli_creator, tmp_path):
    notes = clips.text_as_mp4(tmp_path / "notes.mp4")
    proc = _fyp("upload", str(notes), "--creator", cli_creator, "--wait")
    assert proc.returncode == 1
    assert "failed" in proc.stdout and "the file is text, not a video" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("fyp: error: video ")

    unknown = _fyp("upload", str(notes), "--creator", "99999999")
    assert unknown.returncode != 0
    assert unknown.stderr.strip() == "fyp: error: creator 99999999 is not a known user"

    missing = _fyp("video", "123456789012")
    assert missing.returncode != 0
    assert missing.stderr.strip() == "fyp: error: no video 123456789012"
