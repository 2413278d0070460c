"""The reference route of ``bench/api.py`` (issue 17, item 5): a minimal FastAPI app whose one
route does one ``redis.asyncio`` GET of a ~1 KB value and answers it as the body.

    uvicorn bench.api_reference:create_app --factory   (FYP_BENCH_VALKEY_URL=redis://...)

It is served exactly like the API (the same uvicorn options and worker count, the same Valkey)
and its client is the API's own (``async_valkey_client``: the same pool and timeouts), so the
difference between the two measures what the feed route does beyond one Valkey read.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response

#: The keys the benchmark seeds (``bench:raw:<i>``, 913 bytes each) and the reference reads.
KEY_PREFIX = "bench:raw:"


def create_app() -> FastAPI:
    from fyplake.serving.clients import async_valkey_client

    url = os.environ["FYP_BENCH_VALKEY_URL"]
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["valkey"] = async_valkey_client(url, 0.5)
        try:
            yield
        finally:
            await state["valkey"].aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ref/{key}")
    async def reference(key: int) -> Response:
        value = await state["valkey"].get(f"{KEY_PREFIX}{key}")
        return Response(value, media_type="application/json")

    @app.get("/readyz")
    async def ready() -> dict:
        return {"status": "ok"}

    return app
