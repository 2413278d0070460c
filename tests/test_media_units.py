"""Media pipeline building blocks on clips made by ffmpeg here: no Postgres, no Airflow.

Clip seeds used in this file: 101-119 (other media test files use other ranges, so no two clips
in one test session look alike by accident).
"""

from __future__ import annotations

import json

import httpx
import media_clips as clips
import pytest

from fyplake.config import Settings
from fyplake.media import audio, fingerprint
from fyplake.media.probe import ProbeError, probe, validate
from fyplake.media.store import (
    IMMUTABLE_CACHE_CONTROL,
    LocalMediaStore,
    asset_prefix,
    cache_control_for,
    content_type_for,
)
from fyplake.media.thumbnails import make_thumbnails, thumbnail_times
from fyplake.media.transcode import (
    Rendition,
    master_playlist,
    parse_ladder,
    parse_media_playlist,
    plan_ladder,
    transcode_rendition,
)

LADDER = {"1080p": 4500, "720p": 2500, "480p": 1200, "360p": 700}


@pytest.fixture(scope="module")
def clipdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return {
        "portrait": clips.make_clip(d / "portrait.mp4", width=320, height=568, seed=101),
        "landscape_silent": clips.make_clip(
            d / "landscape.mp4", width=568, height=320, seed=102, audio=None
        ),
        "reencoded": clips.reencode(
            d / "portrait.mp4", d / "portrait_re.mp4", width=240, height=426, fps=15, crf=34
        ),
        "other": clips.make_clip(d / "other.mp4", width=320, height=568, seed=103),
        "dir": d,
    }


def _sizes(plan: list[Rendition]) -> list[tuple[str, int, int]]:
    return [(r.name, r.width, r.height) for r in plan]


# --------------------------------------------------------------------------------------------
# ladder and playlists
# --------------------------------------------------------------------------------------------


def test_ladder_portrait_1080_keeps_portrait():
    assert _sizes(plan_ladder(1080, 1920, LADDER)) == [
        ("1080p", 1080, 1920),
        ("720p", 720, 1280),
        ("480p", 480, 854),
        ("360p", 360, 640),
    ]


def test_ladder_landscape_and_never_upscales():
    assert _sizes(plan_ladder(1280, 720, LADDER)) == [
        ("720p", 1280, 720),
        ("480p", 854, 480),
        ("360p", 640, 360),
    ]
    # Below the lowest rung: one rendition at the source's own size, never blown up to 360p.
    small = plan_ladder(568, 320, LADDER)
    assert _sizes(small) == [("320p", 568, 320)]
    assert small[0].video_kbps < LADDER["360p"]
    # No audio in the source: no audio in the renditions.
    assert all(r.audio_kbps is None for r in plan_ladder(720, 1280, LADDER, has_audio=False))


def test_ladder_names_are_checked():
    with pytest.raises(ValueError, match="short side"):
        parse_ladder({"hd": 3000})
    assert [name for name, _, _ in parse_ladder({"360p": 1, "1080p": 2})] == ["1080p", "360p"]


def test_master_playlist_lists_bandwidth_and_resolution_largest_first():
    text = master_playlist(
        [
            {
                "name": "360p",
                "width": 360,
                "height": 640,
                "bandwidth": 800_000,
                "average_bandwidth": 700_000,
                "codecs": "avc1.64001e,mp4a.40.2",
                "frame_rate": 30,
            },
            {
                "name": "720p",
                "width": 720,
                "height": 1280,
                "bandwidth": 2_800_000,
                "average_bandwidth": 2_500_000,
                "codecs": "avc1.64001f,mp4a.40.2",
                "frame_rate": 30,
            },
        ]
    )
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    assert lines[3].startswith(
        "#EXT-X-STREAM-INF:BANDWIDTH=2800000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=720x1280,"
    )
    assert lines[4] == "720p/index.m3u8"
    assert lines[6] == "360p/index.m3u8"


def test_one_rendition_has_aligned_two_second_segments(clipdir, settings, tmp_path):
    import av

    src = probe(clipdir["portrait"])
    [rendition] = plan_ladder(src.width, src.height, settings.media_ladder)
    out = transcode_rendition(
        clipdir["portrait"], tmp_path / "r", rendition, fps=src.fps, settings=settings
    )
    assert (out.width, out.height) == (320, 568)
    assert out.codecs.startswith("avc1.64") and out.codecs.endswith(",mp4a.40.2")
    assert out.segment_durations == [2.0] * 8
    assert out.bandwidth >= out.average_bandwidth > 0
    for _, seg in parse_media_playlist(tmp_path / "r" / "index.m3u8"):
        with av.open(str(tmp_path / "r" / seg)) as c:
            first = next(p for p in c.demux(c.streams.video[0]) if p.size)
            assert first.is_keyframe, f"{seg} does not start on a keyframe"


# --------------------------------------------------------------------------------------------
# probe and validation
# --------------------------------------------------------------------------------------------


def test_probe_reads_real_clips(clipdir):
    p = probe(clipdir["portrait"])
    assert (p.width, p.height, p.fps, p.duration_ms) == (320, 568, 10.0, 16000)
    assert p.portrait and p.has_audio and p.audio_codec == "aac" and p.video_codec == "h264"
    q = probe(clipdir["landscape_silent"])
    assert (q.width, q.height) == (568, 320) and not q.has_audio and not q.portrait


def test_probe_applies_display_rotation(clipdir, tmp_path):
    rotated = tmp_path / "rotated.mp4"
    clips._ffmpeg(
        "-display_rotation",
        "90",
        "-i",
        str(clipdir["landscape_silent"]),
        "-c",
        "copy",
        str(rotated),
    )
    p = probe(rotated)
    assert (p.width, p.height, p.rotation) == (320, 568, 90)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda d, c: clips.text_as_mp4(d / "notes.mp4"), "the file is text, not a video"),
        (
            lambda d, c: (d / "empty.mp4").write_bytes(b"") and None or d / "empty.mp4",
            "the file is empty (0 bytes)",
        ),
        (lambda d, c: clips.truncated(c["portrait"], d / "cut.mp4"), "truncated or corrupt"),
        (
            lambda d, c: clips.audio_only(d / "song.mp4", seconds=16, seed=104),
            "no video stream: it is an audio-only file",
        ),
    ],
    ids=["text-renamed-mp4", "zero-length", "truncated", "audio-only"],
)
def test_probe_rejects_non_videos_with_a_reason(clipdir, tmp_path, make, reason):
    path = make(tmp_path, clipdir)
    with pytest.raises(ProbeError) as exc:
        probe(path)
    assert reason in str(exc.value)


def test_probe_rejects_truncated_file_with_index_first(clipdir, tmp_path):
    faststart = tmp_path / "faststart.mp4"
    clips._ffmpeg(
        "-i", str(clipdir["portrait"]), "-c", "copy", "-movflags", "+faststart", str(faststart)
    )
    cut = clips.truncated(faststart, tmp_path / "cut_fs.mp4", keep=0.5)
    with pytest.raises(ProbeError, match="truncated"):
        probe(cut)


def test_validation_limits_duration_resolution_and_size(tmp_path):
    s = Settings()
    long_clip = clips.make_clip(
        tmp_path / "long.mp4", width=144, height=256, seconds=61, fps=5, seed=105, audio=None
    )
    reasons = validate(probe(long_clip), s)
    assert reasons == ["the video is 61.0 s long; the longest allowed is 60 s"]

    ok_clip = clips.make_clip(
        tmp_path / "ok.mp4", width=144, height=256, seconds=15, fps=5, seed=106, audio=None
    )
    assert validate(probe(ok_clip), s) == []

    short_clip = clips.make_clip(
        tmp_path / "short.mp4", width=144, height=256, seconds=5, fps=5, seed=107, audio=None
    )
    assert validate(probe(short_clip), s) == [
        "the video is 5.0 s long; the shortest allowed is 15 s"
    ]

    strict = s.model_copy(
        update={
            "upload_max_bytes": 1000,
            "media_min_short_side": 200,
            "media_max_duration_s": 10.0,
            "media_min_fps": 8,
        }
    )
    reasons = validate(probe(ok_clip), strict)
    assert any("longest allowed is 10 s" in r for r in reasons)
    assert any("short side must be at least 200 px" in r for r in reasons)
    assert any("5 fps; at least 8 fps" in r for r in reasons)
    assert any("upload limit is 0.0 MiB" in r for r in reasons)


# --------------------------------------------------------------------------------------------
# fingerprints and thumbnails
# --------------------------------------------------------------------------------------------


def test_content_fingerprint_survives_reencode_and_tells_clips_apart(clipdir):
    s = Settings()
    a = fingerprint.frame_hashes(clipdir["portrait"], 16000, s.media_fingerprint_frames)
    b = fingerprint.frame_hashes(clipdir["reencoded"], 16000, s.media_fingerprint_frames)
    c = fingerprint.frame_hashes(clipdir["other"], 16000, s.media_fingerprint_frames)
    assert len(a) == s.media_fingerprint_frames
    assert all(-(2**63) <= h < 2**63 for h in a)
    kw = {
        "max_hamming": s.media_duplicate_max_hamming,
        "min_fraction": s.media_duplicate_min_fraction,
    }
    assert fingerprint.is_duplicate(a, b, **kw)
    assert not fingerprint.is_duplicate(a, c, **kw)
    assert fingerprint.match_fraction(a, c, s.media_duplicate_max_hamming) < 0.2


def test_audio_fingerprint_links_same_track_not_other(clipdir, tmp_path):
    fa = audio.fingerprint(audio.decode_pcm(clipdir["portrait"]))
    fb = audio.fingerprint(audio.decode_pcm(clipdir["reencoded"]))  # 64 kbit/s re-encode
    fc = audio.fingerprint(audio.decode_pcm(clipdir["other"]))
    assert 600 < len(fa) < 720  # ~43 sub-fingerprints per second
    same = audio.best_match(fa, fb)
    other = audio.best_match(fa, fc)
    assert same is not None and same.ber < 0.2 and same.offset == 0
    assert other is not None and other.ber > 0.4
    # The same sound used from 3 s in: found at the right offset.
    shifted = audio.best_match(fa, fb[130:])
    assert shifted.offset == 130 and shifted.ber < 0.2
    assert audio.from_bytes(audio.to_bytes(fa)).tolist() == fa.tolist()
    assert all(-(2**31) <= k < 2**31 for k in audio.index_keys(fa))


def test_silence_is_not_a_sound():
    import numpy as np

    assert audio.is_silent(np.zeros(audio.SAMPLE_RATE * 2, dtype=np.float32))
    assert not audio.is_silent(0.1 * np.sin(np.arange(audio.SAMPLE_RATE) / 5.0))


def test_thumbnails_at_several_timestamps(clipdir, tmp_path):
    from PIL import Image

    assert thumbnail_times(16000, 3) == [4000, 8000, 12000]
    thumbs = make_thumbnails(clipdir["landscape_silent"], tmp_path, 16000, count=3, short_side=240)
    assert [t.t_ms for t in thumbs] == [4000, 8000, 12000]
    for t in thumbs:
        with Image.open(tmp_path / t.file) as im:
            assert im.format == "JPEG" and im.size == (t.width, t.height) == (426, 240)


# --------------------------------------------------------------------------------------------
# store, trigger, operators
# --------------------------------------------------------------------------------------------


def test_local_store_roundtrip_and_immutable_keys(tmp_path):
    store = LocalMediaStore(tmp_path / "media")
    src = tmp_path / "x.m3u8"
    src.write_text("#EXTM3U\n")
    prefix = asset_prefix(7, "ab" * 32)
    assert prefix == "videos/7/abababababababab"
    key = store.put_file(f"{prefix}/hls/master.m3u8", src)
    assert store.exists(key) and store.read_bytes(key) == b"#EXTM3U\n"
    assert store.list("videos/7") == [key]
    info = store.head(key)
    assert info.content_type == "application/vnd.apple.mpegurl"
    assert info.cache_control == IMMUTABLE_CACHE_CONTROL
    assert cache_control_for("originals/7/x/source.mp4").startswith("private")
    assert content_type_for("a/seg_00001.ts") == "video/mp2t"
    with pytest.raises(ValueError):
        store.put_file("../escape", src)
    assert store.delete_prefix("videos/7") == 1 and not store.exists(key)


def test_trigger_airflow_posts_a_dag_run_with_the_video_id():
    from fyplake.media.uploads import trigger_airflow

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "jwt"})
        return httpx.Response(200, json={"dag_run_id": json.loads(request.content)["dag_run_id"]})

    s = Settings(
        media_trigger_url="http://airflow:8080/",
        media_trigger_username="admin",
        media_trigger_password="pw",
    )
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        run_id = trigger_airflow(42, settings=s, client=client)
    token, trigger = seen
    assert json.loads(token.content) == {"username": "admin", "password": "pw"}
    assert trigger.url == "http://airflow:8080/api/v2/dags/video_transcode/dagRuns"
    assert trigger.headers["authorization"] == "Bearer jwt"
    body = json.loads(trigger.content)
    assert body["conf"] == {"video_id": 42} and body["logical_date"] is None
    assert run_id == body["dag_run_id"] and run_id.startswith("upload__42__")


def test_operator_context_helpers():
    from types import SimpleNamespace

    from orchestration import media_operators as operators

    assert operators.video_id_of({"params": {"video_id": 5}}) == 5
    assert (
        operators.video_id_of(
            {"params": {"video_id": 0}, "dag_run": SimpleNamespace(conf={"video_id": 6})}
        )
        == 6
    )
    with pytest.raises(ValueError, match="video_id"):
        operators.video_id_of({"params": {}})
    assert not operators._final_attempt({"ti": SimpleNamespace(try_number=1, max_tries=2)})
    assert operators._final_attempt({"ti": SimpleNamespace(try_number=3, max_tries=2)})


def test_media_package_imports_are_cheap():
    import subprocess
    import sys

    code = (
        "import sys; import orchestration.media_operators, fyplake.media.pipeline, "
        "fyplake.media.uploads, fyplake.media.catalog; "
        "heavy = [m for m in ('av', 'numpy', 'boto3', 'airflow', 'psycopg', 'scipy') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
