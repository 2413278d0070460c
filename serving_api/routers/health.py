"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving_api.deps import ServicesDep
from serving_api.models import HealthOut, ReadyOut

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


def _check(name: str, result: str | BaseException) -> str:
    """The check's outcome: ok, or the error's type. Not its message, which names hosts and
    ports: that goes to the log."""
    if isinstance(result, str):
        return result
    logger.warning("readiness: %s unavailable: %s", name, result)
    return f"unavailable: {type(result).__name__}"


@router.get("/healthz", response_model=HealthOut, summary="The process is alive")
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "A backend is unreachable"}},
    summary="Valkey and Postgres are reachable",
)
async def readyz(services: ServicesDep) -> ReadyOut | JSONResponse:
    async def valkey() -> str:
        await asyncio.wait_for(services.valkey.ping(), timeout=1.0)
        return "ok"

    async def postgres() -> str:
        async with services.pg.connection(timeout=1.0) as conn:
            await conn.execute("SELECT 1")
        return "ok"

    results = await asyncio.gather(valkey(), postgres(), return_exceptions=True)
    checks = {
        name: _check(name, r) for name, r in zip(("valkey", "postgres"), results, strict=True)
    }
    ok = all(v == "ok" for v in checks.values())
    out = ReadyOut(status="ready" if ok else "not_ready", checks=checks)
    if ok:
        return out
    return JSONResponse(out.model_dump(), status_code=503)
