"""Agent-bound keys: `agent:` rules become a boundary between agents holding different keys.

A key bound to an agent starts sessions only as that agent (403 ``agent_not_allowed``
otherwise, at the agent API and at /mcp ``initialize``), and reaches only that agent's
sessions: another agent's session answers 404 ``session_not_found`` exactly as an
unknown one does, so a key learns nothing of sessions it may not use. The project key
keeps its behaviour: any agent, any of the project's sessions. Memory and Redis stores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from interceptor.config import Project
from interceptor.state import StateStore
from interceptor.testing import Harness, StaticConfigStore, api_key_hash, running_interceptor
from tests.integration.test_interceptor_api import state_store  # noqa: F401  (memory and Redis)

PROJECT_KEY = "sk-ops-project"
INTERN_KEY = "sk-ops-intern"
RELEASE_KEY = "sk-ops-release"
TOOLS = [
    {"name": "deploy", "description": "Deploy", "input_schema": {"type": "object"}, "class": "CONSEQUENTIAL_WRITE"},
    {"name": "status", "description": "Status", "input_schema": {"type": "object"}, "class": "SAFE_READ"},
]
POLICIES = {
    "default": "allow",
    "rules": [
        {"name": "no-intern-deploys", "effect": "deny", "when": {"tool": "deploy", "agent": "intern"}},
        {"name": "release-deploys", "effect": "allow", "when": {"tool": "deploy", "agent": "release-bot"}},
        {"name": "no-other-deploys", "effect": "deny", "when": {"tool": "deploy"}},
    ],
}
HANDSHAKE = "2025-11-25"


@pytest.fixture
async def harness(state_store: StateStore, tmp_path: Path) -> AsyncIterator[Harness]:  # noqa: F811
    project = Project(name="ops", api_key_sha256=api_key_hash(PROJECT_KEY), tools=TOOLS, policies=POLICIES,
                      policy_version=1,
                      agent_keys={api_key_hash(INTERN_KEY): "intern", api_key_hash(RELEASE_KEY): "release-bot"})
    async with running_interceptor(StaticConfigStore([project]), state_store=state_store,
                                   audit_log=tmp_path / "audit.jsonl") as running:
        yield running


async def _start(harness: Harness, key: str, body: object = None) -> httpx.Response:
    return await harness.client.post("/session/start", headers={"X-Sentinel-Key": key}, json=body or {})


async def _sid(harness: Harness, key: str, body: object = None) -> str:
    started = await _start(harness, key, body)
    assert started.status_code == 200, started.text
    return str(started.json()["session_id"])


async def _initialize(harness: Harness, key: str, **headers: str) -> httpx.Response:
    message = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    return await harness.client.post("/mcp", content=orjson.dumps(message),
                                     headers={"authorization": f"Bearer {key}", "content-type": "application/json",
                                              **headers})


async def _mcp(harness: Harness, key: str, sid: str, method: str, params: dict[str, Any]) -> httpx.Response:
    message = {"jsonrpc": "2.0", "id": 2, "method": method, "params": params}
    return await harness.client.post("/mcp", content=orjson.dumps(message),
                                     headers={"authorization": f"Bearer {key}", "content-type": "application/json",
                                              "mcp-session-id": sid, "mcp-protocol-version": HANDSHAKE})


def _executed(harness: Harness) -> list[str]:
    return [item.tool for item in harness.tool_server.executed]


async def test_a_bound_key_starting_a_session_as_another_agent_is_403(harness: Harness) -> None:
    refused = await _start(harness, INTERN_KEY, {"agent": "release-bot"})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "agent_not_allowed" and error["retryable"] is False
    assert "'intern'" in error["message"] and "release" not in error["message"]
    assert api_key_hash(RELEASE_KEY) not in refused.text and api_key_hash(INTERN_KEY) not in refused.text
    assert _executed(harness) == []


async def test_a_bound_key_at_mcp_initialize_as_another_agent_is_a_json_rpc_403(harness: Harness) -> None:
    refused = await _initialize(harness, INTERN_KEY, **{"x-sentinel-agent": "release-bot"})
    assert refused.status_code == 403 and "mcp-session-id" not in refused.headers
    error = refused.json()["error"]
    assert error["code"] == -32003 and error["data"]["code"] == "agent_not_allowed"
    assert "release" not in error["message"]


async def test_a_bound_key_runs_its_sessions_as_its_agent_declared_or_not(harness: Harness) -> None:
    for body in ({}, {"agent": "intern"}):
        started = await _start(harness, INTERN_KEY, body)
        assert started.status_code == 200 and started.json()["agent"] == "intern"
        denied = await harness.call(INTERN_KEY, started.json()["session_id"], "deploy")
        assert denied.status_code == 403 and denied.json()["error"]["rule"] == "no-intern-deploys"
    opened = await _initialize(harness, INTERN_KEY)  # no X-Sentinel-Agent: still the key's agent
    assert opened.status_code == 200
    called = await _mcp(harness, INTERN_KEY, opened.headers["mcp-session-id"], "tools/call",
                        {"name": "deploy", "arguments": {}})
    assert called.json()["result"]["isError"] is True
    assert called.json()["result"]["_meta"]["sentinel/decision"]["rule"] == "no-intern-deploys"
    assert _executed(harness) == []


async def test_agent_deny_rules_hold_between_two_bound_keys(harness: Harness) -> None:
    release = await _sid(harness, RELEASE_KEY)
    intern = await _sid(harness, INTERN_KEY)
    assert (await harness.call(RELEASE_KEY, release, "deploy")).status_code == 200
    # The intern's key cannot borrow the release bot's session to deploy: it is not its session.
    borrowed = await harness.call(INTERN_KEY, release, "deploy")
    assert borrowed.status_code == 404
    assert (await harness.call(INTERN_KEY, intern, "deploy")).status_code == 403
    assert _executed(harness) == ["deploy"]


async def test_a_bound_key_using_another_agents_session_is_404_as_an_unknown_one(harness: Harness) -> None:
    release = await _sid(harness, RELEASE_KEY)
    unknown = "s" * 22
    pairs = [
        (await harness.call(INTERN_KEY, release, "status"), await harness.call(INTERN_KEY, unknown, "status")),
        (await harness.client.get(f"/session/{release}/tools", headers={"X-Sentinel-Key": INTERN_KEY}),
         await harness.client.get(f"/session/{unknown}/tools", headers={"X-Sentinel-Key": INTERN_KEY})),
        (await harness.client.get(f"/session/{release}/approvals/a1", headers={"X-Sentinel-Key": INTERN_KEY}),
         await harness.client.get(f"/session/{unknown}/approvals/a1", headers={"X-Sentinel-Key": INTERN_KEY})),
        (await harness.client.post(f"/session/{release}/end", headers={"X-Sentinel-Key": INTERN_KEY}),
         await harness.client.post(f"/session/{unknown}/end", headers={"X-Sentinel-Key": INTERN_KEY})),
    ]
    for other, missing in pairs:
        assert other.status_code == missing.status_code == 404
        assert other.json() == missing.json() and other.json()["error"]["code"] == "session_not_found"
    assert (await harness.call(RELEASE_KEY, release, "status")).status_code == 200  # not ended by the intern
    assert _executed(harness) == ["status"]


async def test_a_bound_key_cannot_adopt_list_call_or_end_another_agents_session_over_mcp(harness: Harness) -> None:
    release = await _sid(harness, RELEASE_KEY)
    adopted = await _initialize(harness, INTERN_KEY, **{"x-sentinel-session": release})
    assert adopted.status_code == 404 and adopted.json()["error"]["data"]["code"] == "session_not_found"
    for method, params in [("tools/list", {}), ("tools/call", {"name": "status", "arguments": {}})]:
        answer = await _mcp(harness, INTERN_KEY, release, method, params)
        assert answer.status_code == 404 and answer.json()["error"]["data"]["code"] == "session_not_found"
    ended = await harness.client.delete("/mcp", headers={"authorization": f"Bearer {INTERN_KEY}",
                                                         "mcp-session-id": release})
    assert ended.status_code == 404
    assert (await harness.call(RELEASE_KEY, release, "status")).status_code == 200
    assert _executed(harness) == ["status"]


async def test_the_project_key_keeps_its_behaviour(harness: Harness) -> None:
    release = await _sid(harness, RELEASE_KEY)
    # Any agent it declares, and every session of the project, the bound keys' included.
    mine = await _start(harness, PROJECT_KEY, {"agent": "release-bot"})
    assert mine.status_code == 200 and mine.json()["agent"] == "release-bot"
    anonymous = await _start(harness, PROJECT_KEY)
    assert anonymous.status_code == 200 and "agent" not in anonymous.json()
    assert (await harness.call(PROJECT_KEY, release, "deploy")).status_code == 200
    assert (await harness.call(PROJECT_KEY, anonymous.json()["session_id"], "deploy")).status_code == 403
    ended = await harness.client.post(f"/session/{release}/end", headers={"X-Sentinel-Key": PROJECT_KEY})
    assert ended.status_code == 200


async def test_a_bound_key_never_reaches_the_project_keys_unbound_sessions(harness: Harness) -> None:
    anonymous = await _sid(harness, PROJECT_KEY)
    assert (await harness.call(INTERN_KEY, anonymous, "status")).status_code == 404
    assert (await harness.call(RELEASE_KEY, anonymous, "deploy")).status_code == 404
    assert _executed(harness) == []
