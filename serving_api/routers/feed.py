"""GET /v1/feed/{user_id}: the published feed, paginated, seen/ready-filtered, topped up.

This is the hottest route, so it has a fast path (``FeedRoute``): a request whose parameters are
plainly valid is parsed straight from the ASGI scope and answered with JSON bytes serialised by
pydantic-core from plain dicts, skipping FastAPI's per-request parameter solving and the
``FeedOut`` validation (together about half of the route's CPU). Anything unusual (a parameter
that is missing its value, out of range, too long, holding a NUL or not plain digits; the app not
started yet) takes the ordinary FastAPI path, so errors and their 422 bodies are that path's. The
OpenAPI schema still comes from ``get_feed``'s signature and ``FeedOut``; both paths produce the
same body bytes (pydantic-core serialises either way).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

import pydantic_core
from fastapi import APIRouter, Path, Query
from fastapi.routing import APIRoute

from fyplake.serving.reader import FeedPage, Segment
from serving_api.deps import ServicesDep
from serving_api.errors import BAD_REQUEST, INVALID, UNAVAILABLE
from serving_api.models import FeedOut, Text

USER_ID_MAX = 2**53  # exclusive; ids must survive a JSON double
LIMIT_MAX = 1000
#: Longest accepted value of each string query parameter (the ``Query(max_length=...)`` below).
MAX_LENGTHS = {"cursor": 200, "age_band": 16, "country": 8, "language": 8}


def _json_fallback(value: Any) -> Any:
    """numpy scalars (or anything else number-like) as plain numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def feed_json(page: FeedPage) -> bytes:
    """The ``FeedOut`` JSON of a page, without building models: the same bytes FastAPI writes
    for the validated model (pydantic-core serialises both; NaN/inf scores become null)."""
    return pydantic_core.to_json(
        {
            "user_id": page.user_id,
            "items": [
                {
                    "video_id": vid,
                    "score": score,
                    "source": source,
                    "rank": rank,
                    "ranked_by": ranked_by,
                }
                for vid, score, source, rank, ranked_by in page.items
            ],
            "next_cursor": page.next_cursor,
            "feed_version": page.feed_version,
            "lists_version": page.lists_version,
            "personalized": page.personalized,
        },
        inf_nan_mode="null",
        fallback=_json_fallback,
    )


def _plain_int(text: str, low: int, high: int) -> int | None:
    """``text`` as an int if it is plain ASCII digits within [low, high), else None."""
    if not (0 < len(text) <= 16 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value < high else None


def fast_args(scope: dict) -> tuple[int, int | None, str | None, Segment | None] | None:
    """(user_id, limit, cursor, segment) of a request whose parameters need no validation
    beyond what is checked here; None sends the request down FastAPI's ordinary path."""
    user_id = _plain_int(scope["path_params"].get("user_id", ""), 1, USER_ID_MAX)
    if user_id is None:
        return None
    limit: int | None = None
    params: dict[str, str] = {}
    query = scope.get("query_string", b"")
    if query:  # parsed as Starlette parses it: the last of repeated parameters wins
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if name == "limit":
                limit = _plain_int(value, 1, LIMIT_MAX + 1)
                if limit is None:
                    return None
            elif name in MAX_LENGTHS:
                if len(value) > MAX_LENGTHS[name] or "\x00" in value:  # FastAPI's 422
                    return None
                params[name] = value
    segment = None
    age_band, country, language = (params.get(k, "") for k in ("age_band", "country", "language"))
    if age_band or country or language:
        segment = (age_band or "unknown", country or "unknown", language or "unknown")
    return user_id, limit, params.get("cursor") or None, segment


_HEADERS_JSON = (b"content-type", b"application/json")


class FeedRoute(APIRoute):
    """``APIRoute`` whose ASGI app answers plainly valid requests itself (see the module
    docstring) and hands every other request to the route's ordinary FastAPI app."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        slow = self.app

        async def app(scope, receive, send) -> None:  # noqa: ANN001 - ASGI
            args = fast_args(scope)
            services = scope["app"].state.services if args is not None else None
            if services is None:  # invalid parameters, or outside the lifespan
                await slow(scope, receive, send)
                return
            # Exceptions (a bad cursor, Valkey down) reach the app's exception handlers.
            body = feed_json(await services.reader.feed_page(*args))
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"%d" % len(body)), _HEADERS_JSON],
                }
            )
            await send({"type": "http.response.body", "body": body})

        self.app = app


router = APIRouter(prefix="/v1", tags=["feed"], route_class=FeedRoute, responses=INVALID)


@router.get(
    "/feed/{user_id}",
    response_model=FeedOut,
    responses={**BAD_REQUEST, **UNAVAILABLE},
    summary="A user's For You feed",
)
async def get_feed(
    services: ServicesDep,
    user_id: Annotated[int, Path(gt=0, lt=USER_ID_MAX)],
    limit: Annotated[int | None, Query(ge=1, le=LIMIT_MAX, description="Page size.")] = None,
    cursor: Annotated[
        Text, Query(max_length=MAX_LENGTHS["cursor"], description="From next_cursor.")
    ] = "",
    age_band: Annotated[Text, Query(max_length=MAX_LENGTHS["age_band"])] = "",
    country: Annotated[Text, Query(max_length=MAX_LENGTHS["country"])] = "",
    language: Annotated[Text, Query(max_length=MAX_LENGTHS["language"])] = "",
) -> FeedOut:
    """The published feed from ``cursor`` on, minus videos that are not ready and videos the
    user watched since the feed was built; when it runs out (or for a user without a published
    feed) it continues with the user's cold-start pool and trending. ``limit`` is capped at
    ``FYP_FEED_PAGE_MAX``. ``age_band``/``country``/``language`` choose the cold-start segment
    for users Postgres does not know yet."""
    segment = None
    if age_band or country or language:
        segment = (age_band or "unknown", country or "unknown", language or "unknown")
    page = await services.reader.feed_page(user_id, limit, cursor or None, segment)
    return FeedOut.model_validate_json(feed_json(page))
