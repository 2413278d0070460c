"""POST /v1/events: validate each event, append the valid ones durably, then count them."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

import redis.exceptions
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from fyplake.landing import iso_utc
from serving_api import metrics
from serving_api.deps import ServicesDep, Writer
from serving_api.errors import INVALID, UNAUTHORIZED, UNPARSABLE, ApiError, describe
from serving_api.models import (
    EVENT_ID_MAX,
    ErrorOut,
    EventBatchIn,
    EventIn,
    EventRejectionOut,
    EventsAcceptedOut,
    EventsRejectedOut,
    ValidationErrorOut,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["events"], responses=INVALID)


def validate_events(
    raw_events: list[Any], now: dt.datetime, max_age: dt.timedelta, only_user: int | None = None
) -> tuple[list[dict[str, Any]], list[EventRejectionOut]]:
    """Landing records for the valid events, and a rejection per invalid one; with
    ``only_user`` (a viewer session's user) an event of another user is invalid."""
    records: list[dict[str, Any]] = []
    rejected: list[EventRejectionOut] = []
    ids_seen: set[str] = set()
    context = {"now": now, "max_age": max_age}
    for index, raw in enumerate(raw_events):
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        event_id = event_id if isinstance(event_id, str) and len(event_id) <= EVENT_ID_MAX else None
        if not isinstance(raw, dict):
            rejected.append(
                EventRejectionOut(
                    index=index, event_id=None, error="an event must be a JSON object"
                )
            )
            continue
        try:
            ev = EventIn.model_validate(raw, context=context)
        except ValidationError as exc:
            rejected.append(
                EventRejectionOut(
                    index=index, event_id=event_id, error=describe(exc.errors(include_url=False))
                )
            )
            continue
        if only_user is not None and ev.user_id != only_user:
            rejected.append(
                EventRejectionOut(
                    index=index, event_id=event_id, error="user_id is not the session's user"
                )
            )
            continue
        eid = ev.event_id or uuid.uuid4().hex
        if eid in ids_seen:
            rejected.append(
                EventRejectionOut(
                    index=index, event_id=eid, error="event_id repeated within the request"
                )
            )
            continue
        ids_seen.add(eid)
        record = {
            "event_id": eid,
            "event_type": ev.event_type,
            "user_id": ev.user_id,
            "video_id": ev.video_id,
            "creator_id": ev.creator_id,
            "watch_ms": ev.watch_ms,
            "event_time": iso_utc(ev.event_time or now),
            "source": "api",
            "comment_text": ev.comment_text,
        }
        if ev.ttff_ms is not None:  # only when sent: other producers' records stay as they were
            record["ttff_ms"] = ev.ttff_ms
        records.append(record)
    return records, rejected


@router.post(
    "/events",
    status_code=202,
    response_model=EventsAcceptedOut,
    responses={
        **UNPARSABLE,
        **UNAUTHORIZED,
        413: {"model": ErrorOut, "description": "Too many events, or a body over the limit"},
        422: {
            "model": EventsRejectedOut | ValidationErrorOut,
            "description": 'Every event was invalid, or the body is not {"events": [...]}',
        },
        503: {"model": ErrorOut, "description": "The landing zone is unwritable: nothing accepted"},
    },
    summary="Record a batch of engagement events",
)
async def post_events(
    batch: EventBatchIn, services: ServicesDep, writer: Writer
) -> EventsAcceptedOut | JSONResponse:
    """Each event is validated on its own (schema: ``EventIn``). The valid ones are appended to
    the lake's landing zone (fsync'd) **before** the answer, then applied to live counters and
    seen sets in Valkey (once per ``event_id``). ``202`` lists accepted ids and per-event
    rejections (index + problem); ``422`` when no event was valid. A Valkey outage does not
    reject events (``counters_updated: false``). With a viewer session (``Authorization:
    Bearer``, from ``POST /v1/sessions``) instead of ``X-API-Key``, only that user's events are
    accepted."""
    settings = services.settings
    if len(batch.events) > settings.event_batch_max:
        raise ApiError(
            413, "too_many_events", f"at most {settings.event_batch_max} events per request"
        )
    now = dt.datetime.now(dt.UTC)
    only_user = writer.user_id if writer is not None else None
    records, rejected = validate_events(batch.events, now, dt.timedelta(days=30), only_user)
    metrics.EVENTS.labels("rejected").inc(len(rejected))
    if not records:
        body = EventsRejectedOut(rejected=rejected)
        return JSONResponse(body.model_dump(mode="json"), status_code=422)
    try:
        await services.recorder.land(records)
    except OSError as exc:
        logger.error("landing append failed: %s", exc)
        metrics.EVENTS.labels("unavailable").inc(len(records))
        raise ApiError(
            503,
            "landing_unavailable",
            "events could not be stored durably; nothing was accepted, retry",
        ) from exc
    metrics.EVENTS.labels("accepted").inc(len(records))
    counters_updated = True
    try:
        await services.recorder.apply(records, int(now.timestamp() * 1000))
    except redis.exceptions.RedisError as exc:  # the events are durable already: still 202
        counters_updated = False
        metrics.BACKEND_ERRORS.labels("valkey").inc()
        logger.warning("events accepted but counters not updated (Valkey: %s)", exc)
    return EventsAcceptedOut(
        accepted=len(records),
        event_ids=[r["event_id"] for r in records],
        rejected=rejected,
        counters_updated=counters_updated,
    )
