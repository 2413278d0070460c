"""The media object store: a local folder (default) or S3 through boto3.

Keys are ``/``-separated paths relative to the store root (``settings.media``). Everything the
pipeline publishes lives under a content-addressed prefix (see :func:`asset_prefix`), so a key
never changes meaning: objects are written with ``Cache-Control: public, max-age=31536000,
immutable`` and a CDN can keep them forever. Originals live under ``originals/``, which is private
(never exposed through the public media URL).

Backends: :class:`LocalMediaStore` (atomic writes: temp file + rename) and :class:`S3MediaStore`
(credentials from boto3's usual chain: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profile,
instance role; endpoint ``settings.s3_endpoint_url`` for S3-compatible servers).
"""

from __future__ import annotations

import logging
import mimetypes
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Cache-Control of every published media object: the key is content-addressed, so forever.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: Cache-Control of originals: private, never served through the CDN.
PRIVATE_CACHE_CONTROL = "private, no-store"

_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".json": "application/json",
}


def content_type_for(key: str) -> str:
    suffix = Path(key).suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def cache_control_for(key: str) -> str:
    """What an HTTP front (the API's /media route, a CDN origin) should send for ``key``."""
    return PRIVATE_CACHE_CONTROL if key.startswith("originals/") else IMMUTABLE_CACHE_CONTROL


def asset_prefix(video_id: int, content_sha256: str) -> str:
    """Prefix of everything published for one upload: ``videos/<id>/<first 16 hex of sha256>``.

    The hash is of the original bytes, so a different upload never reuses a path, and re-running the
    pipeline for the same upload writes the same keys (idempotent)."""
    return f"videos/{int(video_id)}/{content_sha256[:16]}"


def original_key(video_id: int, content_sha256: str, suffix: str = ".mp4") -> str:
    suffix = suffix if suffix.startswith(".") and 1 < len(suffix) <= 6 else ".bin"
    return f"originals/{int(video_id)}/{content_sha256[:16]}/source{suffix.lower()}"


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str | None
    cache_control: str | None


class MediaStore(ABC):
    """Where media objects live. Keys are relative, ``/``-separated, without a leading slash."""

    @abstractmethod
    def put_file(
        self,
        key: str,
        path: str | Path,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
    ) -> str:
        """Upload a local file to ``key`` (replacing it); returns the key."""

    @abstractmethod
    def get_file(self, key: str, dest: str | Path) -> Path:
        """Download ``key`` to the local path ``dest``."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Size and HTTP metadata of ``key``; raises FileNotFoundError if absent."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, sorted."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under ``prefix``; returns how many."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """A URI for ``key`` that ffmpeg/boto3/humans understand (file:// or s3://)."""

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
    ) -> str:
        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            tmp.write(data)
        try:
            return self.put_file(
                key, tmp.name, content_type=content_type, cache_control=cache_control
            )
        finally:
            os.unlink(tmp.name)

    def put_tree(self, local_dir: str | Path, prefix: str, *, workers: int = 4) -> list[str]:
        """Upload every file under ``local_dir`` to ``prefix/<relative path>``; returns the keys."""
        local_dir = Path(local_dir)
        files = sorted(p for p in local_dir.rglob("*") if p.is_file())
        jobs = [(f"{prefix.rstrip('/')}/{p.relative_to(local_dir).as_posix()}", p) for p in files]
        if workers <= 1 or len(jobs) <= 1:
            return [self.put_file(k, p) for k, p in jobs]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda kp: self.put_file(kp[0], kp[1]), jobs))


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"bad media key {key!r}")
    return key


class LocalMediaStore(MediaStore):
    """A folder on the local file system (the embedded default: ``<FYP_HOME>/media``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put_file(self, key, path, *, content_type=None, cache_control=None) -> str:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)  # a reader sees the old or the new file, never half of one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def get_file(self, key, dest) -> Path:
        src = self._path(key)
        if not src.is_file():
            raise FileNotFoundError(f"media object {key!r} not found under {self.root}")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest

    def read_bytes(self, key) -> bytes:
        src = self._path(key)
        if not src.is_file():
            raise FileNotFoundError(f"media object {key!r} not found under {self.root}")
        return src.read_bytes()

    def exists(self, key) -> bool:
        return self._path(key).is_file()

    def head(self, key) -> ObjectInfo:
        src = self._path(key)
        if not src.is_file():
            raise FileNotFoundError(f"media object {key!r} not found under {self.root}")
        return ObjectInfo(key, src.stat().st_size, content_type_for(key), cache_control_for(key))

    def list(self, prefix) -> list[str]:
        base = self.root / prefix.strip("/") if prefix.strip("/") else self.root
        if base.is_file():
            return [prefix.strip("/")]
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def delete_prefix(self, prefix) -> int:
        keys = self.list(prefix)
        for key in keys:
            self._path(key).unlink(missing_ok=True)
        base = self.root / prefix.strip("/")
        if base.is_dir() and prefix.strip("/"):
            shutil.rmtree(base, ignore_errors=True)
        return len(keys)

    def uri(self, key) -> str:
        return self._path(key).as_uri()

    def local_path(self, key: str) -> Path:
        """The file behind ``key`` (local backend only)."""
        return self._path(key)


class S3MediaStore(MediaStore):
    """An S3 bucket (or any S3-compatible server) under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
        **client_kwargs: Any,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:  # pragma: no cover - boto3 is a declared dependency
                raise RuntimeError("S3 media storage needs boto3 (pip install boto3)") from exc
            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                config=Config(
                    retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=16
                ),
                **client_kwargs,
            )
        self.client = client

    @classmethod
    def from_uri(cls, uri: str, **kwargs: Any) -> S3MediaStore:
        scheme, rest = uri.split("://", 1)
        if scheme not in ("s3", "s3a"):
            raise ValueError(f"not an S3 URI: {uri!r}")
        bucket, _, prefix = rest.partition("/")
        return cls(bucket, prefix, **kwargs)

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _unkey(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def put_file(self, key, path, *, content_type=None, cache_control=None) -> str:
        extra = {
            "ContentType": content_type or content_type_for(key),
            "CacheControl": cache_control or cache_control_for(key),
        }
        self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs=extra)
        return key

    def get_file(self, key, dest) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.bucket, self._key(key), str(dest))
        except Exception as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(
                    f"media object {key!r} not found in s3://{self.bucket}"
                ) from exc
            raise
        return dest

    def read_bytes(self, key) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except Exception as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(
                    f"media object {key!r} not found in s3://{self.bucket}"
                ) from exc
            raise

    def exists(self, key) -> bool:
        try:
            self.head(key)
        except FileNotFoundError:
            return False
        return True

    def head(self, key) -> ObjectInfo:
        try:
            meta = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(
                    f"media object {key!r} not found in s3://{self.bucket}"
                ) from exc
            raise
        return ObjectInfo(
            key,
            int(meta.get("ContentLength", 0)),
            meta.get("ContentType"),
            meta.get("CacheControl"),
        )

    def _iter_keys(self, prefix: str) -> Iterable[str]:
        full = self._key(prefix.strip("/")) if prefix.strip("/") else self.prefix
        full = f"{full}/" if full and not full.endswith("/") else full
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                yield self._unkey(obj["Key"])

    def list(self, prefix) -> list[str]:
        return sorted(self._iter_keys(prefix))

    def delete_prefix(self, prefix) -> int:
        keys = self.list(prefix)
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._key(k)} for k in chunk], "Quiet": True},
            )
        return len(keys)

    def uri(self, key) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"


def _is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound", "NoSuchBucket")


def open_store(settings: Any = None, **s3_kwargs: Any) -> MediaStore:
    """The media store named by ``settings.media`` (a local path or ``s3://bucket/prefix``)."""
    if settings is None:
        from fyplake.config import get_settings

        settings = get_settings()
    media = str(settings.media)
    if "://" not in media:
        return LocalMediaStore(media)
    if media.startswith(("s3://", "s3a://")):
        if getattr(settings, "s3_access_key_id", None) and settings.s3_secret_access_key:
            s3_kwargs.setdefault("aws_access_key_id", settings.s3_access_key_id)
            s3_kwargs.setdefault(
                "aws_secret_access_key", settings.s3_secret_access_key.get_secret_value()
            )
        return S3MediaStore.from_uri(
            media, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region, **s3_kwargs
        )
    if media.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return LocalMediaStore(unquote(urlparse(media).path))
    raise ValueError(f"unsupported media store URI {media!r} (use a local path or s3://)")


def public_url(settings: Any, key: str | None) -> str | None:
    """The URL clients use for ``key``: ``settings.media_public_url`` + ``/`` + key."""
    if not key:
        return None
    return f"{settings.media_public_url.rstrip('/')}/{key}"
