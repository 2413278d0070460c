"""GET /v1/feed/{user_id}: the published feed, paginated, seen/ready-filtered, topped up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from fyplake.serving.reader import FeedPage
from serving_api.deps import ServicesDep
from serving_api.errors import BAD_REQUEST, UNAVAILABLE
from serving_api.models import FeedOut

router = APIRouter(prefix="/v1", tags=["feed"])


def feed_out(page: FeedPage) -> FeedOut:
    # One model_validate over plain dicts runs in pydantic-core; it is several times cheaper
    # than building the item models one by one in Python (this is the hottest route).
    return FeedOut.model_validate(
        {
            "user_id": page.user_id,
            "items": [
                {"video_id": i.video_id, "score": i.score, "source": i.source, "rank": i.rank}
                for i in page.items
            ],
            "next_cursor": page.next_cursor,
            "feed_version": page.feed_version,
            "lists_version": page.lists_version,
            "personalized": page.personalized,
        }
    )


@router.get(
    "/feed/{user_id}",
    response_model=FeedOut,
    responses={**BAD_REQUEST, **UNAVAILABLE},
    summary="A user's For You feed",
)
async def get_feed(
    services: ServicesDep,
    user_id: Annotated[int, Path(gt=0, lt=2**53)],
    limit: Annotated[int | None, Query(ge=1, le=1000, description="Page size.")] = None,
    cursor: Annotated[str, Query(max_length=200, description="From next_cursor.")] = "",
    age_band: Annotated[str, Query(max_length=16)] = "",
    country: Annotated[str, Query(max_length=8)] = "",
    language: Annotated[str, Query(max_length=8)] = "",
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
    return feed_out(page)
