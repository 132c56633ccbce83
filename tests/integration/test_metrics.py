"""Prometheus metrics at ``GET /metrics`` on both services, after real calls (memory state, real tool server)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sentinel_contract import generate_keypair, sign_call
from tests.conftest import in_process_stack

DEMO_KEY = "sk-sentinel-demo"
ADMIN_KEY = "adm-metrics-0123456789"


@dataclass
class Stack:
    client: httpx.AsyncClient
    tool_server: httpx.AsyncClient

    async def call(self, sid: str, tool: str, arguments: dict[str, object]) -> int:
        response = await self.client.post(
            f"/session/{sid}/call", headers={"X-Sentinel-Key": DEMO_KEY}, json={"tool": tool, "arguments": arguments}
        )
        return response.status_code

    async def metrics(self) -> str:
        response = await self.client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=")
        return response.text


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    admin = f"ops:{hashlib.sha256(ADMIN_KEY.encode()).hexdigest()}"
    async with in_process_stack(tmp_path, admin_keys=admin) as (_, client, upstream):
        yield Stack(client, upstream)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 when absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_decisions_are_counted_by_effect_and_rule_and_timed_by_stage(stack: Stack) -> None:
    started = await stack.client.post("/session/start", headers={"X-Sentinel-Key": DEMO_KEY})
    sid = started.json()["session_id"]
    assert await stack.call(sid, "get_current_time", {"timezone": "UTC"}) == 200
    assert await stack.call(sid, "get_current_time", {"timezone": "UTC"}) == 200
    assert await stack.call(sid, "delete_file", {"path": "notes.txt"}) == 403
    text = await stack.metrics()
    assert sample(text, "sentinel_decisions_total", effect="allow", rule="staticRules.get_current_time") == 2, text
    assert sample(text, "sentinel_decisions_total", effect="deny", rule="staticRules.delete_file") == 1, text
    assert sample(text, "sentinel_call_duration_seconds_count", stage="total") == 3
    assert sample(text, "sentinel_call_duration_seconds_count", stage="decide") == 3
    assert sample(text, "sentinel_call_duration_seconds_count", stage="forward") == 2
    assert sample(text, "sentinel_commit_conflicts_total") == 0
    assert "sentinel_state_errors_total 0.0" in text and "sentinel_rate_limited_total 0.0" in text


@pytest.mark.parametrize("authorization", [None, f"Bearer {DEMO_KEY}", "Bearer adm-wrong", ADMIN_KEY])
async def test_the_interceptors_metrics_need_an_admin_key(stack: Stack, authorization: str | None) -> None:
    headers = {"X-Sentinel-Key": DEMO_KEY} | ({"Authorization": authorization} if authorization else {})
    response = await stack.client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "admin_key_required"
    assert "sentinel_" not in response.text


async def test_the_tool_server_counts_executed_calls_and_verification_failures(stack: Stack) -> None:
    started = await stack.client.post("/session/start", headers={"X-Sentinel-Key": DEMO_KEY})
    sid = started.json()["session_id"]
    assert await stack.call(sid, "get_current_time", {"timezone": "UTC"}) == 200
    forger = generate_keypair()  # signs with a key the tool server never registered for this session
    token, _ = sign_call(forger.private, iss="sentinel-interceptor", aud="sentinel-mcp", sid=sid,
                         tool="get_current_time", arguments={"timezone": "UTC"})
    forged = await stack.tool_server.post("/rpc", headers={"Authorization": f"Bearer {token}"}, json={
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "get_current_time", "arguments": {"timezone": "UTC"}},
    })
    assert forged.json()["error"]["data"]["reason"] == "bad_signature"
    response = await stack.tool_server.get("/metrics")  # open: the tool server's network is internal
    assert response.status_code == 200
    text = response.text
    assert sample(text, "sentinel_tool_calls_total", outcome="executed") == 1, text
    assert sample(text, "sentinel_tool_calls_total", outcome="rejected") == 1
    assert sample(text, "sentinel_verification_failures_total", reason="bad_signature") == 1
    assert sample(text, "sentinel_verification_failures_total", reason="replayed_jti") == 0
    assert sample(text, "sentinel_tool_duration_seconds_count") == 2
