"""The interceptor reading its projects from real PostgreSQL (through the config
cache), with sessions in real Redis: the main paths of issue 7."""

from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.config import CachedConfigStore, PostgresConfigStore
from interceptor.state.redis import RedisStateStore
from interceptor.testing import api_key_hash, running_interceptor
from tests.conftest import POSTGRES_DSN, REDIS_URL
from tests.integration.test_interceptor_api import KEY, POLICIES, TOOLS

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_projects_from_postgres_drive_decisions(pg_schema: str, redis_prefix: str, tmp_path: Path) -> None:
    backend = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
    await backend.create_project("demo", api_key_hash(KEY))
    await backend.push_tools("demo", TOOLS)
    await backend.push_policy("demo", POLICIES, author="test")
    store = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    config = CachedConfigStore(backend, ttl_seconds=5, stale_seconds=60)
    try:
        async with running_interceptor(config, state_store=store, audit_log=tmp_path / "a.jsonl") as harness:
            sid = await harness.start(KEY)
            assert (await harness.call(KEY, sid, "send_email", {"to": "a@b.c"})).status_code == 200
            assert (await harness.call(KEY, sid, "delete_file")).status_code == 403
            assert (await harness.call(KEY, sid, "read_inbox")).status_code == 200
            denied = await harness.call(KEY, sid, "send_email", {"to": "a@b.c"})
            assert denied.status_code == 403 and denied.json()["error"]["rule"] == "CHECK_TAINT:send_email"
            wrong = await harness.client.post("/session/start", headers={"X-Sentinel-Key": "sk-wrong"})
            assert wrong.status_code == 401
            assert [item.tool for item in harness.tool_server.executed] == ["send_email", "read_inbox"]
    finally:
        await config.close()
        await store.close()


async def test_the_interceptor_reads_the_schema_the_cli_writes(pg_schema: str, redis_prefix: str, tmp_path: Path) -> None:
    # SENTINEL_DATABASE_SCHEMA is read by `sentinel policy push` and by the interceptor alike:
    # a project pushed into a schema is served from it, not from `public`.
    backend = PostgresConfigStore(POSTGRES_DSN, schema=pg_schema)
    await backend.create_project("demo", api_key_hash(KEY))
    await backend.push_tools("demo", TOOLS)
    await backend.push_policy("demo", POLICIES, author="test")
    await backend.close()
    store = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    try:
        async with running_interceptor(None, state_store=store, audit_log=tmp_path / "a.jsonl",  # type: ignore[arg-type]
                                       database_url=POSTGRES_DSN, database_schema=pg_schema) as harness:
            sid = await harness.start(KEY)
            assert (await harness.call(KEY, sid, "send_email", {"to": "a@b.c"})).status_code == 200
    finally:
        await store.close()
