"""Choosing the config store from settings, the same way for the interceptor and the CLI.

Order: ``database_url`` (PostgreSQL), else ``supabase_project_url`` +
``supabase_service_role_key`` (Supabase), else ``config_path`` (YAML). Any
object with those attributes works (InterceptorSettings has them).

It must never read the environment except in ``settings_from_env``, which the
CLI calls once, and never put a secret into a repr or an error message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interceptor.config._cache import CachedConfigStore
from interceptor.config._model import ConfigStoreError

DEFAULT_CONFIG_PATH = Path("examples/sentinel.yaml")  # InterceptorSettings' default too


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    text = getter() if getter is not None else str(value)
    return text or None


@dataclass(frozen=True, slots=True)
class ConfigSettings:
    """The settings the config store needs, for callers without InterceptorSettings (the CLI)."""

    config_path: Path = DEFAULT_CONFIG_PATH
    database_url: str | None = field(default=None, repr=False)
    database_schema: str | None = None
    supabase_project_url: str | None = None
    supabase_service_role_key: str | None = field(default=None, repr=False)
    config_cache_ttl_seconds: float = 5.0
    config_stale_seconds: float = 300.0


def settings_from_env(environ: Mapping[str, str] | None = None, config_path: str | os.PathLike[str] | None = None) -> ConfigSettings:
    """The interceptor's choice of store from the environment; ``config_path`` (--config) overrides it."""
    env = os.environ if environ is None else environ
    if config_path is not None:
        return ConfigSettings(config_path=Path(config_path))
    return ConfigSettings(
        config_path=Path(env.get("SENTINEL_CONFIG") or DEFAULT_CONFIG_PATH),
        database_url=env.get("SENTINEL_DATABASE_URL") or None,
        database_schema=env.get("SENTINEL_DATABASE_SCHEMA") or None,
        supabase_project_url=env.get("SUPABASE_PROJECT_URL") or None,
        supabase_service_role_key=env.get("SUPABASE_SERVICE_ROLE_KEY") or None,
    )


def _settings(settings: Any) -> Any:
    if settings is None:
        return settings_from_env()
    if isinstance(settings, str | os.PathLike):  # a YAML file's path
        return ConfigSettings(config_path=Path(settings))
    return settings


def open_backend(settings: Any = None) -> Any:
    """The uncached store the settings point at (not yet connected).

    ``settings`` may also be ``None`` (the environment, as the CLI reads it) or
    the path of a YAML file.
    """
    settings = _settings(settings)
    database_url = _secret(getattr(settings, "database_url", None))
    if database_url:
        from interceptor.config._postgres import PostgresConfigStore

        return PostgresConfigStore(database_url, schema=getattr(settings, "database_schema", None) or None)
    supabase_url = getattr(settings, "supabase_project_url", None)
    supabase_key = _secret(getattr(settings, "supabase_service_role_key", None))
    if supabase_url or supabase_key:
        if not (supabase_url and supabase_key):
            raise ConfigStoreError(
                "config_invalid", "Supabase needs both SUPABASE_PROJECT_URL and SUPABASE_SERVICE_ROLE_KEY"
            )
        from interceptor.config._supabase import SupabaseConfigStore

        return SupabaseConfigStore(str(supabase_url), supabase_key)
    from interceptor.config._yaml import YamlConfigStore

    return YamlConfigStore(getattr(settings, "config_path", None) or DEFAULT_CONFIG_PATH)


def open_config_store(settings: Any = None) -> CachedConfigStore:
    """The configured store behind the cache; connects on first use, or on ``await``.

    ``store = open_config_store(s)`` and ``store = await open_config_store(s)``
    both work; the second connects (and migrates) now and fails fast.
    """
    settings = _settings(settings)
    return CachedConfigStore(
        open_backend(settings),
        ttl_seconds=float(getattr(settings, "config_cache_ttl_seconds", 5.0)),
        stale_seconds=float(getattr(settings, "config_stale_seconds", 300.0)),
    )
