"""Discovery: trending, hashtag and sound lists (published, with a live Postgres fallback),
and full-text search."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query

from fyplake import keys
from fyplake.serving.reader import PHASE_TOPUP, Cursor, ListPage
from serving_api.deps import Services, ServicesDep
from serving_api.errors import BAD_REQUEST, INVALID, UNAVAILABLE
from serving_api.models import ListItemOut, SearchHitOut, SearchOut, Text, VideoListOut

router = APIRouter(prefix="/v1", tags=["discovery"], responses=INVALID)

Limit = Annotated[int | None, Query(ge=1, le=1000, description="Page size.")]
CursorQ = Annotated[Text | None, Query(max_length=200, description="From next_cursor.")]


def _published(page: ListPage) -> VideoListOut:
    return VideoListOut(
        name=page.name,
        items=[ListItemOut(video_id=i.video_id, score=i.score, rank=i.rank) for i in page.items],
        next_cursor=page.next_cursor,
        source="published",
        lists_version=page.lists_version,
    )


async def _list_or_fallback(
    services: Services,
    name: str,
    limit: int | None,
    cursor: str | None,
    where: str,
    value: object,
) -> VideoListOut:
    """The published list; if it is not published, ready videos from Postgres by views."""
    settings = services.settings
    size = min(limit or settings.feed_page_size, settings.feed_page_max)
    c = Cursor.decode(cursor) if cursor else None
    if c is None or c.lists_version != 0:
        page = await services.reader.list_page(name, size, cursor)
        if page is not None:
            return _published(page)
    offset = c.offset if c is not None and c.lists_version == 0 else 0
    if not where:
        return VideoListOut(
            name=name, items=[], next_cursor=None, source="published", lists_version=None
        )
    async with services.pg.connection() as conn:
        cur = await conn.execute(
            "SELECT id, view_count FROM videos WHERE status = 'ready' AND "
            + where
            + " ORDER BY view_count DESC, id DESC LIMIT %s OFFSET %s",
            (value, size + 1, offset),
        )
        rows = await cur.fetchall()
    more = len(rows) > size
    items = [
        ListItemOut(video_id=r[0], score=float(r[1]), rank=offset + i + 1)
        for i, r in enumerate(rows[:size])
    ]
    nxt = Cursor(0, 0, PHASE_TOPUP, offset + size).encode() if more else None
    return VideoListOut(
        name=name, items=items, next_cursor=nxt, source="postgres", lists_version=None
    )


@router.get(
    "/trending",
    response_model=VideoListOut,
    responses={**BAD_REQUEST, **UNAVAILABLE},
    summary="Trending videos",
)
async def trending(
    services: ServicesDep, limit: Limit = None, cursor: CursorQ = None
) -> VideoListOut:
    """The published trending list (ready videos only); empty until one is published."""
    return await _list_or_fallback(services, keys.TRENDING, limit, cursor, "", None)


@router.get(
    "/hashtags/{tag}/videos",
    response_model=VideoListOut,
    responses={**BAD_REQUEST, **UNAVAILABLE},
    summary="Top videos of a hashtag",
)
async def hashtag_videos(
    services: ServicesDep,
    tag: Annotated[Text, Path(min_length=1, max_length=100)],
    limit: Limit = None,
    cursor: CursorQ = None,
) -> VideoListOut:
    tag = keys.normalize_hashtag(tag)
    return await _list_or_fallback(
        services, keys.hashtag_list(tag), limit, cursor, "hashtags @> ARRAY[%s]::text[]", tag
    )


@router.get(
    "/sounds/{sound_id}/videos",
    response_model=VideoListOut,
    responses={**BAD_REQUEST, **UNAVAILABLE},
    summary="Top videos using a sound",
)
async def sound_videos(
    services: ServicesDep,
    sound_id: Annotated[int, Path(gt=0, lt=2**53)],
    limit: Limit = None,
    cursor: CursorQ = None,
) -> VideoListOut:
    return await _list_or_fallback(
        services, keys.sound_list(sound_id), limit, cursor, "sound_id = %s", sound_id
    )


#: Title and hashtags are indexed unstemmed ('simple'), descriptions stemmed ('english'), so a
#: term matches if either spelling does; excluded terms (-word) exclude in either spelling.
SEARCH_SQL = """
WITH query AS (
    SELECT websearch_to_tsquery('simple', %(q)s) || websearch_to_tsquery('english', %(q)s) AS tsq,
           websearch_to_tsquery('simple', %(neg)s) || websearch_to_tsquery('english', %(neg)s)
               AS neg
)
SELECT v.id, v.creator_id, v.title, v.description, v.hashtags,
       ts_rank_cd(v.search_document, query.tsq) AS rank
FROM videos v, query
WHERE v.status = 'ready' AND v.search_document @@ query.tsq
  AND (numnode(query.neg) = 0 OR NOT v.search_document @@ query.neg)
ORDER BY rank DESC, v.view_count DESC, v.id
LIMIT %(limit)s OFFSET %(offset)s
"""
_TOKEN = re.compile(r'-?"[^"]*"|\S+')


def split_query(q: str) -> tuple[str, str]:
    """(the query without excluded terms, the excluded terms OR-ed) in websearch syntax."""
    positive, negative = [], []
    for token in _TOKEN.findall(q.replace("#", " ")):
        if token.startswith("-") and len(token) > 1:
            negative.append(token[1:])
        else:
            positive.append(token)
    return " ".join(positive), " or ".join(negative)


@router.get(
    "/search",
    response_model=SearchOut,
    responses={**BAD_REQUEST, **UNAVAILABLE},
    summary="Full-text search over titles, descriptions and hashtags",
)
async def search(
    services: ServicesDep,
    q: Annotated[
        Text, Query(min_length=1, max_length=200, description='Words, "phrases", -excluded, #tags')
    ],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorQ = None,
) -> SearchOut:
    """Postgres full-text search (``videos.search_document``: title and hashtags unstemmed,
    description stemmed in English), ready videos only, best match first."""
    offset = Cursor.decode(cursor).offset if cursor else 0
    positive, negative = split_query(q)
    async with services.pg.connection() as conn:
        cur = await conn.execute(
            SEARCH_SQL, {"q": positive, "neg": negative, "limit": limit + 1, "offset": offset}
        )
        rows = await cur.fetchall()
    more = len(rows) > limit
    items = [
        SearchHitOut(
            video_id=r[0],
            creator_id=r[1],
            title=r[2],
            description=r[3],
            hashtags=list(r[4]),
            rank=float(r[5]),
        )
        for r in rows[:limit]
    ]
    nxt = Cursor(0, 0, PHASE_TOPUP, offset + limit).encode() if more else None
    return SearchOut(q=q, items=items, next_cursor=nxt)
