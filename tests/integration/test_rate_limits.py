"""Rate limits and quotas through the interceptor, against both state stores: a full counter is 429 with
Retry-After and runs nothing; it recovers when its window ends; replicas count together; the SDK waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from interceptor.config import Project
from interceptor.state import StateStore
from interceptor.state.redis import RedisStateStore
from interceptor.testing import Harness, StaticConfigStore, api_key_hash, running_interceptor, running_replicas
from sentinel_sdk import RetryPolicy, SentinelClient
from tests.conftest import REDIS_URL
from tests.integration.test_interceptor_api import (
    KEY,
    TOOLS,
    state_store,  # noqa: F401  (memory and Redis)
)

POLICIES: dict[str, Any] = {
    "staticRules": {"read_inbox": "ALLOW", "list_calendar": "ALLOW", "send_email": "ALLOW"},
    "limits": [
        {"name": "mail-per-session", "per": "session", "calls": 2, "seconds": 3600, "tool": "send_email"},
        {"name": "calls-per-agent", "per": "agent", "calls": 6, "seconds": 3600},
        {"name": "sessions-per-key", "per": "key", "sessions": 4, "seconds": 3600},
    ],
}


def projects(policies: dict[str, Any] = POLICIES) -> list[Project]:
    return [Project("demo", api_key_hash(KEY), TOOLS, policies, 1)]


@pytest.fixture
async def harness(state_store: StateStore, tmp_path: Path) -> AsyncIterator[Harness]:  # noqa: F811
    async with running_interceptor(StaticConfigStore(projects()), state_store=state_store,
                                   audit_log=tmp_path / "audit.jsonl") as running:
        yield running


async def start(harness: Harness, agent: str) -> httpx.Response:
    return await harness.client.post("/session/start", headers={"X-Sentinel-Key": KEY}, json={"agent": agent})


async def test_a_full_counter_is_429_with_retry_after_and_runs_nothing(harness: Harness) -> None:
    sid = (await start(harness, "bot")).json()["session_id"]
    assert [(await harness.call(KEY, sid, "send_email", {"to": "a@b.c"})).status_code for _ in range(2)] == [200, 200]
    refused = await harness.call(KEY, sid, "send_email", {"to": "a@b.c"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["retry-after"]) <= 3600 and refused.json()["error"]["retryable"] is True
    assert (await harness.call(KEY, sid, "read_inbox")).status_code == 200  # the mail limit only
    assert [e.tool for e in harness.tool_server.executed] == ["send_email", "send_email", "read_inbox"]


async def test_a_limit_per_agent_spans_its_sessions_and_spares_other_agents(harness: Harness) -> None:
    sessions = [(await start(harness, "bot")).json()["session_id"] for _ in range(2)]
    statuses = [(await harness.call(KEY, sessions[i % 2], "list_calendar")).status_code for i in range(7)]
    assert statuses == [200] * 6 + [429]
    other = (await start(harness, "other-bot")).json()["session_id"]
    assert (await harness.call(KEY, other, "list_calendar")).status_code == 200


async def test_session_starts_per_key_are_limited(harness: Harness) -> None:
    statuses = [(await start(harness, f"a{i}")).status_code for i in range(5)]
    assert statuses == [200] * 4 + [429]
    mcp = await harness.client.post("/mcp", headers={"Authorization": f"Bearer {KEY}"}, json={
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    assert mcp.status_code == 429 and mcp.json()["error"]["data"]["code"] == "rate_limited"
    assert "retry-after" in mcp.headers


async def test_a_limit_recovers_when_its_window_ends(tmp_path: Path) -> None:
    policies = {**POLICIES, "limits": [{"name": "burst", "per": "session", "calls": 1, "seconds": 1}]}
    async with running_interceptor(StaticConfigStore(projects(policies)), audit_log=tmp_path / "a.jsonl") as harness:
        sid = await harness.start(KEY)
        first, second = [await harness.call(KEY, sid, "list_calendar") for _ in range(2)]
        assert (first.status_code, second.status_code) == (200, 429)
        await asyncio.sleep(1.1)
        assert (await harness.call(KEY, sid, "list_calendar")).status_code == 200


async def test_the_sdk_waits_out_retry_after_and_its_call_then_runs(tmp_path: Path) -> None:
    policies = {**POLICIES, "limits": [{"name": "burst", "per": "session", "calls": 1, "seconds": 1}]}
    async with running_interceptor(StaticConfigStore(projects(policies)), audit_log=tmp_path / "a.jsonl") as harness:
        async with SentinelClient(api_key=KEY, base_url="http://i", transport=httpx.ASGITransport(app=harness.app),
                                  retry=RetryPolicy(max_attempts=3)) as client:
            await client.call_tool("list_calendar")
            began = time.monotonic()
            await client.call_tool("list_calendar")  # 429, Retry-After: 1, then it runs
            assert time.monotonic() - began >= 0.5
    assert len(harness.tool_server.executed) == 2


async def test_replicas_count_together(redis_prefix: str, tmp_path: Path) -> None:
    stores = (RedisStateStore(REDIS_URL, prefix=redis_prefix), RedisStateStore(REDIS_URL, prefix=redis_prefix))
    try:
        async with running_replicas(StaticConfigStore(projects()), stores, tmp_path) as (a, b):
            sid = await a.start(KEY)
            statuses = [(await (a if i % 2 else b).call(KEY, sid, "send_email", {"to": "x@y.z"})).status_code
                        for i in range(3)]
            assert statuses == [200, 200, 429]
    finally:
        for store in stores:
            await store.close()
