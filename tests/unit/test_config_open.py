"""Choosing the config store: one settings class for the interceptor and the CLI, one table of stores."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from interceptor.config import (
    STORES,
    ConfigSettings,
    ConfigStoreError,
    ConfigStoreSettings,
    PostgresConfigStore,
    SupabaseConfigStore,
    YamlConfigStore,
    open_backend,
    settings_from_env,
    store_kind,
)
from interceptor.settings import InterceptorSettings
from sentinel_contract import b64url_encode, generate_keypair

STORE_VARIABLES = ("SENTINEL_CONFIG", "SENTINEL_DATABASE_URL", "SENTINEL_DATABASE_SCHEMA",
                   "SUPABASE_PROJECT_URL", "SUPABASE_SERVICE_ROLE_KEY", "SENTINEL_CONFIG_CACHE_TTL_SECONDS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STORE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("values", "kind", "store_type"), [
    ({}, "yaml", YamlConfigStore),
    ({"database_url": "postgresql://u:pw@127.0.0.1:1/db"}, "postgres", PostgresConfigStore),
    ({"supabase_project_url": "https://x.supabase.co", "supabase_service_role_key": "k"}, "supabase", SupabaseConfigStore),
    ({"database_url": "postgresql://u:pw@127.0.0.1:1/db", "supabase_project_url": "https://x.supabase.co",
      "supabase_service_role_key": "k"}, "postgres", PostgresConfigStore),
])
async def test_the_first_store_whose_settings_are_present_is_opened(values: dict[str, str], kind: str, store_type: type) -> None:
    settings = ConfigSettings(**values)  # type: ignore[arg-type]
    assert store_kind(settings).name == kind
    store = open_backend(settings)
    assert isinstance(store, store_type)
    await store.close()


def test_half_a_supabase_configuration_is_refused_without_the_key() -> None:
    with pytest.raises(ConfigStoreError) as caught:
        open_backend(ConfigSettings(supabase_service_role_key="service-secret"))  # type: ignore[arg-type]
    assert caught.value.code == "config_invalid" and "SUPABASE_PROJECT_URL" in caught.value.message
    assert "service-secret" not in caught.value.message


def test_every_store_is_one_module_with_open_store_and_the_yaml_file_is_the_fallback() -> None:
    assert [kind.name for kind in STORES] == ["postgres", "supabase", "yaml"]
    for kind in STORES:
        assert callable(importlib.import_module(kind.module).open_store)
    assert STORES[-1].chosen(ConfigSettings())


def test_importing_the_package_loads_no_database_driver() -> None:
    code = "import sys, interceptor.config; print('asyncpg' in sys.modules, 'supabase' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_cli_and_the_interceptor_read_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", "postgresql://u:pw@127.0.0.1:1/db")
    monkeypatch.setenv("SENTINEL_DATABASE_SCHEMA", "tenant_a")
    monkeypatch.setenv("SENTINEL_CONFIG", "/etc/sentinel.yaml")
    cli = settings_from_env()
    interceptor = InterceptorSettings(identity_key=b64url_encode(generate_keypair().seed))  # type: ignore[call-arg]
    assert isinstance(interceptor, ConfigStoreSettings)
    for field in ConfigStoreSettings.model_fields:
        assert getattr(cli, field) == getattr(interceptor, field), field
    assert store_kind(cli) is store_kind(interceptor) and store_kind(cli).name == "postgres"


def test_a_config_file_overrides_every_store_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", "postgresql://u:pw@127.0.0.1:1/db")
    monkeypatch.setenv("SUPABASE_PROJECT_URL", "https://x.supabase.co")
    monkeypatch.setenv("SENTINEL_CONFIG_CACHE_TTL_SECONDS", "not a number")  # not read either
    settings = settings_from_env(config_path=tmp_path / "mine.yaml")
    assert store_kind(settings).name == "yaml" and settings.config_path == tmp_path / "mine.yaml"


def test_an_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", "")
    monkeypatch.setenv("SUPABASE_PROJECT_URL", "")
    assert store_kind(settings_from_env()).name == "yaml"


def test_invalid_settings_name_the_variable_not_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_CONFIG_CACHE_TTL_SECONDS", "-7")
    with pytest.raises(ConfigStoreError) as caught:
        settings_from_env()
    assert caught.value.code == "config_invalid" and "config_cache_ttl_seconds" in caught.value.message


def test_no_secret_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", "postgresql://u:hunter2@db/x")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-secret")
    text = repr(settings_from_env())
    assert "hunter2" not in text and "service-secret" not in text
