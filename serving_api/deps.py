"""Dependencies: the per-process services (opened in the lifespan) and the API-key check."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from fyplake.config import Settings
from fyplake.serving.events import EventRecorder
from fyplake.serving.reader import ServingReader
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
