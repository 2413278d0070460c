"""Test clips made by ffmpeg inside the tests (no binary fixtures in the repository).

Pictures are ffmpeg's ``gradients`` source with a few solid boxes drifting over it, placed, sized
and coloured from ``seed``, so every seed is different content (two clips never look alike by
accident) with edges like real footage (``testsrc2`` is an alternative);
sounds are seeded random melodies written with numpy, so two clips can share one audio track and
two seeds give two different sounds. Keep clips small: the machine is shared.
"""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

from fyplake.media.ffmpeg import ffmpeg_exe


def _ffmpeg(*args: str) -> None:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")


def _boxes(seed: int, width: int, height: int, count: int = 5) -> str:
    """drawbox filters: ``count`` solid boxes drifting (and wrapping) at seeded speeds."""
    import random

    rng = random.Random(seed)
    parts = []
    for _ in range(count):
        bw, bh = rng.randint(width // 8, width // 3), rng.randint(height // 8, height // 3)
        vx, vy = rng.uniform(-40, 40), rng.uniform(-40, 40)
        x0, y0 = rng.randint(0, width), rng.randint(0, height)
        colour = f"0x{rng.randint(0, 0xFFFFFF):06x}"
        parts.append(
            f"drawbox=x='mod({x0}+{vx:.1f}*t,{width})-{bw // 2}'"
            f":y='mod({y0}+{vy:.1f}*t,{height})-{bh // 2}':w={bw}:h={bh}:color={colour}:t=fill"
        )
    return ",".join(parts)


def melody_wav(path: str | Path, seconds: float, seed: int, rate: int = 22050) -> Path:
    """A seeded random melody (notes with harmonics and a little noise) as 16-bit mono WAV."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n, dtype=np.float64)
    t0 = 0
    scale = 220.0 * 2 ** (np.array([0, 2, 3, 5, 7, 8, 10, 12, 14, 15, 17, 19]) / 12)
    while t0 < n:
        length = int(rng.uniform(0.12, 0.45) * rate)
        freq = float(rng.choice(scale)) * float(rng.choice([1, 2]))
        t = np.arange(min(length, n - t0)) / rate
        env = np.minimum(1.0, t * 40) * np.exp(-3.0 * t)
        note = sum((0.6 / h) * np.sin(2 * np.pi * freq * h * t) for h in (1, 2, 3))
        out[t0 : t0 + len(t)] += env * note
        t0 += length
    out += 0.01 * rng.standard_normal(n)
    out = np.clip(out / (np.max(np.abs(out)) + 1e-9) * 0.8, -1, 1)
    path = Path(path)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((out * 32767).astype("<i2").tobytes())
    return path


def make_clip(
    path: str | Path,
    *,
    width: int = 320,
    height: int = 568,
    seconds: float = 16,
    fps: int = 10,
    seed: int = 1,
    audio: str | Path | None = "melody",
    audio_seed: int | None = None,
    pattern: str = "gradients",
    preset: str = "ultrafast",
    gop: int | None = None,
    noise: int = 0,
) -> Path:
    """An H.264 MP4 clip. ``audio``: "melody" (seeded by ``audio_seed`` or ``seed``), a WAV path,
    or None for a clip without an audio stream. ``noise`` > 0 adds temporal grain like a camera
    sensor's (much harder to encode: what the benchmark wants)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if pattern == "gradients":
        src = f"gradients=s={width}x{height}:r={fps}:d={seconds}:seed={seed}:speed=0.03," + _boxes(
            seed, width, height
        )
    else:
        src = f"testsrc2=s={width}x{height}:r={fps}:d={seconds}"
    if noise:
        src += f",noise=alls={int(noise)}:allf=t"
    args = ["-f", "lavfi", "-i", src]
    if audio == "melody":
        wav = path.with_suffix(".melody.wav")
        melody_wav(wav, seconds, audio_seed if audio_seed is not None else seed)
        args += ["-i", str(wav)]
    elif audio is not None:
        args += ["-i", str(audio)]
    args += ["-map", "0:v"]
    if audio is not None:
        args += ["-map", "1:a", "-c:a", "aac", "-b:a", "96k", "-shortest"]
    args += [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(gop or fps * 2),
        "-t",
        str(seconds),
        str(path),
    ]
    try:
        _ffmpeg(*args)
    finally:
        if audio == "melody":
            path.with_suffix(".melody.wav").unlink(missing_ok=True)
    return path


def reencode(
    src: str | Path,
    dst: str | Path,
    *,
    width: int,
    height: int,
    fps: int | None = None,
    crf: int = 30,
    audio_kbps: int = 64,
) -> Path:
    """The same clip again: another size, frame rate, quality and audio bitrate."""
    args = ["-i", str(src), "-vf", f"scale={width}:{height}"]
    if fps:
        args += ["-r", str(fps)]
    args += [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        str(crf),
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        f"{audio_kbps}k",
        str(dst),
    ]
    _ffmpeg(*args)
    return Path(dst)


def truncated(src: str | Path, dst: str | Path, keep: float = 0.5) -> Path:
    """The first ``keep`` share of ``src``'s bytes (an interrupted upload)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return Path(dst)


def text_as_mp4(dst: str | Path) -> Path:
    Path(dst).write_text("This is not a video, just some text renamed to .mp4\n" * 20)
    return Path(dst)


def audio_only(dst: str | Path, seconds: float = 16, seed: int = 7) -> Path:
    """An AAC-in-MP4 file without a video stream."""
    dst = Path(dst)
    wav = melody_wav(dst.with_suffix(".wav"), seconds, seed)
    _ffmpeg("-i", str(wav), "-c:a", "aac", "-b:a", "64k", "-f", "mp4", str(dst))
    return dst
