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


async def require_api_key(
    services: ServicesDep,
    x_api_key: Annotated[str | None, Header(description="The configured API key.")] = None,
) -> None:
    expected = services.settings.api_key.encode()
    if not x_api_key or not secrets.compare_digest(x_api_key.encode(), expected):
        raise ApiError(
            401,
            "invalid_api_key",
            "write endpoints need a valid X-API-Key header",
            headers={"WWW-Authenticate": "ApiKey"},
        )


ApiKey = Annotated[None, Depends(require_api_key)]
