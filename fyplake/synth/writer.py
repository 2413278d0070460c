"""Landing output of the generator: the JSON Lines files all producers write (``fyplake.landing``).

Events are the bulk (millions of lines), so they are serialised column-wise with Arrow string
kernels (ids and timestamps formatted in C, lines joined in one pass) and the finished buffer is
cut at arrival-hour boundaries into files, instead of one ``json.dumps`` per record. Dimension
records (users, videos, sounds) are few and go through pandas' JSON writer.

File names carry a token made of the seed, the world id and the chunk, so re-running the same world
overwrites the same files with the same bytes. Records that existed before day 0 arrive together in
the first hour's folder (an initial snapshot); later ones arrive in the hour they were created.
Events arrive in the hour of their event time, except a ``late_share`` that lands 1-12 hours later.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fyplake.landing import ENTITIES, EVENT_TYPES, partition_dir, write_jsonl_atomic
from fyplake.synth import catalog
from fyplake.synth.behaviour import COMMENT, FOLLOW, SKIP, WATCH, EventBatch
from fyplake.synth.world import DAY_MS, HOUR_MS, World

PRODUCER = "generator"
SOURCE = "generator"
_LS = pa.large_string()


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _LS)


def _join(*parts: pa.Array | str) -> pa.Array:
    """Concatenate string arrays/literals element-wise (no separator)."""
    args = [_lit(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, _lit(""))


def _num(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values, pa.int64()), _LS)


def _table(values: list[str]) -> pa.Array:
    return pa.array(values, _LS)


_HH = _table([f"{i:02d}" for i in range(24)])
_MM = _table([f"{i:02d}" for i in range(60)])
_MS = _table([f"{i:03d}" for i in range(1000)])
_TYPES = _table(list(EVENT_TYPES))
#: Comment texts already JSON-encoded (quotes, escapes), so they can be pasted into lines.
_COMMENTS = _table([json.dumps(c, ensure_ascii=False) for c in catalog.COMMENTS])


def iso_times(ms: np.ndarray) -> pa.Array:
    """Epoch milliseconds -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (same spelling as ``landing.iso_utc``)."""
    ms = np.asarray(ms, dtype=np.int64)
    days = ms // DAY_MS
    uniq, day_idx = np.unique(days, return_inverse=True)
    dates = _table([str(d) + "T" for d in uniq.astype("datetime64[D]")])
    rem = ms - days * DAY_MS
    return _join(
        dates.take(pa.array(day_idx)),
        _HH.take(pa.array(rem // HOUR_MS)),
        ":",
        _MM.take(pa.array(rem // 60_000 % 60)),
        ":",
        _MM.take(pa.array(rem // 1000 % 60)),
        ".",
        _MS.take(pa.array(rem % 1000)),
        "Z",
    )


def _hour_dt(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, tz=UTC)


class LandingWriter:
    """Writes one world's records under ``<landing_root>`` and counts the files."""

    def __init__(self, landing_root: str | Path, world: World) -> None:
        self.root = landing_root
        p = world.params
        self.token = f"s{p.seed}-{p.world_id}"
        self.id_prefix = f"g{p.seed}-{p.world_id}-"
        self.start_hour = p.start_ms // HOUR_MS
        self.files = 0
        self.next_event = 0

    # --- dimension records -----------------------------------------------------------------------
    def write_entities(self, w: World) -> None:
        users = pd.DataFrame(
            {
                "user_id": np.arange(1, len(w.user_signup_ms) + 1),
                "age_band": np.array(catalog.AGE_BANDS)[w.user_age],
                "country": np.array([c[0] for c in catalog.COUNTRIES])[w.user_country],
                "language": np.array(catalog.LANGUAGES)[w.user_lang],
                "signup_time": iso_times(w.user_signup_ms).to_numpy(zero_copy_only=False),
                "is_creator": np.isin(np.arange(len(w.user_signup_ms)), w.creator_user),
                "source": SOURCE,
            }
        )
        self._write_dimension("users", users, w.user_signup_ms)

        sound = pd.array(np.where(w.video_sound >= 0, w.video_sound + 1, 0), dtype="Int64")
        sound[w.video_sound < 0] = pd.NA
        videos = pd.DataFrame(
            {
                "video_id": np.arange(1, len(w.video_created_ms) + 1),
                "creator_id": w.creator_user[w.video_creator] + 1,
                "duration_ms": w.video_duration_ms,
                "title": w.video_title,
                "description": w.video_description,
                "hashtags": w.video_hashtags,
                "sound_id": sound,
                "language": np.array(catalog.LANGUAGES)[w.video_lang],
                "status": "ready",
                "created_at": iso_times(w.video_created_ms).to_numpy(zero_copy_only=False),
                "source": SOURCE,
            }
        )
        self._write_dimension("videos", videos, w.video_created_ms)

        creator = pd.array(w.sound_creator_user + 1, dtype="Int64")
        creator[w.sound_creator_user < 0] = pd.NA
        sounds = pd.DataFrame(
            {
                "sound_id": np.arange(1, len(w.sound_created_ms) + 1),
                "title": w.sound_title,
                "creator_id": creator,
                "created_at": iso_times(w.sound_created_ms).to_numpy(zero_copy_only=False),
                "source": SOURCE,
            }
        )
        self._write_dimension("sounds", sounds, w.sound_created_ms)

    def _write_dimension(self, entity: str, df: pd.DataFrame, created_ms: np.ndarray) -> None:
        assert list(df.columns) == list(ENTITIES[entity]), (entity, list(df.columns))
        arrival = np.maximum(created_ms // HOUR_MS, self.start_hour)
        order = np.argsort(arrival, kind="stable")
        df, arrival = df.iloc[order], arrival[order]
        hours, starts = np.unique(arrival, return_index=True)
        bounds = [*starts.tolist(), len(df)]
        for i, hour in enumerate(hours.tolist()):
            part = df.iloc[bounds[i] : bounds[i + 1]]
            text = part.to_json(orient="records", lines=True, force_ascii=False)
            if not text.endswith("\n"):
                text += "\n"
            self._write(entity, hour, text.encode(), self.token)

    # --- events ----------------------------------------------------------------------------------
    def write_events(self, b: EventBatch, day: int, chunk: int) -> None:
        """Serialise one chunk (ids continue from the previous chunk) into per-hour files."""
        n = len(b)
        if n == 0:
            return
        ids = np.arange(self.next_event, self.next_event + n)
        self.next_event += n
        order = np.argsort(b.arrival_hour, kind="stable")  # keeps event-time order within an hour

        def col(a: np.ndarray) -> np.ndarray:
            return a[order]

        etype = col(b.type)
        is_follow = etype == FOLLOW
        is_view = (etype == WATCH) | (etype == SKIP)
        empty = _lit("")
        video = pc.if_else(pa.array(is_follow), _lit("null"), _num(col(b.video) + 1))
        creator = pc.if_else(
            pa.array(is_follow), _join(',"creator_id":', _num(col(b.creator) + 1)), empty
        )
        watch = pc.if_else(pa.array(is_view), _join(',"watch_ms":', _num(col(b.watch_ms))), empty)
        comment = pc.if_else(
            pa.array(etype == COMMENT),
            _join(',"comment_text":', _COMMENTS.take(pa.array(np.maximum(col(b.comment), 0)))),
            empty,
        )
        lines = _join(
            '{"event_id":"',
            self.id_prefix,
            _num(col(ids)),
            '","event_type":"',
            _TYPES.take(pa.array(etype)),
            '","user_id":',
            _num(col(b.user) + 1),
            ',"video_id":',
            video,
            creator,
            watch,
            ',"event_time":"',
            iso_times(col(b.time_ms)),
            f'","source":"{SOURCE}"',
            comment,
            "}\n",
        )
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[
            lines.offset : lines.offset + n + 1
        ]
        data = memoryview(lines.buffers()[2])
        arrival = col(b.arrival_hour)
        hours, starts = np.unique(arrival, return_index=True)
        bounds = [*starts.tolist(), n]
        token = f"{self.token}-d{day:03d}-c{chunk:03d}"
        for i, hour in enumerate(hours.tolist()):
            lo, hi = offsets[bounds[i]], offsets[bounds[i + 1]]
            self._write("events", hour, bytes(data[lo:hi]), token)

    def _write(self, entity: str, hour: int, data: bytes, token: str) -> None:
        write_jsonl_atomic(partition_dir(self.root, entity, _hour_dt(hour)), PRODUCER, data, token)
        self.files += 1
