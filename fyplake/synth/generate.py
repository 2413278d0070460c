"""`generate_world`: build the hidden world, simulate the days, write landing and ground truth."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from fyplake import storage
from fyplake.landing import EVENT_TYPES
from fyplake.synth.behaviour import Simulator
from fyplake.synth.shapes import resolve_shape
from fyplake.synth.truth import write_ground_truth
from fyplake.synth.world import (
    DEFAULT_START_DATE,
    HOUR_MS,
    SHAPE_KNOBS,
    WorldParams,
    build_world,
)
from fyplake.synth.writer import LandingWriter

logger = logging.getLogger(__name__)

#: Same shape as ``cli._common.progress``: wraps an iterable, may draw a bar.
ProgressFn = Callable[..., Iterator[Any]]


def _no_progress(
    iterable: Iterable[Any], total: int | None = None, desc: str = ""
) -> Iterator[Any]:
    yield from iterable


@dataclass(frozen=True)
class GenerateSummary:
    """What one run wrote; ``as_dict()`` is the `fyp generate --json` output."""

    seed: int
    world_id: str
    start_date: str
    end_date: str
    days: int
    counts: dict[str, int]  # users, creators, videos, sounds, events
    events: int
    events_by_type: dict[str, int]
    impressions: int  # watch + skip events
    late_events: int  # events whose landing hour is after their event hour
    files: int  # landing files written
    landing: str
    ground_truth: str
    seconds: float
    events_per_s: float
    params: dict[str, Any] = field(default_factory=dict)
    shape: dict[str, Any] = field(default_factory=dict)  # preset name and every knob's value

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def generate_world(
    users: int,
    videos: int,
    days: int,
    seed: int = 42,
    *,
    start_date: date = DEFAULT_START_DATE,
    events_per_user_day: float | None = None,
    shape: str = "default",
    lake_root: str | Path | None = None,
    progress: ProgressFn | None = None,
    **knobs: Any,
) -> GenerateSummary:
    """Write a synthetic world to ``<lake_root>/landing`` and ``<lake_root>/ground_truth``.

    ``lake_root`` defaults to the configured lake (a folder or an object-store URL). ``shape``
    names a preset (``shapes.SHAPES``); ``events_per_user_day`` and the shape knobs among ``knobs``
    (``world.SHAPE_KNOBS``) override it where not None. Other ``knobs`` are the remaining
    ``WorldParams`` fields (new_user_share, creator_share, late_share).
    """
    shaped = {k: knobs.pop(k) for k in list(knobs) if k in SHAPE_KNOBS}
    params = WorldParams(
        users=users,
        videos=videos,
        days=days,
        seed=seed,
        start_date=start_date,
        **resolve_shape(shape, events_per_user_day=events_per_user_day, **shaped),
        **knobs,
    )
    return generate(params, lake_root=lake_root, progress=progress)


def generate(
    params: WorldParams, lake_root: str | Path | None = None, progress: ProgressFn | None = None
) -> GenerateSummary:
    if lake_root is None:
        from fyplake.config import get_settings

        lake_root = get_settings().lake
    landing = storage.join(lake_root, "landing")
    truth = storage.join(lake_root, "ground_truth")
    progress = progress or _no_progress
    t0 = time.perf_counter()

    world = build_world(params)
    writer = LandingWriter(landing, world)
    writer.write_entities(world)
    sim = Simulator(world)
    by_type = np.zeros(len(EVENT_TYPES), dtype=np.int64)
    late = 0
    for day in progress(range(params.days), total=params.days, desc="simulating days"):
        for chunk, (lo, _hi, counts) in enumerate(sim.plan_day(day)):
            batch = sim.simulate(day, chunk, lo, counts)
            writer.write_events(batch, day, chunk)
            by_type += np.bincount(batch.type, minlength=len(EVENT_TYPES))
            late += int((batch.arrival_hour != batch.time_ms // HOUR_MS).sum())
    write_ground_truth(world, truth)

    seconds = time.perf_counter() - t0
    events = int(by_type.sum())
    types = {t: int(c) for t, c in zip(EVENT_TYPES, by_type, strict=True)}
    summary = GenerateSummary(
        seed=params.seed,
        world_id=params.world_id,
        start_date=params.start_date.isoformat(),
        end_date=(params.start_date + timedelta(days=params.days - 1)).isoformat(),
        days=params.days,
        counts={
            "users": len(world.user_signup_ms),
            "creators": len(world.creator_user),
            "videos": len(world.video_created_ms),
            "sounds": len(world.sound_created_ms),
            "events": events,
        },
        events=events,
        events_by_type=types,
        impressions=types["watch"] + types["skip"],
        late_events=late,
        files=writer.files,
        landing=str(landing),
        ground_truth=str(truth),
        seconds=round(seconds, 3),
        events_per_s=round(events / seconds, 1) if seconds > 0 else 0.0,
        params=params.as_dict(),
        shape=params.shape_dict(),
    )
    logger.info("generated %d events in %.1fs into %s", events, seconds, landing)
    return summary
