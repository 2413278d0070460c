"""Request (``*In``) and response (``*Out``) models of the API; inputs and outputs never share."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

Id = Annotated[int, Field(strict=True, gt=0, lt=2**53)]
EVENT_ID_MAX = 128


def _plain_text(text: str) -> str:
    """Postgres text cannot hold NUL, nor UTF-8 a lone surrogate: refuse both at the edge."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return text


class _NoNulPattern:
    """Documents the NUL check in the schema (the validator's message stays readable)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["pattern"] = "^[^\\x00]*$"
        return out


#: Every text input of the API (query, path, form and body fields) is of this type.
Text = Annotated[str, AfterValidator(_plain_text), _NoNulPattern()]

# --- errors ---------------------------------------------------------------------------------


class ErrorOut(BaseModel):
    error: str = Field(description="Machine-readable code, e.g. valkey_unavailable.")
    detail: str = Field(description="What went wrong, for humans.")


class FieldErrorOut(BaseModel):
    loc: list[str | int] = Field(description='Where, e.g. ["query", "limit"].')
    msg: str
    type: str = Field(description="pydantic's error type, e.g. missing, too_long.")


class ValidationErrorOut(ErrorOut):
    """A request that does not match the schema. Bad input is never echoed back."""

    error: Literal["invalid_request"] = "invalid_request"
    errors: list[FieldErrorOut] = Field(description="The first problems found.")


# --- feed and lists -------------------------------------------------------------------------


class FeedItemOut(BaseModel):
    video_id: int
    score: float = Field(
        description="Display score of the position, 1 / log2(1 + rank): falls with rank, so "
        "score order is the served order (the ranker's own score is gold.feeds.raw_score)."
    )
    source: str = Field(
        description="Candidate source that produced it (the dedupe priority's pick), or the "
        "cold-start list / trending for top-ups."
    )
    rank: int = Field(description="1-based position in the user's sequence.")
    ranked_by: str | None = Field(
        default=None,
        description="What ranked it: the feed's ranker (learned, hybrid, design) or the list "
        "mixed in (coldstart_popular, coldstart_diverse, exploration; trending for a top-up); "
        "null for a feed published without it.",
    )


class FeedOut(BaseModel):
    user_id: int
    items: list[FeedItemOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end.")
    feed_version: int | None = Field(description="Published feed version served.")
    lists_version: int | None = Field(description="Published lists version used for top-ups.")
    personalized: bool = Field(description="False for cold-start users (no published feed).")


class ListItemOut(BaseModel):
    video_id: int
    score: float
    rank: int


class VideoListOut(BaseModel):
    name: str = Field(description="The list served, e.g. trending, hashtag:dance, sound:7.")
    items: list[ListItemOut]
    next_cursor: str | None
    source: Literal["published", "postgres"] = Field(
        description="published: the batch-built list; postgres: live fallback for a list that "
        "has not been published yet."
    )
    lists_version: int | None


# --- events ---------------------------------------------------------------------------------


class EventIn(BaseModel):
    """One engagement event. The API sets ``source`` = api and assigns ``event_id`` if absent."""

    model_config = ConfigDict(extra="forbid")

    event_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=EVENT_ID_MAX,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Client id for retries (idempotency); a UUID is assigned if absent.",
    )
    event_type: Literal["watch", "skip", "like", "comment", "share", "follow"]
    user_id: Id
    video_id: Id | None = Field(default=None, description="Required except for follow.")
    creator_id: Id | None = Field(default=None, description="Only for follow (required there).")
    watch_ms: Annotated[int, Field(strict=True, ge=0, le=6 * 3600 * 1000)] | None = Field(
        default=None, description="Milliseconds watched; required for watch and skip only."
    )
    event_time: dt.datetime | None = Field(
        default=None, description="ISO-8601 with a time zone; default: arrival time."
    )
    comment_text: Text | None = Field(default=None, max_length=2000, description="comment only.")
    ttff_ms: Annotated[int, Field(strict=True, ge=0, le=600_000)] | None = Field(
        default=None,
        description="watch/skip only, optional: the player's time to first frame of this "
        "impression (from the swipe or page load to the first decoded frame), in ms. Landed "
        "with the event; the lake ignores it.",
    )

    @model_validator(mode="after")
    def _rules_per_type(self, info: ValidationInfo) -> EventIn:
        t = self.event_type
        if t == "follow":
            if self.creator_id is None:
                raise ValueError("follow events need creator_id")
        else:
            if self.video_id is None:
                raise ValueError(f"{t} events need video_id")
            if self.creator_id is not None:
                raise ValueError("creator_id is only allowed on follow events")
        if t in ("watch", "skip"):
            if self.watch_ms is None:
                raise ValueError(f"{t} events need watch_ms")
        elif self.watch_ms is not None:
            raise ValueError("watch_ms is only allowed on watch and skip events")
        elif self.ttff_ms is not None:
            raise ValueError("ttff_ms is only allowed on watch and skip events")
        if self.comment_text is not None and t != "comment":
            raise ValueError("comment_text is only allowed on comment events")
        if self.event_time is not None:
            if self.event_time.tzinfo is None:
                raise ValueError("event_time needs a time zone (e.g. a trailing Z)")
            now = (info.context or {}).get("now") or dt.datetime.now(dt.UTC)
            max_age = (info.context or {}).get("max_age", dt.timedelta(days=30))
            if self.event_time > now + dt.timedelta(minutes=5):
                raise ValueError("event_time is in the future")
            if self.event_time < now - max_age:
                raise ValueError(f"event_time is older than {max_age.days} days")
        return self


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(
        min_length=1,
        description="Engagement events, each validated on its own against EventIn; valid ones "
        "are accepted even when others are rejected.",
        json_schema_extra={"items": {"$ref": "#/components/schemas/EventIn"}},
    )


class EventRejectionOut(BaseModel):
    index: int = Field(description="0-based position of the event in the request.")
    event_id: str | None
    error: str


class EventsAcceptedOut(BaseModel):
    accepted: int
    event_ids: list[str] = Field(description="Ids of the accepted events, in request order.")
    rejected: list[EventRejectionOut]
    counters_updated: bool = Field(
        description="False if Valkey was unreachable: the events are safely in the lake, live "
        "counters catch up when they are rebuilt from it."
    )


class EventsRejectedOut(BaseModel):
    error: Literal["all_events_rejected"] = "all_events_rejected"
    accepted: int = 0
    rejected: list[EventRejectionOut]


# --- videos ---------------------------------------------------------------------------------


class CountsOut(BaseModel):
    views: int
    likes: int
    comments: int
    shares: int
    live: bool = Field(
        description="True: Postgres plus not-yet-flushed Valkey increments; False: Postgres "
        "only (Valkey unreachable)."
    )


class VideoOut(BaseModel):
    id: int
    creator_id: int | None = Field(
        description="The uploader; null for an item without a creator (e.g. an imported movie)."
    )
    status: Literal["processing", "ready", "failed", "duplicate"]
    status_reason: str | None
    duplicate_of: int | None
    title: str
    description: str
    hashtags: list[str]
    sound_id: int | None
    language: str
    duration_ms: int | None
    url: str | None = Field(description="Master playlist under the media store, once ready.")
    created_at: dt.datetime
    counts: CountsOut
    media: dict[str, Any] | None = Field(
        description="Renditions and thumbnails from the video pipeline, when it provides them."
    )


class SimilarItemOut(BaseModel):
    video_id: int
    distance: float = Field(description="Cosine distance of the embeddings (0 = identical).")


class SimilarOut(BaseModel):
    video_id: int
    items: list[SimilarItemOut]


class UploadOut(BaseModel):
    video_id: int
    status: Literal["processing"] = Field(description="Poll GET /v1/videos/{id} for the outcome.")
    queue: str = Field(description="Where the upload waits for the transcode pipeline.")
    job_state: str | None = Field(description="State of its transcode job (queued, triggered...).")


# --- search and analytics -------------------------------------------------------------------


class SearchHitOut(BaseModel):
    video_id: int
    creator_id: int | None = Field(description="Null for an item without a creator.")
    title: str
    description: str
    hashtags: list[str]
    rank: float = Field(description="Full-text relevance (ts_rank_cd).")


class SearchOut(BaseModel):
    q: str
    items: list[SearchHitOut]
    next_cursor: str | None


class CreatorDayOut(BaseModel):
    date: dt.date
    views: int
    unique_viewers: int
    watch_ms_total: int
    mean_completion: float | None
    like_rate: float | None
    share_rate: float | None
    comment_rate: float | None
    new_followers: int
    followers_total: int


class CreatorTotalsOut(BaseModel):
    views: int
    watch_ms_total: int
    new_followers: int
    followers_total: int


class CreatorAnalyticsOut(BaseModel):
    creator_id: int
    days: list[CreatorDayOut]
    totals: CreatorTotalsOut


# --- health ---------------------------------------------------------------------------------


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]


# --- viewer sessions (serving_api/session.py) -----------------------------------------------

AgeBand = Literal["13-17", "18-24", "25-34", "35-44", "45+"]


class NewUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    age_band: AgeBand
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO-3166 alpha-2.")]
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$", description="ISO-639-1.")]


class SessionIn(BaseModel):
    """Either ``user_id`` (an existing viewer) or ``new_user`` (a new one), not both."""

    model_config = ConfigDict(extra="forbid")

    user_id: Id | None = None
    new_user: NewUserIn | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SessionIn:
        if (self.user_id is None) == (self.new_user is None):
            raise ValueError("give either user_id or new_user")
        return self


class SessionOut(BaseModel):
    user_id: int
    token: str = Field(description="Send as `Authorization: Bearer <token>` to POST /v1/events.")
    expires_at: dt.datetime
    new_user: bool
