"""Dependencies: the per-process services (opened in the lifespan), the API-key check and the
writer check of routes a viewer session may also use (``serving_api.session``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from fyplake.config import Settings
from fyplake.serving.events import EventRecorder
from fyplake.serving.reader import ServingReader
from serving_api import session as sessions
from serving_api.errors import ApiError
from serving_api.models import Text

if TYPE_CHECKING:
    import redis.asyncio
    from psycopg_pool import AsyncConnectionPool, ConnectionPool


@dataclass
class Services:
    settings: Settings
    valkey: redis.asyncio.Redis
    pg: AsyncConnectionPool
    pg_sync: ConnectionPool  # for the video pipeline's synchronous catalog, in threads
    postgres_dsn: str
    reader: ServingReader
    recorder: EventRecorder


async def get_services(request: Request) -> Services:
    services = getattr(request.app.state, "services", None)
    if services is None:  # only outside the lifespan (a client without `with TestClient(app)`)
        raise ApiError(503, "starting", "the service is starting; retry shortly")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def key_error() -> ApiError:
    return ApiError(
        401,
        "invalid_api_key",
        "write endpoints need a valid X-API-Key header",
        headers={"WWW-Authenticate": "ApiKey"},
    )


def key_ok(given: bytes | None, settings: Settings) -> bool:
    return bool(given) and secrets.compare_digest(given, settings.api_key.encode())


async def require_api_key(
    services: ServicesDep,
    x_api_key: Annotated[Text | None, Header(description="The configured API key.")] = None,
) -> None:
    """Documents the header; ``serving_api.guard`` checks it first, before the body is read."""
    if not key_ok(x_api_key.encode() if x_api_key else None, services.settings):
        raise key_error()


ApiKey = Annotated[None, Depends(require_api_key)]


def writer_error() -> ApiError:
    return ApiError(
        401,
        "invalid_api_key",
        "this endpoint needs a valid X-API-Key header or a viewer session "
        "(Authorization: Bearer <token from POST /v1/sessions>)",
        headers={"WWW-Authenticate": "ApiKey, Bearer"},
    )


def writer_ok(key: bytes | None, authorization: bytes | str | None, settings: Settings) -> bool:
    return key_ok(key, settings) or session_of(authorization, settings) is not None


def session_of(authorization: bytes | str | None, settings: Settings) -> sessions.Session | None:
    return sessions.decode(settings.api_key, sessions.bearer(authorization))


async def require_writer(
    services: ServicesDep,
    x_api_key: Annotated[Text | None, Header(description="The configured API key.")] = None,
    authorization: Annotated[
        Text | None,
        Header(description="Bearer token of a viewer session (POST /v1/sessions) instead."),
    ] = None,
) -> sessions.Session | None:
    """The API key (None: may write for anyone) or a viewer session (writes for its user only);
    ``serving_api.guard`` checks both first, before the body is read."""
    if key_ok(x_api_key.encode() if x_api_key else None, services.settings):
        return None
    found = session_of(authorization, services.settings)
    if found is None:
        raise writer_error()
    return found


Writer = Annotated[sessions.Session | None, Depends(require_writer)]
