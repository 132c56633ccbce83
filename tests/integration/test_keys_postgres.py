"""`sentinel keys create` against PostgreSQL, chosen from the environment as the interceptor chooses it."""

from __future__ import annotations

import asyncio

import pytest

from interceptor.config import PostgresConfigStore, api_key_sha256
from sentinel_cli import main
from tests.conftest import POSTGRES_DSN

pytestmark = pytest.mark.postgres


def test_keys_create_stores_the_hash_in_postgres_when_the_database_url_is_set(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", POSTGRES_DSN)
    monkeypatch.setenv("SENTINEL_DATABASE_SCHEMA", pg_schema)
    monkeypatch.setenv("SENTINEL_CONFIG", "/nonexistent/ignored.yaml")
    assert main(["keys", "create", "--project", "acme"]) == 0
    key = capsys.readouterr().out.strip()

    async def lookup() -> tuple[object, list[str]]:
        store = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
        try:
            found = await store.find_by_key_hash(api_key_sha256(key))
            rows = await store._run("fetch", "select api_key_sha256, tools::text, policies::text from projects")
            return found, [str(v) for r in rows for v in r.values()]
        finally:
            await store.close()

    found, stored = asyncio.run(lookup())
    assert found is not None and found.name == "acme"  # type: ignore[attr-defined]
    assert all(key not in value for value in stored)


def test_rotating_the_key_of_a_project_that_does_not_exist_is_an_error_in_postgres(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", POSTGRES_DSN)
    monkeypatch.setenv("SENTINEL_DATABASE_SCHEMA", pg_schema)
    assert main(["keys", "create", "--project", "acme"]) == 0
    capsys.readouterr()
    assert main(["keys", "create", "--project", "acmee", "--rotate"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "no project named 'acmee'" in err and "known projects: acme" in err

    async def names() -> list[str]:
        store = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
        try:
            return [p.name for p in await store.list_projects()]
        finally:
            await store.close()

    assert asyncio.run(names()) == ["acme"]  # no second project was created


def test_agent_keys_are_added_listed_and_revoked_in_postgres(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", POSTGRES_DSN)
    monkeypatch.setenv("SENTINEL_DATABASE_SCHEMA", pg_schema)
    assert main(["keys", "create", "--project", "acme"]) == 0
    assert main(["keys", "create", "--project", "acme", "--agent", "triage"]) == 0
    key = capsys.readouterr().out.splitlines()[-1]
    assert main(["keys", "list", "--project", "acme"]) == 0
    assert f"{api_key_sha256(key)[:8]}  agent triage" in capsys.readouterr().out

    async def holder_of(k: str) -> object:
        store = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
        try:
            return await store.find_key(api_key_sha256(k))
        finally:
            await store.close()

    assert asyncio.run(holder_of(key)).agent == "triage"  # type: ignore[attr-defined]
    assert main(["keys", "revoke", "--project", "acme", "--agent", "triage"]) == 0
    assert asyncio.run(holder_of(key)) is None
