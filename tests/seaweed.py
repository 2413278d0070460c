"""A SeaweedFS S3 server for the tests that need a real S3 endpoint (skips if not installed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.seaweedfs import SeaweedS3, SeaweedUnavailable, weed_binary


@contextmanager
def seaweed(root: Path, access_key: str, secret_key: str, *buckets: str) -> Iterator[SeaweedS3]:
    """A started server with ``buckets``, stopped on exit."""
    server = SeaweedS3(root, access_key, secret_key)
    try:
        server.start(buckets)
    except SeaweedUnavailable as exc:
        if weed_binary() is None:
            pytest.skip(str(exc))
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()
