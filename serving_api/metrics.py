"""Prometheus metrics (served at /metrics) and the pure-ASGI middleware that records them."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

REQUESTS = Counter("fyp_api_requests_total", "HTTP requests", ("method", "route", "status"))
LATENCY = Histogram(
    "fyp_api_request_seconds",
    "HTTP request latency",
    ("route",),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
EVENTS = Counter("fyp_api_events_total", "Engagement events by outcome", ("outcome",))
BACKEND_ERRORS = Counter(
    "fyp_api_backend_unavailable_total", "Requests answered 503 for a backend", ("backend",)
)
UPLOADS = Counter("fyp_api_uploads_total", "Video uploads accepted")


class MetricsMiddleware:
    """Counts and times every HTTP request by route template. Cheap: pure ASGI (no
    BaseHTTPMiddleware), and the labelled children are looked up once per label set and kept,
    so a request costs two dict lookups and two lock-protected updates."""

    def __init__(self, app) -> None:  # noqa: ANN001 - ASGI app
        self.app = app
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._timers: dict[str, Histogram] = {}

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message) -> None:  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            key = (scope["method"], path, status)
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = REQUESTS.labels(key[0], path, str(status))
            counter.inc()
            timer = self._timers.get(path)
            if timer is None:
                timer = self._timers[path] = LATENCY.labels(path)
            timer.observe(elapsed)


async def endpoint(request: Request) -> Response:
    """GET /metrics in the Prometheus text format (per worker process)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
