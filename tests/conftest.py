"""Shared fixtures. Integration tests use the machine's real Redis and PostgreSQL.

Rules for every test that touches a shared server:
- Redis: never FLUSHDB/FLUSHALL; use the `redis_prefix` fixture (a unique key
  prefix per test) and let the stores write under it.
- PostgreSQL: use the `pg_schema` fixture (a fresh schema per test, dropped after).
- Ports: use `free_port()`; never hard-code one.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

REDIS_URL = os.environ.get("SENTINEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_DSN = os.environ.get("SENTINEL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
# The AgentDojo trace set in the repository (see its README): <suite>.jsonl.gz, variants/, tools_*, labels_*, score.py.
AGENTDOJO = Path(__file__).resolve().parents[1] / "benchmarks" / "agentdojo"
EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "examples" / "sentinel.yaml"


def stack_environment(tmp_path: Path) -> dict[str, str]:
    """The environment both real services start with in a test: this shell's, minus every
    SENTINEL_* variable, plus a fresh identity key pair, audit logs under ``tmp_path`` and the
    example config. Tests add what they vary (ports, limits, ``MCP_UPSTREAM_URL``)."""
    from sentinel_contract import b64url_encode, generate_keypair

    identity = generate_keypair()
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")},
        "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64,
        "SENTINEL_IDENTITY_KEY": b64url_encode(identity.seed),
        "SENTINEL_MCP_AUDIT_LOG": str(tmp_path / "mcp-audit.jsonl"),
        "SENTINEL_MCP_DATA_DIR": str(tmp_path / "mcp-data"),
        "SENTINEL_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "SENTINEL_CONFIG": str(Path(__file__).resolve().parents[1] / "examples" / "sentinel.yaml"),
    }


@asynccontextmanager
async def in_process_stack(
    tmp_path: Path, *, state_store: Any = None, **settings: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, httpx.AsyncClient]]:
    """The real interceptor in front of the real tool server, both in-process over ASGI transports, on the
    example config: (the interceptor's app, a client of it, its client of the tool server). ``settings``
    are more of the interceptor's (``admin_keys=...``); ``state_store`` defaults to memory."""
    from interceptor.app import create_app
    from interceptor.settings import load_settings
    from interceptor.state.memory import MemoryStateStore
    from mcp_server.app import create_app as create_tool_server
    from mcp_server.settings import McpSettings
    from sentinel_contract import b64url_encode, generate_keypair

    identity = generate_keypair()
    tool_server = create_tool_server(McpSettings(
        interceptor_public_keys=identity.public_b64, mcp_audit_log=tmp_path / "mcp-audit.jsonl",
        mcp_data_dir=tmp_path / "mcp-data"))
    built = load_settings(identity_key=b64url_encode(identity.seed), config_path=EXAMPLE_CONFIG,
                          audit_log=tmp_path / "audit.jsonl", **settings)
    async with tool_server.router.lifespan_context(tool_server):
        upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=tool_server), base_url="http://tool-server")
        app = create_app(built, state_store=state_store or MemoryStateStore(), http_client=upstream)
        try:
            async with app.router.lifespan_context(app):
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as client:
                    yield app, client, upstream
        finally:
            await upstream.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


def delete_keys(prefix: str) -> None:
    """Delete every Redis key under ``prefix`` (never FLUSHDB: the server is shared)."""
    from sentinel_redis import delete_prefix

    delete_prefix(REDIS_URL, prefix)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; keys under it are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_keys(prefix)


@pytest.fixture
async def redis_state_stores(redis_prefix: str) -> AsyncIterator[tuple[Any, Any]]:
    """Two interceptor state stores on one Redis prefix: two replicas' view of the same sessions."""
    from interceptor.state.redis import RedisStateStore

    first, second = RedisStateStore(REDIS_URL, prefix=redis_prefix), RedisStateStore(REDIS_URL, prefix=redis_prefix)
    yield first, second
    await first.close()
    await second.close()


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema; use `POSTGRES_DSN` with `search_path` set to it."""
    import asyncpg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        yield schema
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
