"""Locating and running the ffmpeg binary (system ffmpeg, else the imageio-ffmpeg wheel's)."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence

logger = logging.getLogger(__name__)


class FFmpegError(RuntimeError):
    """ffmpeg exited non-zero; ``stderr_tail`` holds the end of its log."""

    def __init__(self, message: str, stderr_tail: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.stderr_tail = stderr_tail
        self.returncode = returncode


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: ``$FYP_MEDIA_FFMPEG``, a system ffmpeg, else imageio-ffmpeg's."""
    override = os.environ.get("FYP_MEDIA_FFMPEG")
    if override:
        return override
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise RuntimeError(
            "no ffmpeg found: install a system ffmpeg or the imageio-ffmpeg package"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: Sequence[str], *, what: str = "ffmpeg", timeout: float | None = None) -> None:
    """Run ``ffmpeg -hide_banner -nostdin -y <args>``; raise :class:`FFmpegError` on failure."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args]
    logger.debug("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FFmpegError(f"{what}: ffmpeg timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip()[-2000:]
        last = tail.splitlines()[-1] if tail else f"exit code {proc.returncode}"
        raise FFmpegError(f"{what}: ffmpeg failed: {last}", tail, proc.returncode)
