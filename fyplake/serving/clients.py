"""Valkey clients with the serving timeouts (short, few retries: a dead server fails fast)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fyplake.config import Settings, get_settings

if TYPE_CHECKING:
    import redis
    import redis.asyncio


def resolve_valkey_url(settings: Settings | None = None) -> str:
    """The configured Valkey URL, or the running embedded one; never starts a server
    (:func:`fyplake.endpoints.valkey_url`: a clear error when neither is there)."""
    from fyplake.endpoints import valkey_url

    return valkey_url(settings or get_settings())


def resolve_postgres_dsn(settings: Settings | None = None) -> str:
    """The configured Postgres DSN, or the running embedded one; never starts a server."""
    from fyplake.endpoints import postgres_dsn

    return postgres_dsn(settings or get_settings())


def valkey_client(
    settings: Settings | None = None, url: str | None = None, timeout: float | None = 30.0
) -> redis.Redis:
    """A synchronous client for batch work (publishing, flushing, the CLI)."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url or resolve_valkey_url(settings),
        socket_timeout=timeout,
        socket_connect_timeout=5.0,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
    )


def async_valkey_client(url: str, timeout: float, max_connections: int = 64) -> redis.asyncio.Redis:
    """The API's client: one pool, short timeouts, one quick retry, so a Valkey outage turns
    into a fast 503 rather than a hung request, and recovery needs no restart."""
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout * 4,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )
    return aioredis.Redis(connection_pool=pool)
