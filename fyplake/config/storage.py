"""The lake and the media object store: local folders or S3."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


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
    s3_access_key_id: str | None = Field(
        default=None,
        description="S3 access key for the lake and media; unset = the standard AWS chain "
        "(AWS_ACCESS_KEY_ID, the fyp_s3 Connection inside Airflow, an instance role).",
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret key (with s3_access_key_id)."
    )

    def s3_credentials(self) -> tuple[str, str] | None:
        """(access key, secret) from the settings, else from the AWS environment; None: the
        provider chain (instance role, profile) decides."""
        import os

        if self.s3_access_key_id and self.s3_secret_access_key:
            return self.s3_access_key_id, self.s3_secret_access_key.get_secret_value()
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        return (key, secret) if key and secret else None
