"""Choosing the config store: one table, from the settings to the module that opens the store.

The settings are ``ConfigStoreSettings`` (``interceptor.settings``), the one
source the interceptor and the CLI both read. ``STORES`` is tried in order and
the first kind whose settings are present wins: ``database_url`` (PostgreSQL),
then ``supabase_*`` (Supabase), else the YAML file. A new store is one module
with ``open_store(settings)`` and one entry here. The modules are imported when
chosen, so importing this package never loads asyncpg or the Supabase client.

It must never read the environment except in ``settings_from_env``, which a
command calls once at its start, and never put a secret into a repr or an error
message.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from interceptor.config._cache import CachedConfigStore
from interceptor.config._model import ConfigStore, ConfigStoreError
from interceptor.settings import ConfigStoreSettings

__all__ = [
    "STORES",
    "ConfigSettings",
    "StoreKind",
    "missing_config",
    "open_backend",
    "open_config_store",
    "settings_from_env",
    "store_kind",
]


@dataclass(frozen=True, slots=True)
class StoreKind:
    """One kind of config store: when the settings choose it, and the module whose ``open_store`` builds it."""

    name: str
    module: str
    chosen: Callable[[ConfigStoreSettings], bool]

    def open(self, settings: ConfigStoreSettings) -> ConfigStore:
        opener: Callable[[ConfigStoreSettings], ConfigStore] = importlib.import_module(self.module).open_store
        return opener(settings)


STORES: tuple[StoreKind, ...] = (
    StoreKind("postgres", "interceptor.config._postgres", lambda s: s.database_url is not None),
    StoreKind(
        "supabase",
        "interceptor.config._supabase",
        lambda s: s.supabase_project_url is not None or s.supabase_service_role_key is not None,
    ),
    StoreKind("yaml", "interceptor.config._yaml", lambda s: True),
)


class ConfigSettings(ConfigStoreSettings):
    """The same settings given in code only: the environment is not read (``--config FILE``, library callers, tests)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_from_env(config_path: str | os.PathLike[str] | None = None) -> ConfigStoreSettings:
    """The store settings from the environment, as the interceptor reads them; ``config_path`` (--config) overrides all.

    Built once by a command at its start and passed down. Invalid settings are a
    ConfigStoreError (``config_invalid``) naming the setting, never its value.
    """
    try:
        if config_path is not None:
            return ConfigSettings(config_path=Path(config_path))
        return ConfigStoreSettings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: {error['msg']}" for error in exc.errors())
        raise ConfigStoreError("config_invalid", f"config store settings: {problems}") from None


def _settings(settings: ConfigStoreSettings | str | os.PathLike[str]) -> ConfigStoreSettings:
    if isinstance(settings, str | os.PathLike):  # a YAML file's path
        return ConfigSettings(config_path=Path(settings))
    return settings


def store_kind(settings: ConfigStoreSettings) -> StoreKind:
    """The first entry of ``STORES`` the settings choose."""
    return next(kind for kind in STORES if kind.chosen(settings))


def missing_config(settings: ConfigStoreSettings) -> str | None:
    """One line saying why there is no config to start with, and how to make one; None when there is one.

    Only the YAML store can be missing outright: a database that does not answer
    may come back, and is the cache's business. A file that is there but invalid
    is reported by the store itself, with its place.
    """
    if store_kind(settings).name != "yaml" or settings.config_path.is_file():
        return None
    path = settings.config_path
    if settings.config_path.exists():
        return f"{path}: not a file; point SENTINEL_CONFIG at a config file, or run `sentinel init --path FILE` to make one"
    if "config_path" not in settings.model_fields_set:
        return (f"{path}: no such config file (the default, as SENTINEL_CONFIG is unset); "
                "run `sentinel init` to make one there, or set SENTINEL_CONFIG to your config file")
    given = "--config" if isinstance(settings, ConfigSettings) else "SENTINEL_CONFIG"
    return f"{path}: no such config file (from {given}); run `sentinel init --path {path}` to make one there"


def open_backend(settings: ConfigStoreSettings | str | os.PathLike[str]) -> ConfigStore:
    """The uncached store the settings (or a YAML file's path) point at, not yet connected."""
    settings = _settings(settings)
    return store_kind(settings).open(settings)


def open_config_store(settings: ConfigStoreSettings | str | os.PathLike[str]) -> CachedConfigStore:
    """The configured store behind the cache; connects on first use, or on ``await``.

    ``store = open_config_store(s)`` and ``store = await open_config_store(s)``
    both work; the second connects (and migrates) now and fails fast.
    """
    settings = _settings(settings)
    return CachedConfigStore(
        open_backend(settings),
        ttl_seconds=float(settings.config_cache_ttl_seconds),
        stale_seconds=float(settings.config_stale_seconds),
    )
