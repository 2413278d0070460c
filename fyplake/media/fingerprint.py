"""Content fingerprint: a perceptual hash (64-bit DCT pHash) of frames sampled across the video.

Frames are taken at the same *relative* instants of every video (``(i + 0.5) / n`` of its
duration), so a re-encode of the same clip (another resolution, bitrate, frame rate or codec)
samples the same moments. Two videos are the same content when, frame by frame, most hashes
(``settings.media_duplicate_min_fraction``) lie within ``settings.media_duplicate_max_hamming``
bits of each other. Hashes are stored as signed 64-bit integers (Postgres ``bigint[]``).

Flat frames (black, a plain colour, an almost uniform gradient: mean absolute grey-level step
under :data:`FLAT_FRAME` on the 32x32 image) carry no usable hash: every black frame hashes the
same and a near-uniform frame's DCT signs are noise. They are stored as NULL and never count as a
match, so two mostly dark videos are not called duplicates (a false "duplicate" hides a real
upload; a missed one only costs a transcode). Known limit: very smooth content (pure gradients)
gives unstable pHash bits, so its re-encodes may go undetected.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ALGORITHM = "phash64-dct32"
_HASH_SIZE = 32  # the frame is reduced to 32x32 grey before the DCT
#: Below this mean absolute step between neighbouring pixels (0-255 grey, 32x32) a frame is flat.
FLAT_FRAME = 1.0


def sample_times(duration_ms: int, count: int) -> list[float]:
    """Seconds at which frames are sampled: the middles of ``count`` equal slices."""
    dur = max(duration_ms, 1) / 1000.0
    return [dur * (i + 0.5) / count for i in range(count)]


def to_signed64(value: int) -> int:
    return value - (1 << 64) if value >= (1 << 63) else value


def to_unsigned64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def phash(gray32: Any) -> int:
    """64-bit pHash of a 32x32 grey image (numpy array): low-frequency DCT signs vs the median."""
    import numpy as np
    from scipy.fft import dctn

    coeffs = dctn(np.asarray(gray32, dtype=np.float64), type=2, norm="ortho")[:8, :8]
    flat = coeffs.flatten()
    median = float(np.median(flat[1:]))  # the DC term says nothing about structure
    bits = flat > median
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return to_signed64(value)


def frame_detail(gray32: Any) -> float:
    """Mean absolute difference between neighbouring pixels: 0 for a flat frame."""
    import numpy as np

    a = np.asarray(gray32, dtype=np.float64)
    return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean()) / 2


def hamming(a: int, b: int) -> int:
    return (to_unsigned64(a) ^ to_unsigned64(b)).bit_count()


def grey_frames_at(path: str | Path, times: list[float], size: int = _HASH_SIZE) -> list[Any]:
    """``size`` x ``size`` grey frames (numpy, display orientation) at or just after each time."""
    import av
    import numpy as np

    frames: list[Any] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base
        start = stream.start_time or 0
        for t in times:
            container.seek(int(t / tb) + start, stream=stream, backward=True)
            chosen = None
            last = None
            for frame in container.decode(stream):
                last = frame
                if frame.pts is None or (frame.pts - start) * tb >= t - 1e-3:
                    chosen = frame
                    break
            chosen = chosen or last
            if chosen is None:
                raise ValueError(f"no frame could be decoded near {t:.2f} s of {path}")
            img = chosen.reformat(
                width=size, height=size, format="gray", interpolation="AREA"
            ).to_ndarray()
            rot = int(getattr(chosen, "rotation", 0) or 0) % 360
            if rot:
                # Display rotation is counter-clockwise in degrees (ffmpeg's convention).
                img = np.rot90(img, k=rot // 90)
            frames.append(np.ascontiguousarray(img))
    return frames


def frame_hashes(path: str | Path, duration_ms: int, count: int = 16) -> list[int | None]:
    """The content fingerprint of ``path``: ``count`` signed 64-bit pHashes (None: flat frame)."""
    return [
        phash(img) if frame_detail(img) >= FLAT_FRAME else None
        for img in grey_frames_at(path, sample_times(duration_ms, count))
    ]


def match_fraction(a: list[int | None], b: list[int | None], max_hamming: int) -> float:
    """Share of aligned frames whose hashes lie within ``max_hamming`` bits (flat frames never
    match; 0 when the lengths differ)."""
    if not a or len(a) != len(b):
        return 0.0
    close = sum(
        1
        for x, y in zip(a, b, strict=True)
        if x is not None and y is not None and hamming(x, y) <= max_hamming
    )
    return close / len(a)


def is_duplicate(
    a: list[int | None], b: list[int | None], *, max_hamming: int, min_fraction: float
) -> bool:
    return match_fraction(a, b, max_hamming) >= min_fraction


def duration_window(duration_ms: int) -> tuple[int, int]:
    """Durations a duplicate of a ``duration_ms`` video may have (re-encodes shift it slightly)."""
    slack = max(1000, int(duration_ms * 0.03))
    return duration_ms - slack, duration_ms + slack
