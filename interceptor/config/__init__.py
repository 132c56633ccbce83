"""Config stores: where projects (API key hashes, tools, policies) live.

One interface, three backends: a YAML file (the default), PostgreSQL, and
Supabase. The interceptor reads through a cache with a short TTL; when a store
is unreachable the last good config serves for a bounded time, then requests
fail closed. ``open_config_store(settings)`` picks the backend from
``ConfigStoreSettings`` through one table (``STORES``, kind -> module) and
wraps it in the cache. A backend's module is imported only when chosen, so
importing this package never pulls in asyncpg or the Supabase client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interceptor.config._cache import CachedConfigStore
from interceptor.config._model import ConfigStore, ConfigStoreError, KeyHolder, PolicyVersion, Project
from interceptor.config._open import (
    STORES,
    ConfigSettings,
    StoreKind,
    missing_config,
    open_backend,
    open_config_store,
    settings_from_env,
    store_kind,
)
from interceptor.config._records import api_key_sha256
from interceptor.config._yaml import YamlConfigStore
from interceptor.config._yaml_file import load_yaml, yaml_problem
from interceptor.settings import ConfigStoreSettings

if TYPE_CHECKING:
    from interceptor.config._postgres import PostgresConfigStore
    from interceptor.config._supabase import SupabaseConfigStore

__all__ = [
    "STORES",
    "CachedConfigStore",
    "ConfigSettings",
    "ConfigStore",
    "ConfigStoreError",
    "ConfigStoreSettings",
    "KeyHolder",
    "PolicyVersion",
    "PostgresConfigStore",
    "Project",
    "StoreKind",
    "SupabaseConfigStore",
    "YamlConfigStore",
    "api_key_sha256",
    "load_yaml",
    "missing_config",
    "open_backend",
    "open_config_store",
    "settings_from_env",
    "store_kind",
    "yaml_problem",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresConfigStore":
        from interceptor.config._postgres import PostgresConfigStore

        return PostgresConfigStore
    if name == "SupabaseConfigStore":
        from interceptor.config._supabase import SupabaseConfigStore

        return SupabaseConfigStore
    raise AttributeError(name)
