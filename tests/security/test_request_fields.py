"""The agent API reads exactly what it documents: unknown fields and repeated keys are refused.

Attack: a field the route does not read (``{"agnet": "release-bot"}``, a typo or a
probe) is ignored in silence, so the caller believes a constraint holds that does
not; a key given twice (``{"tool": "status", "tool": "deploy"}``) is read one way
by one parser and another way by the next (orjson and most parsers keep the last,
some keep the first). Defence: both are 400, naming the key, and nothing runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from interceptor.config import Project
from interceptor.testing import Harness, StaticConfigStore, api_key_hash, running_interceptor

KEY = "sk-request-fields"
TOOLS = [
    {"name": "deploy", "description": "Deploy", "input_schema": {"type": "object"}, "class": "CONSEQUENTIAL_WRITE"},
    {"name": "status", "description": "Status", "input_schema": {"type": "object"}, "class": "SAFE_READ"},
]
POLICIES = {"default": "deny", "rules": [{"name": "reads", "effect": "allow", "when": {"tool": "status"}}]}
HEADERS = {"X-Sentinel-Key": KEY, "Content-Type": "application/json"}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    project = Project(name="ops", api_key_sha256=api_key_hash(KEY), tools=TOOLS, policies=POLICIES, policy_version=1)
    async with running_interceptor(StaticConfigStore([project]), audit_log=tmp_path / "audit.jsonl") as running:
        yield running


async def _session(harness: Harness) -> str:
    started = await harness.client.post("/session/start", headers=HEADERS, content=b"{}")
    assert started.status_code == 200
    return str(started.json()["session_id"])


async def test_a_misspelt_field_at_session_start_is_400_naming_it(harness: Harness) -> None:
    response = await harness.client.post("/session/start", headers=HEADERS, content=b'{"agnet": "release-bot"}')
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_field" and '"agnet"' in error["message"]


async def test_an_unknown_field_in_a_call_is_400_and_nothing_runs(harness: Harness) -> None:
    sid = await _session(harness)
    response = await harness.client.post(f"/session/{sid}/call", headers=HEADERS,
                                         content=b'{"tool": "status", "arguments": {}, "dry_run": true}')
    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_field"
    assert harness.tool_server.executed == []


@pytest.mark.parametrize("body", [
    b'{"tool": "status", "tool": "deploy", "arguments": {}}',
    b'{"tool": "status", "arguments": {"to": "a@corp.example", "to": "x@evil.example"}}',
    b'{"tool": "status", "arguments": {"items": [{"id": 1, "id": 2}]}}',
])
async def test_a_key_given_twice_anywhere_is_400_and_nothing_runs(harness: Harness, body: bytes) -> None:
    sid = await _session(harness)
    response = await harness.client.post(f"/session/{sid}/call", headers=HEADERS, content=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "duplicate_key"
    assert harness.tool_server.executed == []


async def test_an_echoed_key_is_clipped_and_escaped(harness: Harness) -> None:
    long_key = "k" * 10_000 + "\u2028"
    response = await harness.client.post("/session/start", headers=HEADERS,
                                         content=('{"' + long_key + '": 1}').encode())
    assert response.status_code == 400 and len(response.content) < 1_000


async def test_a_deeply_nested_body_is_400_not_500(harness: Harness) -> None:
    sid = await _session(harness)
    body = b'{"tool": "status", "arguments": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    response = await harness.client.post(f"/session/{sid}/call", headers=HEADERS, content=body)
    assert response.status_code == 400
    assert harness.tool_server.executed == []


async def test_the_documented_fields_still_pass(harness: Harness) -> None:
    started = await harness.client.post("/session/start", headers=HEADERS, content=b'{"agent": "ops-bot"}')
    assert started.status_code == 200
    sid = started.json()["session_id"]
    response = await harness.client.post(f"/session/{sid}/call", headers=HEADERS,
                                         content=b'{"tool": "status", "arguments": {"verbose": true}}')
    assert response.status_code == 200
