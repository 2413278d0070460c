"""Who allocates which ids, so ids from the lake and ids the platform hands out never collide.

External producers (the generator, importers, a CSV log, any system feeding the landing zone)
own the ids below ``PLATFORM_ID_BASE``. The platform allocates video ids (uploads, from the
``videos.id`` identity) and sound ids (an upload's "original sound", ``media_sound_id_seq``) from
``PLATFORM_ID_BASE`` up, in Postgres sequences, so concurrent allocators never meet. Records the
platform itself lands (``source = PLATFORM_SOURCE``) may carry such ids; an external record that
does is quarantined with ``reserved_id`` instead of overwriting an upload. ``sql/004`` moves the
sequences; a test checks both spell the same number.
"""

from __future__ import annotations

#: First id the platform allocates (10^12: far above any external catalogue, far below 2^53).
PLATFORM_ID_BASE = 1_000_000_000_000

#: ``source`` of landing records written by the platform's own video pipeline.
PLATFORM_SOURCE = "upload"


def is_platform_id(value: int) -> bool:
    return value >= PLATFORM_ID_BASE
