"""The FastAPI application: ``create_app()`` (``fyp serve`` runs it with uvicorn).

Pools open in the lifespan: one ``redis.asyncio`` pool for Valkey (short timeouts, so an outage
answers 503 at once and the next request after recovery simply reconnects) and one
``psycopg_pool.AsyncConnectionPool`` for Postgres (opened without waiting, so the API starts and
serves feeds even while Postgres is still coming up). Routes never block the event loop: all
Postgres access is async and file writes run in the thread pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from fyplake import __version__
from fyplake.config import Settings, get_settings
from serving_api import errors, metrics
from serving_api.guard import GuardMiddleware, write_rules
from serving_api.metrics import MetricsMiddleware

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Feeds, lists and counters from Valkey; metadata, search, similar videos and analytics from
Postgres/pgvector; events to the lake's landing zone. Reads are open; writes need `X-API-Key`.
A viewer session (`POST /v1/sessions`, `Authorization: Bearer`) may post one user's events
instead. Errors are `{"error": code, "detail": text}`; `503` means Valkey or Postgres is
unreachable (retry: the service recovers by itself); `413` a body over the route's limit; `422`
a request that does not match the schema (`errors` lists the problems; input is never echoed).
"""


def _resolve_endpoints(settings: Settings) -> tuple[str, str]:
    from fyplake.serving.clients import resolve_postgres_dsn, resolve_valkey_url

    return resolve_valkey_url(settings), resolve_postgres_dsn(settings)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

    from fyplake.serving.clients import async_valkey_client
    from fyplake.serving.events import EventRecorder
    from fyplake.serving.reader import ServingReader, pg_demographics
    from serving_api.deps import Services

    settings: Settings = app.state.settings
    valkey_url, dsn = await run_in_threadpool(_resolve_endpoints, settings)
    valkey = async_valkey_client(valkey_url, settings.valkey_timeout_s)
    pg = AsyncConnectionPool(
        dsn,
        min_size=1,
        max_size=settings.api_pg_pool_max,
        open=False,
        timeout=5.0,
        kwargs={"autocommit": True},
        name="fyp-api",
    )
    await pg.open(wait=False)
    pg_sync = ConnectionPool(
        dsn,
        min_size=0,
        max_size=4,
        open=False,
        timeout=5.0,
        kwargs={"autocommit": True},
        name="fyp-api-sync",
    )
    await run_in_threadpool(pg_sync.open, False)
    app.state.services = Services(
        settings=settings,
        valkey=valkey,
        pg=pg,
        pg_sync=pg_sync,
        postgres_dsn=dsn,
        reader=ServingReader(valkey, settings, demographics=pg_demographics(pg)),
        recorder=EventRecorder(valkey, settings),
    )
    logger.info("API ready: valkey %s", valkey_url)
    try:
        yield
    finally:
        app.state.services = None
        await pg.close()
        await run_in_threadpool(pg_sync.close)
        await valkey.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    from serving_api.routers import creators, discovery, events, feed, health, sessions, videos, web

    app = FastAPI(
        title="fyplake feed API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    settings = app.state.settings = settings or get_settings()
    app.state.services = None
    errors.install(app)
    for module in (feed, events, sessions, videos, discovery, creators, health, web):
        app.include_router(module.router)
    web.mount_page(app)
    app.add_middleware(GuardMiddleware, settings=settings, rules=write_rules(app, settings))
    app.add_middleware(MetricsMiddleware)  # outermost: it counts what the guard answers too
    app.add_route("/metrics", metrics.endpoint, include_in_schema=False)
    _document_event_schema(app)
    return app


def _document_event_schema(app: FastAPI) -> None:
    """Events are validated one by one (so one bad event does not reject the batch); publish
    their schema, ``EventIn``, in the OpenAPI components all the same."""
    from fastapi.openapi.utils import get_openapi

    from serving_api.models import EventIn

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["EventIn"] = EventIn.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
