"""Synthetic world generator behind `fyp generate`.

A hidden world (``world``: topic interests, creator and video quality, Zipf popularity), shaped by
knobs and named presets (``shapes``: topic purity, popularity skew, history length, new items),
drives a day-by-day simulation of impressions and engagement (``behaviour``) that is written to the
landing zone exactly as a real producer would (``writer``), plus the ground truth an evaluation
needs (``truth``; its module docstring documents the Parquet schemas). Same seed and parameters
give byte-identical files.

Names are imported on first use, so ``fyplake.synth.shapes`` (what `fyp generate --help` needs)
loads without the writer's pandas and Arrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "GenerateSummary": "fyplake.synth.generate",
    "generate": "fyplake.synth.generate",
    "generate_world": "fyplake.synth.generate",
    "SHAPES": "fyplake.synth.shapes",
    "Shape": "fyplake.synth.shapes",
    "resolve_shape": "fyplake.synth.shapes",
    "SHAPE_KNOBS": "fyplake.synth.world",
    "WorldParams": "fyplake.synth.world",
}

if TYPE_CHECKING:
    from fyplake.synth.generate import GenerateSummary, generate, generate_world
    from fyplake.synth.shapes import SHAPES, Shape, resolve_shape
    from fyplake.synth.world import SHAPE_KNOBS, WorldParams


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "SHAPES",
    "SHAPE_KNOBS",
    "GenerateSummary",
    "Shape",
    "WorldParams",
    "generate",
    "generate_world",
    "resolve_shape",
]
