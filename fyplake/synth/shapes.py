"""World shapes: named presets of the knobs that change how a synthetic world is shaped.

A recommender tuned on one world can be evaluated on several differently shaped ones. Four
properties move independently, each through ``WorldParams`` fields (``world.SHAPE_KNOBS``):

* topic purity: ``topic_concentration`` (users' and creators' interest mixtures),
  ``second_topic_share`` and ``second_topic_weight`` (videos' topic mixtures);
* popularity skew: ``popularity_skew`` (Zipf exponent of video popularity);
* history length per user: ``events_per_user_day`` (mean) and ``activity_shape`` (spread);
* share of new items: ``new_video_share`` created during the window, over its last
  ``new_video_days`` days.

A preset names a set of knob values; knobs given explicitly override the preset's. ``default`` is
the world as it was before the knobs existed (same files for the same seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from fyplake.synth.world import SHAPE_KNOBS, WorldParams


@dataclass(frozen=True)
class Shape:
    """A named preset: a one-line description and the knobs it sets (the rest keep defaults)."""

    description: str
    knobs: dict[str, Any] = field(default_factory=dict)


SHAPES: dict[str, Shape] = {
    "default": Shape("the world the engine was first built on: sparse interests, Zipf 0.9"),
    "sparse": Shape(
        "short histories: most users have a handful of events",
        {"events_per_user_day": 2.0, "activity_shape": 0.4},
    ),
    "niche": Shape(
        "near-single-topic users and videos, flat popularity",
        {"topic_concentration": 0.15, "second_topic_share": 0.1, "popularity_skew": 0.3},
    ),
    "viral": Shape(
        "broad interests, heavy skew, half the videos new in the last 2 days",
        {
            "topic_concentration": 4.0,
            "second_topic_share": 0.8,
            "second_topic_weight": 0.45,
            "popularity_skew": 1.4,
            "new_video_share": 0.5,
            "new_video_days": 2,
        },
    ),
    "heavy": Shape(
        "long histories: evenly active users with many events each",
        {"events_per_user_day": 40.0, "activity_shape": 3.0},
    ),
}


def knob_defaults() -> dict[str, Any]:
    """Each shape knob's default (the ``default`` shape)."""
    return {f.name: f.default for f in fields(WorldParams) if f.name in SHAPE_KNOBS}


def resolve_shape(shape: str = "default", **overrides: Any) -> dict[str, Any]:
    """The preset's knobs with ``overrides`` on top (``None`` values are ignored), plus its name.

    The result is ready for ``WorldParams(**...)``; it raises ``ValueError`` for an unknown preset
    or knob.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown world shape {shape!r}; choose one of {', '.join(SHAPES)}")
    unknown = set(overrides) - set(SHAPE_KNOBS)
    if unknown:
        raise ValueError(f"unknown shape knob(s): {', '.join(sorted(unknown))}")
    knobs = {**knob_defaults(), **SHAPES[shape].knobs}
    knobs.update({k: v for k, v in overrides.items() if v is not None})
    return {"shape": shape, **knobs}


__all__ = ["SHAPES", "SHAPE_KNOBS", "Shape", "knob_defaults", "resolve_shape"]
