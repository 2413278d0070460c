"""The one configuration object, ``Settings``, composed of one typed section per area
(``fyplake/config/<area>.py``: state, storage, servers, spark, airflow, logs, lake, engine,
serving, media); the sections are flat, so each field keeps its own ``FYP_<NAME>``.

Every setting comes from an environment variable ``FYP_<NAME>`` or from the TOML file named by
``FYP_CONFIG`` (environment wins), and every default is the embedded single-machine stack, so a
fresh clone runs with no configuration at all and a cluster deployment changes settings, not code.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from pydantic import model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fyplake.config.airflow import AirflowSettings
from fyplake.config.engine import EngineSettings
from fyplake.config.lake import LakeSettings
from fyplake.config.logs import LogSettings
from fyplake.config.media import MediaSettings
from fyplake.config.servers import ServerSettings
from fyplake.config.serving import ServingSettings
from fyplake.config.spark import (
    DELTA_MAVEN_COORDINATES,  # noqa: F401 - re-exported
    SparkSettings,
)
from fyplake.config.state import (
    REPO_ROOT,  # noqa: F401 - re-exported
    StateSettings,
)
from fyplake.config.storage import StorageSettings


def _is_uri(value: str) -> bool:
    return "://" in value


class Settings(
    MediaSettings,
    ServingSettings,
    EngineSettings,
    LakeSettings,
    LogSettings,
    AirflowSettings,
    SparkSettings,
    ServerSettings,
    StorageSettings,
    StateSettings,
    BaseSettings,
):
    """Platform settings. Unset endpoint fields mean "use the embedded service under ``home``"."""

    model_config = SettingsConfigDict(env_prefix="FYP_", extra="ignore", validate_default=True)

    @model_validator(mode="after")
    def _fill_derived_paths(self) -> Settings:
        self.home = Path(self.home).expanduser().resolve()
        self.cache_dir = Path(self.cache_dir).expanduser()
        if not self.lake:
            self.lake = str(self.home / "lake")
        if not self.media:
            self.media = str(self.home / "media")
        if not self.airflow_home:
            self.airflow_home = str(self.home / "airflow")
        if not self.quality_dir:
            # beside the lake when it is in an object store: every gate's driver writes there
            local = not _is_uri(self.lake)
            self.quality_dir = str(self.home / "quality") if local else self.lake_path("_quality")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("FYP_CONFIG")
        if config_file:
            path = Path(config_file).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"FYP_CONFIG names {path}, which does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # --- derived locations ------------------------------------------------------------------
    @property
    def lake_is_local(self) -> bool:
        return not _is_uri(self.lake)

    @property
    def media_is_local(self) -> bool:
        return not _is_uri(self.media)

    @property
    def lake_uri(self) -> str:
        """The lake root as a URI Spark and delta-rs both accept."""
        return Path(self.lake).resolve().as_uri() if self.lake_is_local else self.lake

    @property
    def media_uri(self) -> str:
        return Path(self.media).resolve().as_uri() if self.media_is_local else self.media

    @property
    def services_dir(self) -> Path:
        return self.home / "services"

    @property
    def jars_dir(self) -> Path:
        return self.cache_dir / "jars"

    def lake_path(self, *parts: str) -> str:
        """A location under the lake root, as a path (local) or URI (object store)."""
        return "/".join([self.lake.rstrip("/"), *parts])

    def public_dict(self) -> dict[str, Any]:
        """Settings as plain JSON-able values, for `fyp config` and logs (no secrets)."""
        data = self.model_dump(mode="json")
        if self.postgres_dsn:
            data["postgres_dsn"] = _redact(self.postgres_dsn)
        if self.valkey_url:
            data["valkey_url"] = _redact(self.valkey_url)
        data["api_key"] = "***"
        return data


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests that change the environment call ``reload``."""
    return Settings()


def reload_settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()
