"""The media pipeline: uploads, transcode ladder, object store paths (README "Media")."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class MediaSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    # The upload size limit is `upload_max_bytes` above, shared with the API.
    media_min_duration_s: float = Field(default=15.0, description="Shortest accepted video (s).")
    media_max_duration_s: float = Field(default=60.0, description="Longest accepted video (s).")
    media_duration_tolerance_s: float = Field(
        default=0.5, description="Slack on both duration limits (container rounding, AAC priming)."
    )
    media_min_short_side: int = Field(default=144, description="Smallest accepted short side (px).")
    media_max_long_side: int = Field(default=4096, description="Largest accepted long side (px).")
    media_min_fps: float = Field(default=5.0, description="Lowest accepted frame rate.")
    media_max_fps: float = Field(default=120.0, description="Highest accepted frame rate.")
    media_output_max_fps: float = Field(
        default=60.0, description="Renditions of a faster source are resampled to this frame rate."
    )
    media_ladder: dict[str, int] = Field(
        default={"1080p": 4500, "720p": 2500, "480p": 1200, "360p": 700},
        description="HLS ladder: rung '<short side>p' -> video kbps. Never upscaled; a source "
        "below the lowest rung gets one rendition at its own size.",
    )
    media_audio_kbps: int = Field(default=128, description="AAC bitrate of every rendition.")
    media_segment_s: float = Field(
        default=2.0, description="HLS segment length (s); every rendition has a keyframe there."
    )
    media_x264_preset: str = Field(
        default="superfast", description="x264 preset (veryfast: smaller files, ~2x the CPU)."
    )
    media_ffmpeg_threads: int = Field(
        default=0, description="Threads per x264 encoder (0 = let x264 choose)."
    )
    media_transcode_timeout_s: float = Field(
        default=900.0, description="The ladder's ffmpeg is killed after this long (s)."
    )
    media_thumbnail_count: int = Field(default=4, description="Thumbnails per video.")
    media_thumbnail_short_side: int = Field(default=480, description="Thumbnail short side (px).")
    media_fingerprint_frames: int = Field(
        default=16, description="Frames sampled for the content fingerprint."
    )
    media_duplicate_max_hamming: int = Field(
        default=12, description="Two 64-bit frame hashes this close (bits) are the same frame."
    )
    media_duplicate_min_fraction: float = Field(
        default=0.75, description="Share of sampled frames that must match for a duplicate."
    )
    media_sound_max_ber: float = Field(
        default=0.35, description="Audio fingerprints under this bit error rate are one sound."
    )
    media_trigger_url: str | None = Field(
        default=None,
        description="Airflow API base URL to trigger video_transcode on upload (unset: the "
        "video_upload_drain DAG or `fyp upload --wait` picks the job up).",
    )
    media_trigger_username: str | None = Field(
        default=None, description="Airflow API user for media_trigger_url."
    )
    media_trigger_password: SecretStr | None = Field(
        default=None, description="Airflow API password for media_trigger_url."
    )
