"""Amplification through echoes: a huge caller-chosen string sent once, answered or logged many times over.

Attack: call a tool whose name is 0.9 MB of text (the body limit allows it),
or whose JSON-RPC id is, so that each request costs the service megabytes of
answer and audit log (a 0.9 MB name once came back as megabytes of 403 reason,
quoted twice and escaped). Defence: tool names follow MCP's rule (1-128
characters of A-Z a-z 0-9 _ - .), checked before anything else on both
services, and the refusal never quotes the name; reasons and audit records
quote clipped values only; the tool server does not echo an id it refuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from interceptor.testing import Harness, StaticConfigStore, running_interceptor
from mcp_server.testing import McpHarness
from tests.integration.test_interceptor_api import KEY, demo_projects

# 0.9 MB in the request; each kind grows differently when escaped (JSON, repr).
HUGE_NAMES = {
    "ascii": "x" * 900_000,
    "line_separators": "\u2028" * 300_000,
    "controls": "\x01" * 150_000,
}
SMALL = 2048  # bytes: an answer or an audit record about one refused call


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_interceptor(StaticConfigStore(demo_projects()), audit_log=tmp_path / "audit.jsonl") as running:
        yield running


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


@pytest.mark.parametrize("kind", sorted(HUGE_NAMES))
async def test_a_megabyte_tool_name_gets_a_small_answer_and_no_audit_record_from_the_interceptor(
    harness: Harness, tmp_path: Path, kind: str
) -> None:
    sid = await harness.start(KEY)
    audit = tmp_path / "audit.jsonl"
    before = _size(audit)
    response = await harness.call(KEY, sid, HUGE_NAMES[kind], {})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_tool_name"
    assert len(response.content) < SMALL
    assert _size(audit) - before < SMALL  # refused before the decision: nothing to audit
    assert harness.tool_server.executed == []


async def test_a_tool_name_outside_the_rule_is_refused_before_the_session_is_looked_up(harness: Harness) -> None:
    # An unknown session would be 404: the name is checked first, and not quoted.
    response = await harness.call(KEY, "no-such-session", "send email; rm -rf /", {})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_tool_name"
    assert "rm -rf" not in response.text


async def test_the_longest_valid_unknown_tool_name_is_denied_with_a_bounded_answer(harness: Harness) -> None:
    sid = await harness.start(KEY)
    response = await harness.call(KEY, sid, "a" * 128, {})
    assert response.status_code == 403
    assert len(response.content) < SMALL


@pytest.mark.parametrize("kind", sorted(HUGE_NAMES))
async def test_a_megabyte_tool_name_gets_a_small_answer_and_a_small_audit_record_from_the_tool_server(
    tmp_path: Path, kind: str
) -> None:
    name = HUGE_NAMES[kind]
    async with McpHarness.open(tmp_path) as mcp:
        session = await mcp.register()
        token = mcp.sign(session, name, {})  # a token that would verify: the name is refused first anyway
        before = _size(mcp.settings.mcp_audit_log)
        response = await mcp.post_rpc(
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": {}}}, token
        )
        grown = _size(mcp.settings.mcp_audit_log) - before
        record = mcp.audit()[-1]
    assert len(response.content) < SMALL
    assert response.json()["error"]["data"]["reason"] == "invalid_tool_name"
    assert grown < SMALL and record["reason"] == "invalid_tool_name"


async def test_a_megabyte_request_id_is_not_echoed_by_the_tool_server(tmp_path: Path) -> None:
    async with McpHarness.open(tmp_path) as mcp:
        body = {"jsonrpc": "2.0", "id": "\u2028" * 300_000, "method": "ping"}
        response = await mcp.post_rpc(orjson.dumps(body))
        record = mcp.audit()[-1]
    assert len(response.content) < SMALL
    assert response.json()["id"] is None and response.json()["error"]["data"]["reason"] == "invalid_request"
    assert record["event"] == "rejected"
