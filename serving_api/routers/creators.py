"""Creator analytics, from gold.creator_daily_stats as published into Postgres."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from psycopg.rows import dict_row

from serving_api.deps import ServicesDep
from serving_api.errors import INVALID, NOT_FOUND, UNAVAILABLE, ApiError
from serving_api.models import CreatorAnalyticsOut, CreatorDayOut, CreatorTotalsOut

router = APIRouter(prefix="/v1/creators", tags=["creators"], responses=INVALID)


@router.get(
    "/{creator_id}/analytics",
    response_model=CreatorAnalyticsOut,
    responses={**NOT_FOUND, **UNAVAILABLE},
    summary="A creator's daily engagement",
)
async def creator_analytics(
    services: ServicesDep,
    creator_id: Annotated[int, Path(gt=0, lt=2**53)],
    days: Annotated[int, Query(ge=1, le=365, description="Days up to the latest published.")] = 28,
) -> CreatorAnalyticsOut:
    """The last ``days`` days of published stats (views, reach, completion, engagement rates,
    follower growth), oldest first, with totals over the window."""
    async with services.pg.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            """
            SELECT date, views, unique_viewers, watch_ms_total, mean_completion, like_rate,
                   share_rate, comment_rate, new_followers, followers_total
            FROM creator_daily_stats
            WHERE creator_id = %(c)s AND date > (
                SELECT max(date) FROM creator_daily_stats WHERE creator_id = %(c)s) - %(d)s
            ORDER BY date
            """,
            {"c": creator_id, "d": days},
        )
        rows = await cur.fetchall()
        if not rows:
            found = await (
                await conn.execute("SELECT 1 FROM users WHERE id = %s", (creator_id,))
            ).fetchone()
            if found is None:
                raise ApiError(404, "creator_not_found", f"no creator {creator_id}")
    day_models = [CreatorDayOut(**r) for r in rows]
    totals = CreatorTotalsOut(
        views=sum(d.views for d in day_models),
        watch_ms_total=sum(d.watch_ms_total for d in day_models),
        new_followers=sum(d.new_followers for d in day_models),
        followers_total=day_models[-1].followers_total if day_models else 0,
    )
    return CreatorAnalyticsOut(creator_id=creator_id, days=day_models, totals=totals)
