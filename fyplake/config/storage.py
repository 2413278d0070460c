"""The lake and the media object store: local folders or S3."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StorageSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    lake: str = Field(
        default="",
        description="Lake root: a local path or s3a://bucket/prefix. Default: <home>/lake.",
    )
    media: str = Field(
        default="",
        description="Media object store root: a local path or s3://bucket/prefix "
        "(default <home>/media).",
    )
    media_public_url: str = Field(
        default="/media",
        description="URL prefix clients/CDN use for media paths (paths under it are immutable).",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint for the lake and media (None = AWS)."
    )
    s3_region: str = Field(default="us-east-1", description="S3 region.")
