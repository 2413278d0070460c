"""One filesystem layer for the lake's files outside Spark: a local folder or S3, through fsspec.

Every landing write (generator, importers, the API's events), reads of the landing zone and
lake-side result files go through here, so a lake at ``s3://bucket/prefix`` behaves like a
local one. Locations are plain strings: a local path, or a URL (``s3://`` / ``s3a://``; both
name the same object, Spark's S3A spelling included). S3 goes through pyarrow's S3 filesystem
wrapped as an fsspec filesystem (no extra client library; its endpoint and region come from the
settings, credentials from ``s3_access_key_id`` / ``s3_secret_access_key`` or else the standard
AWS chain: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, which the ``fyp_s3`` Connection
sets inside Airflow tasks).

Writes are atomic either way: a local file is written to a temporary name, fsync'd and renamed
into place (its folder fsync'd); an S3 object is one PUT, visible only once complete.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import fsspec

    from fyplake.config import Settings

REMOTE_SCHEMES = ("s3://", "s3a://")


def is_remote(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(REMOTE_SCHEMES)


def join(base: str | Path, *parts: str) -> str | Path:
    """``base``/``parts``: a ``Path`` for a local base, a URL string for a remote one."""
    if is_remote(base):
        return posixpath.join(str(base).rstrip("/"), *parts)
    return Path(base).joinpath(*parts)


def storage_options(settings: Settings) -> dict[str, str]:
    """delta-rs / object-store options for the settings' S3 endpoint (credentials: the AWS
    environment)."""
    opts = {"AWS_REGION": settings.s3_region}
    if settings.s3_endpoint_url:
        opts["AWS_ENDPOINT_URL"] = settings.s3_endpoint_url
        opts["AWS_ALLOW_HTTP"] = "true" if settings.s3_endpoint_url.startswith("http:") else "false"
    creds = settings.s3_credentials()
    if creds:
        opts["AWS_ACCESS_KEY_ID"], opts["AWS_SECRET_ACCESS_KEY"] = creds
        if os.environ.get("AWS_SESSION_TOKEN") and not settings.s3_access_key_id:
            opts["AWS_SESSION_TOKEN"] = os.environ["AWS_SESSION_TOKEN"]
    return opts


@lru_cache(maxsize=8)
def _s3(endpoint: str | None, region: str, key: str | None, secret: str | None, token: str | None):
    from fsspec.implementations.arrow import ArrowFSWrapper
    from pyarrow import fs as pafs

    kwargs: dict = {"region": region}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs["endpoint_override"] = host or scheme
        kwargs["scheme"] = scheme if host else "https"
    if key and secret:
        kwargs.update(access_key=key, secret_key=secret, session_token=token)
    return ArrowFSWrapper(pafs.S3FileSystem(**kwargs))


def filesystem(
    location: str | Path, settings: Settings | None = None
) -> tuple[fsspec.AbstractFileSystem, str]:
    """(fsspec filesystem, path on it) of ``location``."""
    if not is_remote(location):
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(), str(location)
    if settings is None:
        from fyplake.config import get_settings

        settings = get_settings()
    key, secret = settings.s3_credentials() or (None, None)
    token = None if settings.s3_access_key_id else os.environ.get("AWS_SESSION_TOKEN")
    fs = _s3(settings.s3_endpoint_url, settings.s3_region, key, secret, token)
    return fs, str(location).split("://", 1)[1]


def arrow_filesystem(location: str | Path, settings: Settings | None = None):  # noqa: ANN201
    """A native pyarrow filesystem rooted at ``location`` (a Delta table's folder).

    delta-rs's own pyarrow datasets read through a Python filesystem: a read-ahead still in
    flight when the interpreter exits then needs the GIL and aborts the process after its output
    is written (apache/arrow#34314, "terminate called without an active exception"). Native
    filesystems read without the GIL."""
    from pyarrow import fs as pafs

    if not is_remote(location):
        return pafs.SubTreeFileSystem(str(Path(location).resolve()), pafs.LocalFileSystem())
    fs, path = filesystem(location, settings)
    return pafs.SubTreeFileSystem(path.rstrip("/"), fs.fs)


def write_atomic(
    target: str | Path, data: bytes, settings: Settings | None = None, *, fresh: bool = False
) -> None:
    """Write one whole file or object; a reader never sees it half written. ``fresh``: the name
    is new (not a deterministic rewrite), so a local write whose folder fsync fails takes the
    file back and shows nothing."""
    if is_remote(target):
        fs, path = filesystem(target, settings)
        fs.pipe_file(path, data)
        return
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        fsync_dir(target.parent)
    except BaseException:
        if fresh:
            target.unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_read(location: str | Path, settings: Settings | None = None) -> IO[bytes]:
    fs, path = filesystem(location, settings)
    return fs.open(path, "rb")


def glob(pattern: str | Path, settings: Settings | None = None) -> list[str | Path]:
    """Files matching ``pattern`` (``*`` within one path segment), sorted; local ones as
    ``Path``, remote ones as URLs of the pattern's scheme."""
    if not is_remote(pattern):
        import glob as _glob

        return [Path(m) for m in sorted(_glob.glob(str(pattern)))]
    fs, path = filesystem(pattern, settings)
    scheme = str(pattern).split("://", 1)[0]
    return [f"{scheme}://{m}" for m in sorted(fs.glob(path))]


def exists(location: str | Path, settings: Settings | None = None) -> bool:
    if not is_remote(location):
        return Path(location).exists()
    fs, path = filesystem(location, settings)
    return fs.exists(path)


def remove(location: str | Path, settings: Settings | None = None) -> None:
    """Delete one file or object if it exists."""
    if not is_remote(location):
        Path(location).unlink(missing_ok=True)
        return
    fs, path = filesystem(location, settings)
    try:
        fs.rm_file(path)
    except FileNotFoundError:
        pass
