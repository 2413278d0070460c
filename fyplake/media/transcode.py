"""The HLS rendition ladder, made by one ffmpeg run: decode once, ``split``, one encoder per rung.

Ladder rules (``settings.media_ladder``, default 1080p/720p/480p/360p):

- A rung's number is the *short* side, so portrait stays portrait: a 1080x1920 source gives
  1080x1920, 720x1280, 480x854 and 360x640; a 1920x1080 source the same turned on its side.
- Never upscale: only rungs at or below the source's short side are made. A source below the lowest
  rung (e.g. 568x320) gets exactly one rendition at its own size, named after its short side
  (``320p``), so every ready video plays and nothing is blown up.
- The long side keeps the aspect ratio, rounded to an even number (H.264 4:2:0 needs even sizes).

Each rendition is H.264 (``settings.media_x264_preset``) + AAC, cut into ``media_segment_s``
MPEG-TS segments. Keyframes are forced at every segment boundary by time
(``-force_key_frames expr:gte(t,n_forced*S)``) and the GOP is fixed at ``S * fps`` with scene-cut
keyframes off, so every rendition has keyframes at the same instants and a player can switch
between them at any segment. A source without audio gives video-only renditions (no fake silent
track: the master playlist then lists only the video codec). Audio is AAC-LC stereo 48 kHz.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fyplake.media.ffmpeg import FFmpegError, run_ffmpeg

logger = logging.getLogger(__name__)

_RUNG = re.compile(r"^(\d{3,4})p$")


@dataclass(frozen=True)
class Rendition:
    """One rung of a video's ladder, as planned."""

    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rendition:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RenditionOutput:
    """A rendition after transcoding: what goes into the master playlist and Postgres."""

    name: str
    width: int
    height: int
    bandwidth: int  # peak segment bitrate, bits/s (HLS BANDWIDTH)
    average_bandwidth: int  # whole-stream bitrate, bits/s (HLS AVERAGE-BANDWIDTH)
    codecs: str  # RFC 6381, e.g. "avc1.64001f,mp4a.40.2"
    frame_rate: float
    segment_count: int
    duration_ms: int
    segment_durations: list[float]
    playlist: str  # file name of the media playlist inside the rendition folder
    encode_seconds: float
    started_at: float
    finished_at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


def parse_ladder(ladder: dict[str, int]) -> list[tuple[str, int, int]]:
    """``{"720p": 2500, ...}`` -> ``[(name, short_side, kbps), ...]`` sorted high to low."""
    rungs = []
    for name, kbps in ladder.items():
        match = _RUNG.match(name)
        if not match:
            raise ValueError(f"ladder rung {name!r} must be named '<short side>p', e.g. '720p'")
        if int(kbps) <= 0:
            raise ValueError(f"ladder rung {name!r} needs a positive bitrate, not {kbps!r}")
        rungs.append((name, int(match.group(1)), int(kbps)))
    if not rungs:
        raise ValueError("the media ladder is empty")
    return sorted(rungs, key=lambda r: -r[1])


def plan_ladder(
    width: int,
    height: int,
    ladder: dict[str, int],
    *,
    has_audio: bool = True,
    audio_kbps: int = 128,
) -> list[Rendition]:
    """The renditions for a ``width`` x ``height`` (displayed) source, largest first."""
    rungs = parse_ladder(ladder)
    short, long_ = min(width, height), max(width, height)
    portrait = height > width
    plan: list[Rendition] = []

    def add(name: str, s: int, kbps: int) -> None:
        s = _even(s)
        lo = _even(long_ * s / short)
        w, h = (s, lo) if portrait else (lo, s)
        plan.append(Rendition(name, w, h, kbps, audio_kbps if has_audio else None))

    for name, side, kbps in rungs:
        if side <= short:
            add(name, side, kbps)
    if not plan:
        # Below the lowest rung: one rendition at the source's own size, at a bitrate scaled from
        # the lowest rung by pixel count.
        name, side, kbps = rungs[-1]
        scaled = max(150, int(kbps * (short / side) ** 2))
        add(f"{_even(short)}p", short, scaled)
    return plan


def _gop(fps: float, segment_s: float) -> int:
    return max(1, int(round(fps * segment_s)))


def ladder_ffmpeg_args(
    src: str | Path,
    outputs: list[tuple[Path, Rendition]],
    *,
    fps: float,
    segment_s: float,
    preset: str,
    threads: int,
    max_fps: float,
) -> list[str]:
    """The ffmpeg arguments that make every rendition of ``outputs`` from one decode of ``src``.

    One filter graph, built with ffmpeg-python: the source's video is decoded once (and its
    frame rate capped), ``split`` into one branch per rendition, each branch scaled and fed to
    its own libx264 encoder and HLS muxer writing ``<out_dir>/index.m3u8`` + ``seg_%05d.ts``."""
    import ffmpeg

    if not outputs:
        raise ValueError("no rendition to make")
    out_fps = min(fps, max_fps) if fps > 0 else max_fps
    gop = _gop(out_fps, segment_s)
    source = ffmpeg.input(str(src))
    video = source["v:0"]
    if fps > max_fps:
        video = video.filter("fps", f"{max_fps:g}")
    branches = [video] if len(outputs) == 1 else video.filter_multi_output("split", len(outputs))
    made = []
    for i, (out_dir, r) in enumerate(outputs):
        branch = branches[0] if len(outputs) == 1 else branches.stream(i)
        scaled = (
            branch.filter("scale", r.width, r.height, flags="bicubic")
            .filter("setsar", 1)
            .filter("format", "yuv420p")
        )
        streams = [scaled]
        options: dict[str, Any] = {
            "c:v": "libx264",
            "preset": preset,
            "profile:v": "high",
            "b:v": f"{r.video_kbps}k",
            "maxrate": f"{int(r.video_kbps * 1.5)}k",
            "bufsize": f"{r.video_kbps * 2}k",
            "g": gop,
            "keyint_min": gop,
            "sc_threshold": 0,
            "force_key_frames": f"expr:gte(t,n_forced*{segment_s:g})",
            "threads": threads,
        }
        if r.audio_kbps:
            streams.append(source["a:0"])
            options.update({"c:a": "aac", "b:a": f"{r.audio_kbps}k", "ac": 2, "ar": 48000})
        options.update(
            {
                "map_metadata": -1,
                "f": "hls",
                "hls_time": f"{segment_s:g}",
                "hls_playlist_type": "vod",
                "hls_flags": "independent_segments",
                "hls_segment_type": "mpegts",
                "hls_segment_filename": str(Path(out_dir) / "seg_%05d.ts"),
            }
        )
        made.append(ffmpeg.output(*streams, str(Path(out_dir) / "index.m3u8"), **options))
    return ffmpeg.get_args(ffmpeg.merge_outputs(*made))


def transcode_ladder(
    src: str | Path,
    outputs: list[tuple[Path, Rendition]],
    *,
    fps: float,
    settings: Any,
    threads: int | None = None,
) -> list[RenditionOutput]:
    """Encode every ``(out_dir, rendition)`` of ``outputs`` with one ffmpeg run (one decode).

    Each ``out_dir`` is emptied first, so a re-run is clean. The renditions share one start and
    finish time: they are made together."""
    outputs = [(Path(d), r) for d, r in outputs]
    for out_dir, _ in outputs:
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
    started = time.time()
    args = ladder_ffmpeg_args(
        src,
        outputs,
        fps=fps,
        segment_s=settings.media_segment_s,
        preset=settings.media_x264_preset,
        threads=threads if threads is not None else default_threads(settings, 1),
        max_fps=settings.media_output_max_fps,
    )
    names = ", ".join(r.name for _, r in outputs)
    what = f"rendition{'s' if len(outputs) > 1 else ''} {names}"
    run_ffmpeg(args, what=what, timeout=settings.media_transcode_timeout_s)
    finished = time.time()
    return [
        describe_rendition(out_dir, r, started=started, finished=finished) for out_dir, r in outputs
    ]


def transcode_rendition(
    src: str | Path,
    out_dir: str | Path,
    rendition: Rendition,
    *,
    fps: float,
    settings: Any,
    threads: int | None = None,
) -> RenditionOutput:
    """Encode one rendition of ``src`` into ``out_dir`` (emptied first, so a re-run is clean)."""
    [out] = transcode_ladder(
        src, [(Path(out_dir), rendition)], fps=fps, settings=settings, threads=threads
    )
    return out


def default_threads(settings: Any, workers: int) -> int:
    """``-threads`` per x264 encoder: the setting, else 0 (x264 picks)."""
    del workers
    return max(0, settings.media_ffmpeg_threads)


# --------------------------------------------------------------------------------------------
# Playlists
# --------------------------------------------------------------------------------------------


def parse_media_playlist(path: str | Path) -> list[tuple[float, str]]:
    """``[(duration_s, segment uri), ...]`` of an HLS media playlist."""
    entries: list[tuple[float, str]] = []
    pending: float | None = None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            pending = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and pending is not None:
            entries.append((pending, line))
            pending = None
    return entries


def describe_rendition(
    out_dir: Path, rendition: Rendition, *, started: float, finished: float
) -> RenditionOutput:
    """Measure a finished rendition: bitrates from the segments, codec strings from the stream."""
    entries = parse_media_playlist(out_dir / "index.m3u8")
    if not entries:
        raise FFmpegError(f"rendition {rendition.name}: ffmpeg wrote an empty playlist")
    total_bits = 0
    peak = 0.0
    total_s = 0.0
    for dur, uri in entries:
        bits = (out_dir / uri).stat().st_size * 8
        total_bits += bits
        total_s += dur
        if dur > 0.25:  # a short tail segment would overstate the peak
            peak = max(peak, bits / dur)
    avg = total_bits / total_s if total_s else 0.0
    peak = max(peak, avg)
    codecs, fps = _stream_codecs(out_dir / entries[0][1], has_audio=bool(rendition.audio_kbps))
    return RenditionOutput(
        name=rendition.name,
        width=rendition.width,
        height=rendition.height,
        bandwidth=int(math.ceil(peak)),
        average_bandwidth=int(math.ceil(avg)),
        codecs=codecs,
        frame_rate=fps,
        segment_count=len(entries),
        duration_ms=int(round(total_s * 1000)),
        segment_durations=[round(d, 3) for d, _ in entries],
        playlist="index.m3u8",
        encode_seconds=round(finished - started, 3),
        started_at=started,
        finished_at=finished,
    )


_AVC_PROFILE = {"baseline": "42e0", "constrained baseline": "42e0", "main": "4d40", "high": "6400"}


def _stream_codecs(segment: Path, *, has_audio: bool) -> tuple[str, float]:
    import av

    with av.open(str(segment)) as container:
        v = container.streams.video[0]
        profile = (v.codec_context.profile or "high").lower()
        level = int(v.codec_context.level or 40)
        rate = v.average_rate or v.guessed_rate
        fps = round(float(rate), 3) if rate else 0.0
        codecs = [f"avc1.{_AVC_PROFILE.get(profile, '6400')}{level:02x}"]
        if has_audio and container.streams.audio:
            codecs.append("mp4a.40.2")
    return ",".join(codecs), fps


def master_playlist(
    renditions: list[dict[str, Any]] | list[RenditionOutput], *, uri_of=None
) -> str:
    """The HLS master playlist over ``renditions`` (dicts or outputs), largest picture first.

    ``uri_of(name)`` gives each media playlist's URI relative to the master (default
    ``<name>/index.m3u8``)."""
    rows = [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in renditions]
    rows.sort(key=lambda r: (-int(r["width"]) * int(r["height"]), -int(r["bandwidth"])))
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in rows:
        attrs = [
            f"BANDWIDTH={int(r['bandwidth'])}",
            f"AVERAGE-BANDWIDTH={int(r['average_bandwidth'])}",
            f"RESOLUTION={int(r['width'])}x{int(r['height'])}",
            f'CODECS="{r["codecs"]}"',
        ]
        if r.get("frame_rate"):
            attrs.append(f"FRAME-RATE={float(r['frame_rate']):.3f}")
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
        lines.append(uri_of(r["name"]) if uri_of else f"{r['name']}/index.m3u8")
    return "\n".join(lines) + "\n"
