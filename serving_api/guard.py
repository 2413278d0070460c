"""Limits before work, and 500s that keep the connection: the ASGI middleware every request
passes before a route sees it.

* A write route's ``X-API-Key`` (or, where the route takes one, a viewer session's bearer
  token) is checked from the headers before a byte of its body is read (FastAPI reads and
  parses the whole body before it solves any dependency).
* Request bodies are capped per route (``body_limits``): a ``Content-Length`` over the cap is
  refused up front, a chunked body once the bytes read pass it. Both answer 413 with
  ``Connection: close``, so the rest of the body is never read.
* An exception that no handler took is logged and answered as a JSON 500. Starlette's
  ``ServerErrorMiddleware`` would answer it too, but then re-raise it, and uvicorn drops the
  keep-alive connection without a ``Connection: close``: the client's next request on it fails.

Pure ASGI (no ``BaseHTTPMiddleware``); a GET costs one set lookup. The fault point
``api.request`` (``FYP_FAULTS``, see ``fyplake.faults``) makes requests fail on purpose; it is
looked at only when the app is built.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute

from fyplake import faults
from fyplake.config import Settings
from serving_api.deps import (
    key_error,
    key_ok,
    require_api_key,
    require_writer,
    writer_error,
    writer_ok,
)
from serving_api.errors import ApiError, error_response

logger = logging.getLogger(__name__)

FAULT_POINT = "api.request"
#: Body cap of routes without one of their own (no other route takes more than a small form).
SMALL_BODY_MAX = 64 * 1024
#: Body bytes allowed per event of a batch (a 2,000-character comment as JSON fits easily):
#: ``FYP_EVENT_BATCH_MAX`` x this = 4 MiB by default.
EVENT_BYTES = 4096
#: Multipart framing and the form fields around an upload's file.
FORM_OVERHEAD = 64 * 1024
_READS = frozenset({"GET", "HEAD"})


def body_limits(settings: Settings) -> dict[str, int]:
    """Largest request body per route path, in bytes; others get ``SMALL_BODY_MAX``."""
    return {
        "/v1/events": settings.event_batch_max * EVENT_BYTES,
        "/v1/videos": settings.upload_max_bytes + FORM_OVERHEAD,
    }


@dataclass(frozen=True)
class Rule:
    max_body: int
    needs_key: bool
    session_ok: bool = False  # a viewer session's bearer token will do instead of the key


_DEFAULT = Rule(SMALL_BODY_MAX, needs_key=False)


def _needs_key(dependant) -> bool:  # noqa: ANN001 - fastapi.dependencies.models.Dependant
    return any(
        d.call in (require_api_key, require_writer) or _needs_key(d) for d in dependant.dependencies
    )


def _session_ok(dependant) -> bool:  # noqa: ANN001
    return any(d.call is require_writer or _session_ok(d) for d in dependant.dependencies)


def write_rules(app: FastAPI, settings: Settings) -> list[tuple[re.Pattern[str], Rule]]:
    """(path regex, rule) of every route that takes a body, from the app's own routes."""
    limits = body_limits(settings)
    return [
        (
            route.path_regex,
            Rule(
                limits.get(route.path, SMALL_BODY_MAX),
                _needs_key(route.dependant),
                _session_ok(route.dependant),
            ),
        )
        for route in app.routes
        if isinstance(route, APIRoute) and route.methods - _READS
    ]


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "body_too_large",
        f"the request body is over {limit} bytes here",
        headers={"Connection": "close"},
    )


class GuardMiddleware:
    def __init__(self, app, settings: Settings, rules) -> None:  # noqa: ANN001 - ASGI app
        self.app = app
        self.settings = settings
        self.rules: list[tuple[re.Pattern[str], Rule]] = rules
        self.http = self._faulty(app) if faults.parse(settings.faults).get(FAULT_POINT) else app

    def _faulty(self, app):  # noqa: ANN001, ANN202 - ASGI app
        async def faulty(scope, receive, send) -> None:  # noqa: ANN001
            faults.maybe_fail(FAULT_POINT, self.settings)
            await app(scope, receive, send)

        return faulty

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in _READS:
            rule = next((r for regex, r in self.rules if regex.match(scope["path"])), _DEFAULT)
            refusal = self._admit(scope, rule)
            if refusal is not None:
                await error_response(
                    refusal.status, refusal.error, refusal.detail, _closing(refusal.headers)
                )(scope, receive, send)
                return
            receive = _counting(receive, rule.max_body)
        try:
            await self.http(scope, receive, send)
        except Exception as exc:
            logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
            try:
                await error_response(
                    500, "internal_error", "an unexpected error occurred; it was logged"
                )(scope, receive, send)
            except Exception:  # the response had started: dropping the connection is all
                raise exc from None  # that is left, and the server does that

    def _admit(self, scope: dict, rule: Rule) -> ApiError | None:
        """Why a request is refused before its body is read, or None."""
        key = length = authorization = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                key = value
            elif name == b"content-length":
                length = value
            elif name == b"authorization":
                authorization = value
        if rule.needs_key:
            if rule.session_ok and not writer_ok(key, authorization, self.settings):
                return writer_error()
            if not rule.session_ok and not key_ok(key, self.settings):
                return key_error()
        if length is not None and length.isdigit() and int(length) > rule.max_body:
            return too_large(rule.max_body)
        return None


def _closing(headers: dict[str, str] | None) -> dict[str, str]:
    """Refused before its body was read: close, so the server need not read the rest."""
    return {**(headers or {}), "Connection": "close"}


def _counting(receive, limit: int):  # noqa: ANN001, ANN202 - ASGI receive
    """``receive`` that raises 413 once the body read passes ``limit`` (chunked bodies have no
    Content-Length to check up front)."""
    seen = 0

    async def counted() -> dict:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
        return message

    return counted
