"""`fyp run --only REGEX`: which tasks run and which are marked success (pure)."""

from __future__ import annotations

import re

import pytest

from orchestration.runner import skip_pattern


def test_only_marks_every_other_task_success():
    pattern = re.compile(skip_pattern("features|publish_feeds"))
    tasks = ["features", "embeddings", "publish_feeds", "publish_feeds_x", "quality_gate_feeds"]
    skipped = [t for t in tasks if pattern.fullmatch(t)]
    assert skipped == ["embeddings", "publish_feeds_x", "quality_gate_feeds"]
    with pytest.raises(ValueError, match="not a valid regex"):
        skip_pattern("(")
