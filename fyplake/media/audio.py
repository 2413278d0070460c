"""Audio for sound matching: extraction, a robust audio fingerprint, and comparing fingerprints.

The fingerprint follows Haitsma & Kalker's ("A Highly Robust Audio Fingerprinting System", 2002,
the idea behind Chromaprint/AcoustID): the audio is decoded to mono 11 025 Hz, cut into 2048-sample
frames every 256 samples (~23 ms), and each frame's spectrum is summed into 33 logarithmic bands
between 300 and 3000 Hz. Bit ``m`` of frame ``n``'s 32-bit sub-fingerprint is the sign of the
band-energy difference ``(E[n,m] - E[n,m+1]) - (E[n-1,m] - E[n-1,m+1])``: it depends on the shape of
the spectrum and how it moves, not on level or codec, so it survives re-encoding. Two recordings
are the same sound when, at the best alignment, fewer than ``settings.media_sound_max_ber`` of the
bits differ over at least a few seconds of overlap. Candidate alignments come from exact
sub-fingerprint matches (the ``hashes`` index kept in Postgres), as in AcoustID.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fyplake.media.ffmpeg import run_ffmpeg

logger = logging.getLogger(__name__)

ALGORITHM = "hk32-11k-2048-256"
SAMPLE_RATE = 11025
FRAME = 2048
HOP = 256
N_BANDS = 33
F_LO, F_HI = 300.0, 3000.0
#: Below this RMS level (dBFS) the track counts as silence: no sound is created or linked.
SILENCE_DBFS = -50.0
#: Shortest overlap (s) over which two fingerprints can be judged the same sound.
MIN_OVERLAP_S = 3.0
_TRIVIAL = {0, 0xFFFFFFFF}


def frames_per_second() -> float:
    return SAMPLE_RATE / HOP


def extract_audio(src: str | Path, dest: str | Path, *, kbps: int = 128) -> Path:
    """The first audio track of ``src`` as AAC in an .m4a file (what the sound library keeps)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(
        [
            "-i",
            str(src),
            "-map",
            "0:a:0",
            "-vn",
            "-c:a",
            "aac",
            "-b:a",
            f"{kbps}k",
            "-ac",
            "2",
            "-ar",
            "44100",
            "-map_metadata",
            "-1",
            "-movflags",
            "+faststart",
            str(dest),
        ],
        what="audio extraction",
    )
    return dest


def decode_pcm(path: str | Path, *, rate: int = SAMPLE_RATE) -> Any:
    """The first audio track of ``path`` as mono float32 samples at ``rate`` Hz (numpy)."""
    import av
    import numpy as np

    chunks = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def level_dbfs(pcm: Any) -> float:
    import numpy as np

    if len(pcm) == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64))))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def is_silent(pcm: Any) -> bool:
    return level_dbfs(pcm) < SILENCE_DBFS


def _band_matrix() -> Any:
    import numpy as np

    freqs = np.fft.rfftfreq(FRAME, d=1.0 / SAMPLE_RATE)
    edges = np.geomspace(F_LO, F_HI, N_BANDS + 1)
    bands = np.zeros((len(freqs), N_BANDS), dtype=np.float64)
    for m in range(N_BANDS):
        bands[(freqs >= edges[m]) & (freqs < edges[m + 1]), m] = 1.0
    return bands


def fingerprint(pcm: Any) -> Any:
    """The sub-fingerprints (numpy uint32, ~43 per second) of mono ``SAMPLE_RATE`` audio."""
    import numpy as np

    pcm = np.asarray(pcm, dtype=np.float64)
    if len(pcm) < FRAME + HOP:
        return np.zeros(0, dtype=np.uint32)
    n = 1 + (len(pcm) - FRAME) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(pcm, FRAME)[::HOP][:n]
    window = np.hanning(FRAME)
    spectrum = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    energy = spectrum @ _band_matrix()
    energy = np.log(energy + 1e-10)
    diff = energy[:, :-1] - energy[:, 1:]  # across frequency: (n, 32)
    bits = (diff[1:] - diff[:-1]) > 0  # ... and its change over time: (n-1, 32)
    weights = (1 << np.arange(31, -1, -1, dtype=np.uint64)).astype(np.uint64)
    return (bits.astype(np.uint64) @ weights).astype(np.uint32)


def to_bytes(fp: Any) -> bytes:
    import numpy as np

    return np.asarray(fp, dtype="<u4").tobytes()


def from_bytes(data: bytes) -> Any:
    import numpy as np

    return np.frombuffer(bytes(data), dtype="<u4").astype(np.uint32)


def index_keys(fp: Any) -> list[int]:
    """Distinct sub-fingerprints as signed int32 (a Postgres ``integer[]`` with a GIN index)."""
    keys = {int(v) for v in fp} - _TRIVIAL
    return sorted(k - (1 << 32) if k >= (1 << 31) else k for k in keys)


@dataclass(frozen=True)
class AudioMatch:
    ber: float  # bit error rate at the best alignment
    offset: int  # frames of b's start relative to a's (b[i] ~ a[i + offset])
    overlap: int  # frames compared

    @property
    def offset_ms(self) -> int:
        return int(round(self.offset * 1000 / frames_per_second()))


def _popcount32(x: Any) -> Any:
    import numpy as np

    x = x.astype(np.uint32)
    x = x - ((x >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    return ((x * 0x01010101) & 0xFFFFFFFF) >> 24


def ber_at(a: Any, b: Any, offset: int) -> tuple[float, int]:
    """Bit error rate of ``b`` against ``a`` shifted by ``offset`` frames, and the overlap."""
    import numpy as np

    if offset >= 0:
        x, y = a[offset:], b
    else:
        x, y = a, b[-offset:]
    n = min(len(x), len(y))
    if n <= 0:
        return 1.0, 0
    errors = int(np.sum(_popcount32(np.bitwise_xor(x[:n], y[:n]))))
    return errors / (32.0 * n), n


def best_match(a: Any, b: Any, *, max_candidates: int = 8) -> AudioMatch | None:
    """The best alignment of ``b`` against ``a``; None when no overlap is long enough."""
    min_overlap = int(MIN_OVERLAP_S * frames_per_second())
    if len(a) < min_overlap or len(b) < min_overlap:
        return None
    pos_a: dict[int, list[int]] = {}
    for i, v in enumerate(a.tolist()):
        if v not in _TRIVIAL:
            pos_a.setdefault(v, []).append(i)
    votes: Counter[int] = Counter()
    for j, v in enumerate(b.tolist()):
        for i in pos_a.get(v, ())[:8]:
            votes[i - j] += 1
    offsets = {0}
    for off, _ in votes.most_common(max_candidates):
        offsets.update((off - 1, off, off + 1))
    best: AudioMatch | None = None
    for off in offsets:
        ber, n = ber_at(a, b, off)
        if n >= min_overlap and (best is None or ber < best.ber):
            best = AudioMatch(ber=ber, offset=off, overlap=n)
    return best
