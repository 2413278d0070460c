"""Errors as ``{"error": code, "detail": text}``; outages of Valkey/Postgres become 503s."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from fyplake.serving.reader import CursorError
from serving_api import metrics
from serving_api.models import ErrorOut

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self, status: int, error: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    import psycopg
    import psycopg_pool
    import redis.exceptions

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(CursorError)
    async def _cursor(request: Request, exc: CursorError) -> JSONResponse:
        return error_response(400, "invalid_cursor", str(exc))

    async def _valkey_down(request: Request, exc: Exception) -> JSONResponse:
        metrics.BACKEND_ERRORS.labels("valkey").inc()
        logger.warning("Valkey unavailable for %s: %s", request.url.path, exc)
        return error_response(
            503,
            "valkey_unavailable",
            "Valkey (feeds, lists, counters) is unreachable; retry shortly. The service "
            "reconnects by itself.",
            {"Retry-After": "1"},
        )

    for exc_type in (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                     redis.exceptions.BusyLoadingError):
        app.add_exception_handler(exc_type, _valkey_down)

    async def _postgres_down(request: Request, exc: Exception) -> JSONResponse:
        metrics.BACKEND_ERRORS.labels("postgres").inc()
        logger.warning("Postgres unavailable for %s: %s", request.url.path, exc)
        return error_response(
            503,
            "postgres_unavailable",
            "Postgres (metadata, search, similar videos) is unreachable; retry shortly.",
            {"Retry-After": "1"},
        )

    for exc_type in (psycopg.OperationalError, psycopg_pool.PoolTimeout):
        app.add_exception_handler(exc_type, _postgres_down)


#: OpenAPI entries shared by routes.
UNAVAILABLE = {503: {"model": ErrorOut, "description": "Valkey or Postgres unreachable"}}
BAD_REQUEST = {400: {"model": ErrorOut, "description": "Invalid cursor or parameter"}}
NOT_FOUND = {404: {"model": ErrorOut, "description": "No such resource"}}
UNAUTHORIZED = {401: {"model": ErrorOut, "description": "Missing or wrong X-API-Key"}}
