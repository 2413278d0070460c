"""A real probe of an uploaded file (PyAV, i.e. libavformat) and the validation rules.

:func:`probe` opens the container, reads the stream parameters, demuxes every packet (cheap: no
decoding) to see that the data really runs to the end, and decodes the first and the last video
frame. Anything it cannot do raises :class:`ProbeError` with a sentence a person can read.
:func:`validate` then applies the upload rules (duration, resolution, frame rate, size) to a
successful probe and returns the reasons it fails, empty when it passes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class ProbeError(ValueError):
    """The file is not a readable video; the message says why, for the uploader."""


@dataclass(frozen=True)
class ProbeResult:
    """What the pipeline needs to know about a source file.

    Sizes are as displayed (rotation applied)."""

    container: str
    size_bytes: int
    duration_ms: int
    width: int
    height: int
    fps: float
    rotation: int
    video_codec: str
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    audio_channels: int | None
    bit_rate: int | None
    frame_count: int

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def long_side(self) -> int:
        return max(self.width, self.height)

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def duration_s(self) -> float:
        return self.duration_ms / 1000.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def _seconds(value: int | None, time_base: Any) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe(path: str | Path) -> ProbeResult:
    """Probe ``path``; raise :class:`ProbeError` if it is not a complete, decodable video."""
    import av

    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise ProbeError("the file is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise ProbeError(_unreadable_reason(path, exc)) from None
    with container:
        fmt = container.format.name
        if not container.streams.video:
            kind = "an audio-only file" if container.streams.audio else "a file without streams"
            raise ProbeError(f"the upload has no video stream: it is {kind} ({fmt})")
        vstream = container.streams.video[0]
        vctx = vstream.codec_context
        if not vctx.name or vctx.width <= 0 or vctx.height <= 0:
            raise ProbeError("the video stream has no usable codec or picture size")
        astream = container.streams.audio[0] if container.streams.audio else None

        rate = vstream.average_rate or vstream.guessed_rate or vstream.base_rate
        fps = float(rate) if rate else 0.0

        # Duration: the video stream's own, else the container's.
        duration_s = _seconds(vstream.duration, vstream.time_base)
        if not duration_s and container.duration:
            duration_s = container.duration / 1_000_000
        if not duration_s or duration_s <= 0:
            raise ProbeError("the video has no duration (zero-length or unreadable stream)")

        # Demux every packet (no decoding) to prove the data is all there.
        v_start = _seconds(vstream.start_time, vstream.time_base) or 0.0
        last_end = 0.0
        packets = 0
        try:
            for packet in container.demux(vstream):
                if packet.size == 0 or packet.pts is None:
                    continue
                packets += 1
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base) - v_start
                last_end = max(last_end, end)
        except av.error.FFmpegError as exc:
            raise ProbeError(
                f"the file is corrupt: reading it failed after {last_end:.1f} s "
                f"({_ffmpeg_reason(exc)})"
            ) from None
        if packets == 0:
            raise ProbeError("the video stream holds no frames (zero-length video)")
        if last_end < duration_s - max(1.0, 0.05 * duration_s):
            raise ProbeError(
                f"the file is truncated: its video data stops at {last_end:.1f} s of the "
                f"{duration_s:.1f} s it declares"
            )
        duration_s = min(duration_s, last_end) if last_end > 0 else duration_s

        rotation = _decode_ends(container, vstream, duration_s)
        width, height = vctx.width, vctx.height
        if rotation % 180:
            width, height = height, width
        if fps <= 0 and duration_s > 0:
            fps = packets / duration_s

        return ProbeResult(
            container=fmt,
            size_bytes=size,
            duration_ms=int(round(duration_s * 1000)),
            width=width,
            height=height,
            fps=round(fps, 3),
            rotation=rotation,
            video_codec=vctx.name,
            has_audio=astream is not None,
            audio_codec=astream.codec_context.name if astream is not None else None,
            audio_sample_rate=astream.codec_context.sample_rate if astream is not None else None,
            audio_channels=astream.codec_context.channels if astream is not None else None,
            bit_rate=container.bit_rate or None,
            frame_count=packets,
        )


def _decode_ends(container: Any, vstream: Any, duration_s: float) -> int:
    """Decode the first frame and one near the end; return the display rotation in degrees."""
    import av

    def first_frame() -> Any:
        for frame in container.decode(vstream):
            return frame
        return None

    try:
        container.seek(0, stream=vstream)
        frame = first_frame()
        if frame is None:
            raise ProbeError("no video frame could be decoded (the stream is empty or corrupt)")
        rotation = int(getattr(frame, "rotation", 0) or 0) % 360
        if duration_s > 2.0:
            target = max(0.0, duration_s - 1.0)
            offset = int(target / vstream.time_base) + (vstream.start_time or 0)
            container.seek(offset, stream=vstream, backward=True, any_frame=False)
            if first_frame() is None:
                raise ProbeError(
                    f"the end of the video cannot be decoded (around {target:.1f} s): "
                    "the file is truncated or corrupt"
                )
    except av.error.FFmpegError as exc:
        raise ProbeError(f"the video cannot be decoded: {_ffmpeg_reason(exc)}") from None
    return rotation


def _unreadable_reason(path: Path, exc: Exception) -> str:
    """Why libavformat could not open ``path``, guessed from its first bytes."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head[4:8] == b"ftyp":
        return (
            "the file starts like an MP4/MOV video but its index (moov atom) is missing: "
            "the upload is truncated or corrupt"
        )
    sample = head[:1024]
    if sample and all(b in b"\t\n\r\f" or 32 <= b < 127 or b >= 128 for b in sample):
        try:
            sample.decode("utf-8")
            return "the file is text, not a video"
        except UnicodeDecodeError:
            pass
    return f"not a video file: no known media container could be read ({_ffmpeg_reason(exc)})"


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".").lower() or type(exc).__name__


def validate(result: ProbeResult, settings: Any) -> list[str]:
    """Reasons ``result`` breaks the upload rules in ``settings`` (empty list: it passes)."""
    reasons: list[str] = []
    tol = settings.media_duration_tolerance_s
    dur = result.duration_s
    lo, hi = settings.media_min_duration_s, settings.media_max_duration_s
    if dur < lo - tol:
        reasons.append(f"the video is {dur:.1f} s long; the shortest allowed is {lo:g} s")
    if dur > hi + tol:
        reasons.append(f"the video is {dur:.1f} s long; the longest allowed is {hi:g} s")
    if result.short_side < settings.media_min_short_side:
        reasons.append(
            f"the picture is {result.width}x{result.height}; the short side must be at least "
            f"{settings.media_min_short_side} px"
        )
    if result.long_side > settings.media_max_long_side:
        reasons.append(
            f"the picture is {result.width}x{result.height}; the long side may be at most "
            f"{settings.media_max_long_side} px"
        )
    if not math.isfinite(result.fps) or result.fps < settings.media_min_fps:
        reasons.append(
            f"the frame rate is {result.fps:g} fps; at least {settings.media_min_fps:g} fps "
            "is needed"
        )
    elif result.fps > settings.media_max_fps:
        reasons.append(
            f"the frame rate is {result.fps:g} fps; at most {settings.media_max_fps:g} fps "
            "is allowed"
        )
    if result.size_bytes > settings.upload_max_bytes:
        reasons.append(
            f"the file is {_mib(result.size_bytes)}; the upload limit is "
            f"{_mib(settings.upload_max_bytes)}"
        )
    return reasons


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"
