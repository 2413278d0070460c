"""Postgres and Valkey endpoints (unset: the embedded servers)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ServerSettings(BaseModel):
    """Env ``FYP_<NAME>`` or the ``FYP_CONFIG`` file, as every setting."""

    postgres_dsn: str | None = Field(
        default=None, description="Postgres DSN. Unset: the embedded Postgres 18 + pgvector."
    )
    valkey_url: str | None = Field(
        default=None, description="Valkey URL. Unset: the embedded Valkey."
    )
