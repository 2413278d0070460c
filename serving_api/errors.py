"""Errors as ``{"error": code, "detail": text}``; outages of Valkey/Postgres become 503s; a
request that does not match the schema is a 422 that names the problems, never echoing input."""

from __future__ import annotations

import http.client
import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from fyplake.serving.reader import CursorError
from serving_api import metrics
from serving_api.models import ErrorOut, ValidationErrorOut

logger = logging.getLogger(__name__)

#: How much of a validation error is sent back: problems listed, characters per location part
#: and message, characters of the summary. Locations can hold client text (an unknown key).
ERRORS_SHOWN, LOC_CHARS, MSG_CHARS, DETAIL_CHARS = 10, 40, 200, 1000


class ApiError(HTTPException):
    """An error answered as ``{"error", "detail"}``. An ``HTTPException`` so that FastAPI lets
    it through unchanged even when it is raised while the request body is read."""

    def __init__(
        self, status: int, error: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, detail, headers)
        self.status = status
        self.error = error


def error_response(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def field_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """pydantic errors as ``{loc, msg, type}``, the first ``ERRORS_SHOWN``, without input."""
    out = []
    for err in errors:
        if len(out) == ERRORS_SHOWN:
            break
        loc = [p if isinstance(p, int) else excerpt(str(p), LOC_CHARS) for p in err["loc"]]
        msg = excerpt(err["msg"].removeprefix("Value error, "), MSG_CHARS)
        out.append({"loc": loc, "msg": msg, "type": err["type"]})
    return out


def describe(errors: Iterable[dict[str, Any]]) -> str:
    """One line for humans: ``loc: msg; ...``."""
    parts = []
    for err in field_errors(errors):
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return excerpt("; ".join(parts), DETAIL_CHARS)


def install(app: FastAPI) -> None:
    import psycopg
    import psycopg_pool
    import redis.exceptions

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        body = {
            "error": "invalid_request",
            "detail": describe(errors),
            "errors": field_errors(errors),
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        """Starlette's and FastAPI's own (404, 405, an unreadable body) in the same shape."""
        code = http.client.responses.get(exc.status_code, "error").lower().replace(" ", "_")
        return error_response(exc.status_code, code, str(exc.detail), exc.headers)

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

    for exc_type in (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        redis.exceptions.BusyLoadingError,
    ):
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
INVALID = {
    422: {"model": ValidationErrorOut, "description": "Parameters or body do not match the schema"}
}
UNAVAILABLE = {503: {"model": ErrorOut, "description": "Valkey or Postgres unreachable"}}
BAD_REQUEST = {400: {"model": ErrorOut, "description": "Invalid cursor or parameter"}}
UNPARSABLE = {400: {"model": ErrorOut, "description": "A body that cannot be parsed"}}
NOT_FOUND = {404: {"model": ErrorOut, "description": "No such resource"}}
UNAUTHORIZED = {401: {"model": ErrorOut, "description": "Missing or wrong X-API-Key"}}
