"""Thumbnails: JPEG stills at several timestamps, in display orientation, short side capped."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thumbnail:
    t_ms: int
    file: str  # file name inside the output folder
    width: int
    height: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def thumbnail_times(duration_ms: int, count: int) -> list[int]:
    """``count`` instants (ms) spread evenly inside the video, away from both ends."""
    count = max(1, count)
    return [int(duration_ms * (i + 1) / (count + 1)) for i in range(count)]


def _fit(width: int, height: int, short_side: int) -> tuple[int, int]:
    short = min(width, height)
    if short <= short_side:
        return width - width % 2, height - height % 2
    scale = short_side / short
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def make_thumbnails(
    src: str | Path,
    out_dir: str | Path,
    duration_ms: int,
    *,
    count: int = 4,
    short_side: int = 480,
    quality: int = 85,
) -> list[Thumbnail]:
    """Write ``thumb_<t_ms>.jpg`` files into ``out_dir`` (emptied first); return them."""
    import av

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("thumb_*.jpg"):
        old.unlink()
    thumbs: list[Thumbnail] = []
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base
        start = stream.start_time or 0
        for t_ms in thumbnail_times(duration_ms, count):
            t = t_ms / 1000.0
            container.seek(int(t / tb) + start, stream=stream, backward=True)
            chosen = last = None
            for frame in container.decode(stream):
                last = frame
                if frame.pts is None or (frame.pts - start) * tb >= t - 1e-3:
                    chosen = frame
                    break
            chosen = chosen or last
            if chosen is None:
                raise ValueError(f"no frame could be decoded near {t:.2f} s")
            image = chosen.to_image()
            rotation = int(getattr(chosen, "rotation", 0) or 0) % 360
            if rotation:
                image = image.rotate(rotation, expand=True)  # counter-clockwise, like ffmpeg's
            w, h = _fit(image.width, image.height, short_side)
            if (w, h) != image.size:
                image = image.resize((w, h), resample=3)  # bicubic
            name = f"thumb_{t_ms:07d}.jpg"
            image.convert("RGB").save(out_dir / name, "JPEG", quality=quality, optimize=True)
            thumbs.append(Thumbnail(t_ms=t_ms, file=name, width=w, height=h))
    return thumbs
