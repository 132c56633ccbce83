"""`agent:` conditions match the agent the application declared when it started the session.

The name is fixed at `POST /session/start` (by the application, through the SDK's
`agent=`), stored with the session in either state store, and never taken from a
call: a prompt-injected call that claims another agent changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from interceptor.config import Project
from interceptor.state import StateStore
from interceptor.testing import Harness, StaticConfigStore, api_key_hash, running_interceptor
from sentinel_sdk import PolicyDenied, SentinelClient
from tests.integration.test_interceptor_api import state_store  # noqa: F401  (memory and Redis)

KEY = "sk-agent-identity"
TOOLS = [
    {"name": "deploy", "description": "Deploy", "input_schema": {"type": "object"}, "class": "CONSEQUENTIAL_WRITE"},
    {"name": "status", "description": "Status", "input_schema": {"type": "object"}, "class": "SAFE_READ"},
]
POLICIES = {
    "default": "allow",
    "rules": [
        {"name": "no-intern-deploys", "effect": "deny", "when": {"tool": "deploy", "agent": "intern*"}},
        {"name": "release-deploys", "effect": "allow", "when": {"tool": "deploy", "agent": "release-*"}},
        {"name": "no-other-deploys", "effect": "deny", "when": {"tool": "deploy"}},
    ],
}


@pytest.fixture
async def harness(state_store: StateStore, tmp_path: Path) -> AsyncIterator[Harness]:  # noqa: F811
    project = Project(name="ops", api_key_sha256=api_key_hash(KEY), tools=TOOLS, policies=POLICIES, policy_version=1)
    async with running_interceptor(StaticConfigStore([project]), state_store=state_store,
                                   audit_log=tmp_path / "audit.jsonl") as running:
        yield running


async def _start(harness: Harness, body: object) -> httpx.Response:
    return await harness.client.post("/session/start", headers={"X-Sentinel-Key": KEY}, json=body)


async def test_a_deny_rule_on_the_agent_applies_to_the_session_it_declared(harness: Harness) -> None:
    started = await _start(harness, {"agent": "intern-1"})
    assert started.status_code == 200 and started.json()["agent"] == "intern-1"
    sid = started.json()["session_id"]
    harness.app.state.runtime.sessions.cache.forget(sid)  # decided from the store's record, not the cache
    denied = await harness.call(KEY, sid, "deploy")
    assert denied.status_code == 403 and denied.json()["error"]["rule"] == "no-intern-deploys"
    assert (await harness.call(KEY, sid, "status")).status_code == 200
    assert [item.tool for item in harness.tool_server.executed] == ["status"]
    records = [orjson.loads(line) for line in Path(harness.settings.audit_log).read_bytes().splitlines()]
    assert [(r["tool"], r["decision"], r["agent"]) for r in records] == [("deploy", "deny", "intern-1"),
                                                                        ("status", "allow", "intern-1")]


async def test_an_allow_rule_on_the_agent_needs_the_declared_agent(harness: Harness) -> None:
    release = (await _start(harness, {"agent": "release-bot"})).json()["session_id"]
    anonymous = (await _start(harness, {})).json()["session_id"]
    allowed = await harness.call(KEY, release, "deploy")
    assert allowed.status_code == 200 and allowed.json()["decision"]["rule"] == "release-deploys"
    denied = await harness.call(KEY, anonymous, "deploy")  # no agent declared: no agent rule matches
    assert denied.status_code == 403 and denied.json()["error"]["rule"] == "no-other-deploys"


async def test_a_call_cannot_claim_another_agent(harness: Harness) -> None:
    sid = (await _start(harness, {"agent": "intern-1"})).json()["session_id"]
    in_header = await harness.client.post(
        f"/session/{sid}/call",
        headers={"X-Sentinel-Key": KEY, "X-Sentinel-Agent": "release-bot"},
        json={"tool": "deploy", "arguments": {}},
    )
    assert in_header.status_code == 403 and in_header.json()["error"]["rule"] == "no-intern-deploys"
    in_body = await harness.client.post(
        f"/session/{sid}/call", headers={"X-Sentinel-Key": KEY},
        json={"tool": "deploy", "arguments": {}, "agent": "release-bot"},
    )
    assert in_body.status_code == 400 and in_body.json()["error"]["code"] == "unknown_field"
    assert harness.tool_server.executed == []


@pytest.mark.parametrize("agent", ["", " intern", "-x", "a" * 129, "new\nline", 7, ["intern"], {"name": "x"}])
async def test_a_malformed_agent_name_is_400_and_starts_nothing(harness: Harness, agent: object) -> None:
    response = await _start(harness, {"agent": agent})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_agent"
    assert harness.tool_server.keys == {}  # nothing registered at the tool server


async def test_the_sdk_declares_its_agent(harness: Harness) -> None:
    transport = httpx.ASGITransport(app=harness.app)
    async with SentinelClient(api_key=KEY, base_url="http://interceptor", transport=transport, agent="intern-7") as client:
        with pytest.raises(PolicyDenied) as caught:
            await client.call_tool("deploy", {})
        assert caught.value.rule == "no-intern-deploys"
    async with SentinelClient(api_key=KEY, base_url="http://interceptor", transport=transport,
                              agent="release-7") as client:
        assert (await client.call_tool("deploy", {})) is not None
