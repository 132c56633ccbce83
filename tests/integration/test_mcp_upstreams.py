"""The tool server as a verifying gateway: signed calls forwarded to real MCP servers.

Upstreams are real processes: ``mcp-server-time`` (a third-party server), a
server built on the SDK's ``MCPServer`` (``tests/mcp_upstreams/notes_server.py``,
over stdio and over streamable HTTP) and a hand-written one that misbehaves on
request (``raw_server.py``). The tool server is the real app with its lifespan
(``McpHarness``), or the real ``sentinel serve mcp`` process.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import free_port
from mcp_upstreams import (
    NOTES_TOKEN,
    TIME_SERVER,
    gateway,
    notes_http_server,
    notes_stdio,
    result_text,
    sent_calls,
    stdio,
    teed_time_server,
    tools_list,
)

from interceptor.app import create_app as create_interceptor
from interceptor.settings import load_settings
from interceptor.state.memory import MemoryStateStore
from mcp_server.app import create_app as create_tool_server
from mcp_server.errors import ConfigError
from mcp_server.settings import McpSettings
from mcp_server.sources import DemoSource, RegistrySource, ToolCatalog, UpstreamConfig, UpstreamSource
from mcp_server.testing import McpHarness, Session
from sentinel_contract import b64url_encode, generate_keypair, sign_call, sign_registration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = NOTES_TOKEN


async def tool_names(mcp: McpHarness, session: Session) -> list[str]:
    return [tool["name"] for tool in await tools_list(mcp, session)]


@pytest.fixture
def notes_file(tmp_path: Path) -> Path:
    return tmp_path / "notes.txt"


@pytest.fixture
def notes_http(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with notes_http_server(tmp_path) as server:
        yield server


# -- (a) mcp-server-time, a third-party server, behind the tool server ----------------------------------

async def test_a_signed_call_reaches_mcp_server_time_and_returns_its_result(tmp_path):
    log = tmp_path / "sent.jsonl"
    async with gateway(tmp_path, teed_time_server(log)) as (mcp, session, _):
        answer = await mcp.call(session, "time__get_current_time", {"timezone": "Asia/Tokyo"})
    result = answer["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["timezone"] == "Asia/Tokyo"
    assert result["structuredContent"]["datetime"].endswith("+09:00")
    # forwarded under the server's own name, with exactly the signed arguments
    assert sent_calls(log) == [{"name": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}]
    assert [(r["event"], r["reason"], r["tool"], r["verified"]) for r in mcp.audit()[-1:]] == [
        ("executed", "ok", "time__get_current_time", True)]


async def test_an_unsigned_call_is_refused_and_never_reaches_mcp_server_time(tmp_path):
    log = tmp_path / "sent.jsonl"
    async with gateway(tmp_path, teed_time_server(log)) as (mcp, session, _):
        unsigned = await mcp.rpc("tools/call", {"name": "time__get_current_time", "arguments": {"timezone": "UTC"}},
                                 None)
        forged = await mcp.call(session, "time__get_current_time", {"timezone": "UTC"},
                                token=mcp.sign(session, "time__get_current_time", {"timezone": "UTC"},
                                               key=generate_keypair()))
    assert unsigned["error"]["data"]["reason"] == "missing_token"
    assert forged["error"]["data"]["reason"] == "bad_signature"
    assert sent_calls(log) == []
    assert [r["event"] for r in mcp.audit()[-2:]] == ["rejected", "rejected"]


async def test_tools_list_is_the_union_with_upstream_tools_namespaced(tmp_path):
    async with gateway(tmp_path, UpstreamConfig(name="time", transport="stdio", command=TIME_SERVER),
                       local=(DemoSource(tmp_path / "data"),)) as (mcp, session, _):
        names = await tool_names(mcp, session)
    assert names[:2] == ["get_current_time", "list_files"]  # the demo tools first, as they were
    assert names[-2:] == ["time__get_current_time", "time__convert_time"]


async def test_an_unlisted_tool_of_an_upstream_is_refused_without_forwarding(tmp_path):
    log = tmp_path / "sent.jsonl"
    async with gateway(tmp_path, teed_time_server(log)) as (mcp, session, _):
        answer = await mcp.call(session, "time__set_time", {"time": "00:00"})
    assert answer["error"]["data"]["reason"] == "unknown_tool"
    assert sent_calls(log) == []


# -- (b) an MCPServer with a write tool, over stdio and over streamable HTTP ---------------------------

async def test_a_write_tool_over_stdio_runs_once_per_signed_call(tmp_path, notes_file):
    async with gateway(tmp_path, notes_stdio(notes_file)) as (mcp, session, _):
        token = mcp.sign(session, "notes__append_note", {"text": "buy milk"})
        first = await mcp.call(session, "notes__append_note", {"text": "buy milk"}, token=token)
        replay = await mcp.call(session, "notes__append_note", {"text": "buy milk"}, token=token)
    assert result_text(first) == "noted: buy milk"
    assert replay["error"]["data"]["reason"] == "replayed_jti"
    assert notes_file.read_text() == "buy milk\n"


async def test_a_write_tool_over_streamable_http_runs_with_the_configured_header(tmp_path, notes_http):
    url, notes = notes_http
    config = UpstreamConfig(name="notes", transport="http", url=url, headers={"Authorization": f"Bearer {TOKEN}"})
    async with gateway(tmp_path, config) as (mcp, session, _):
        answer = await mcp.call(session, "notes__append_note", {"text": "over http"})
        names = await tool_names(mcp, session)
    assert result_text(answer) == "noted: over http"
    assert notes.read_text() == "over http\n"
    assert "notes__append_note" in names


async def test_an_http_upstream_that_restarts_is_reconnected(tmp_path):
    port = free_port()
    config = UpstreamConfig(name="notes", transport="http", url=f"http://127.0.0.1:{port}/mcp",
                            headers={"Authorization": f"Bearer {TOKEN}"})
    with ExitStack() as first_server:
        _, notes = first_server.enter_context(notes_http_server(tmp_path, port))
        async with gateway(tmp_path, config) as (mcp, session, catalog):
            before = await mcp.call(session, "notes__append_note", {"text": "one"})
            first_server.close()  # the upstream goes away
            down = await mcp.call(session, "notes__append_note", {"text": "lost"})
            with notes_http_server(tmp_path, port):  # and comes back on the same address
                with anyio.fail_after(30):
                    while catalog.upstreams["notes"].connections < 2:
                        await anyio.sleep(0.1)
                after = await mcp.call(session, "notes__append_note", {"text": "two"})
    assert result_text(before) == "noted: one" and result_text(after) == "noted: two"
    assert down["result"]["isError"] is True and "closed the connection during the call" in result_text(down)
    assert notes.read_text() == "one\ntwo\n"


async def test_an_http_upstream_that_forgot_its_session_gets_a_new_one(tmp_path):
    port = free_port()
    config = UpstreamConfig(name="notes", transport="http", url=f"http://127.0.0.1:{port}/mcp",
                            headers={"Authorization": f"Bearer {TOKEN}"})
    with ExitStack() as first_server:
        first_server.enter_context(notes_http_server(tmp_path, port))
        async with gateway(tmp_path, config) as (mcp, session, catalog):
            await mcp.call(session, "notes__append_note", {"text": "one"})
            first_server.close()
            with notes_http_server(tmp_path, port) as (_, notes):  # restarted before anyone noticed
                forgotten = await mcp.call(session, "notes__append_note", {"text": "lost"})
                with anyio.fail_after(30):
                    while catalog.upstreams["notes"].connections < 2:
                        await anyio.sleep(0.1)
                after = await mcp.call(session, "notes__append_note", {"text": "two"})
    assert result_text(forgotten) == "the upstream notes answered the call with an error: 'Session not found'"
    assert result_text(after) == "noted: two"
    assert notes.read_text() == "one\ntwo\n"


async def test_an_http_upstream_refusing_the_credentials_stops_the_start_with_a_clear_error(tmp_path, notes_http):
    url, _ = notes_http
    config = UpstreamConfig(name="notes", transport="http", url=url, headers={"Authorization": "Bearer wrong-token-1"})
    with pytest.raises(ConfigError) as refused:
        async with gateway(tmp_path, config):
            pass
    assert "the upstream notes" in refused.value.message and "could not be opened" in refused.value.message
    assert "wrong-token-1" not in refused.value.message


async def test_arguments_reach_the_upstream_exactly_as_signed(tmp_path, notes_file):
    data = {"text": "naïve ☃ \u2028", "count": 10, "ratio": 0.1, "big": 2**53 - 1, "flags": [True, None, "x"],
            "nested": {"a": [1.5, {"b": ""}]}, "float_one": 1.0}
    async with gateway(tmp_path, notes_stdio(notes_file)) as (mcp, session, _):
        answer = await mcp.call(session, "notes__echo_arguments", {"data": data})
    assert answer["result"]["structuredContent"] == {"received": data}


# -- (c) an upstream that hangs, crashes, or answers garbage ---------------------------------------------

async def test_a_call_that_hangs_gets_a_timeout_result_within_its_bound(tmp_path, notes_file):
    async with gateway(tmp_path, notes_stdio(notes_file, timeout_seconds=1)) as (mcp, session, catalog):
        started = time.monotonic()
        answer = await mcp.call(session, "notes__slow", {"seconds": 30})
        elapsed = time.monotonic() - started
        after = await mcp.call(session, "notes__append_note", {"text": "still here"})
        connections = catalog.upstreams["notes"].connections
    assert answer["result"]["isError"] is True
    assert result_text(answer) == "the upstream notes did not answer within 1 s; the call may have run"
    assert elapsed < 3
    assert result_text(after) == "noted: still here" and connections == 1  # it answered the ping: kept
    assert mcp.audit()[-2]["reason"] == "tool_error"


async def test_an_upstream_that_stops_answering_is_restarted(tmp_path):
    async with gateway(tmp_path, stdio("raw", "raw_server.py", "normal", timeout_seconds=1)) as (mcp, session, catalog):
        upstream = catalog.upstreams["raw"]
        answer = await mcp.call(session, "raw__deaf", {})
        with anyio.fail_after(15):
            while upstream.connections < 2:
                await anyio.sleep(0.05)
        after = await mcp.call(session, "raw__echo", {"n": 1})
    assert "did not answer within 1 s" in result_text(answer)
    assert result_text(after) == '{"n": 1}'


async def test_a_crash_mid_call_is_a_clear_error_and_the_server_is_restarted(tmp_path, notes_file):
    async with gateway(tmp_path, notes_stdio(notes_file)) as (mcp, session, catalog):
        crashed = await mcp.call(session, "notes__crash", {})
        after = await mcp.call(session, "notes__append_note", {"text": "after the crash"})
        connections = catalog.upstreams["notes"].connections
    assert crashed["result"]["isError"] is True
    assert result_text(crashed) == ("the upstream notes closed the connection during the call; "
                                    "the call may have run")
    assert result_text(after) == "noted: after the crash"
    assert connections == 2
    assert notes_file.read_text() == "after the crash\n"


async def test_calls_fail_at_once_while_an_upstream_cannot_be_restarted(tmp_path):
    config = stdio("raw", "raw_server.py", "once", env={"ONCE_FILE": str(tmp_path / "started")})
    async with gateway(tmp_path, config) as (mcp, session, catalog):
        upstream = catalog.upstreams["raw"]
        await mcp.call(session, "raw__exit", {})
        with anyio.fail_after(10):
            while upstream.last_error is None or "closed the connection" not in upstream.last_error:
                await anyio.sleep(0.05)
        started = time.monotonic()
        answer = await mcp.call(session, "raw__echo", {})
        elapsed = time.monotonic() - started
        names = await tool_names(mcp, session)
    assert answer["error"] == {"code": -32011, "message": "the upstream raw is unavailable; nothing was sent to it",
                               "data": {"reason": "upstream_unavailable"}}
    assert elapsed < 1
    assert "raw__echo" in names  # the last listing is still served: names stay stable while it is down
    assert mcp.audit()[-2]["event"] == "rejected" and mcp.audit()[-2]["reason"] == "upstream_unavailable"


async def test_an_upstream_that_lists_a_tool_twice_stops_the_start(tmp_path):
    with pytest.raises(ConfigError) as refused:
        async with gateway(tmp_path, stdio("raw", "raw_server.py", "duplicate")):
            pass
    assert refused.value.message.endswith("could not be opened: it lists the tool 'echo' twice")


async def test_an_upstream_that_answers_tools_list_with_garbage_stops_the_start(tmp_path):
    with pytest.raises(ConfigError) as refused:
        async with gateway(tmp_path, stdio("raw", "raw_server.py", "garbage_list")):
            pass
    assert refused.value.message.endswith("could not be opened: it answered with something that is not MCP")


async def test_a_line_of_garbage_instead_of_an_answer_is_a_timeout_and_the_upstream_is_kept(tmp_path):
    async with gateway(tmp_path, stdio("raw", "raw_server.py", "normal", timeout_seconds=1)) as (mcp, session, catalog):
        answer = await mcp.call(session, "raw__garbage", {})
        after = await mcp.call(session, "raw__echo", {})
        connections = catalog.upstreams["raw"].connections
    assert "did not answer within 1 s" in result_text(answer)
    assert result_text(after) == "{}" and connections == 1


async def test_an_answer_that_is_not_a_tool_result_is_a_clear_error(tmp_path):
    async with gateway(tmp_path, stdio("raw", "raw_server.py", "normal")) as (mcp, session, _):
        answer = await mcp.call(session, "raw__bad_shape", {})
    assert answer["result"]["isError"] is True
    assert result_text(answer) == "the upstream raw answered something that is not a tool result"


async def test_a_result_that_fails_the_tools_output_schema_is_a_clear_error(tmp_path):
    async with gateway(tmp_path, stdio("raw", "raw_server.py", "normal")) as (mcp, session, _):
        answer = await mcp.call(session, "raw__unstructured", {})
    assert answer["result"]["isError"] is True
    assert result_text(answer) == "the upstream raw answered a result that does not fit the tool's definition"


async def test_a_json_rpc_error_from_the_upstream_is_an_error_result(tmp_path):
    async with gateway(tmp_path, stdio("raw", "raw_server.py", "normal", env={"SECRET": "short"})) as (mcp, session, _):
        answer = await mcp.call(session, "raw__error", {})
    assert answer["result"]["isError"] is True
    assert result_text(answer).startswith("the upstream raw answered the call with an error: 'backend refused key")


async def test_log_lines_on_stdout_are_skipped(tmp_path):
    async with gateway(tmp_path, stdio("raw", "raw_server.py", "noisy")) as (mcp, session, _):
        answer = await mcp.call(session, "raw__echo", {"ok": True})
    assert result_text(answer) == '{"ok": true}'


async def test_an_upstream_that_never_finishes_its_handshake_stops_the_start_in_bounded_time(tmp_path):
    started = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        async with gateway(tmp_path, stdio("raw", "raw_server.py", "hang_initialize", connect_timeout_seconds=1)):
            pass
    assert time.monotonic() - started < 10
    assert refused.value.message.endswith("it did not answer initialize and tools/list within 1 s")


@pytest.mark.parametrize(("config", "reason"), [
    (stdio("raw", "raw_server.py", "exit_at_start"), "it closed the connection"),
    (UpstreamConfig(name="gone", transport="stdio", command="/nonexistent/mcp-server"),
     "its command could not be started (No such file or directory)"),
    (UpstreamConfig(name="gone", transport="http", url="http://127.0.0.1:9/mcp"), "it could not be reached"),
], ids=["exits", "no-command", "unreachable-url"])
async def test_an_upstream_that_cannot_start_stops_the_start_with_its_reason(tmp_path, config, reason):
    with pytest.raises(ConfigError) as refused:
        async with gateway(tmp_path, config):
            pass
    assert f"the upstream {config.name} ({config.describe()}) could not be opened: {reason}" in refused.value.message


async def test_a_local_tool_named_under_an_upstream_prefix_stops_the_start(tmp_path):
    from mcp_server.registry import ToolRegistry

    registry = ToolRegistry()
    registry.add(lambda: "shadow", name="time__get_current_time")
    with pytest.raises(ConfigError) as refused:
        async with gateway(tmp_path, UpstreamConfig(name="time", transport="stdio", command=TIME_SERVER),
                           local=(RegistrySource(registry),)):
            pass
    assert refused.value.code == "duplicate_tool"


# -- the real process: sentinel serve mcp --tools ... --upstream ... -----------------------------------------

def test_sentinel_serve_mcp_serves_its_own_registry_and_an_upstream(tmp_path):
    identity, session_key, port = generate_keypair(), generate_keypair(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env |= {"SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64, "SENTINEL_MCP_AUDIT_LOG": str(tmp_path / "a.jsonl"),
            "PYTHONPATH": str(ROOT / "tests")}
    command = [str(Path(sys.executable).parent / "sentinel"), "serve", "mcp", "--port", str(port),
               "--log-level", "warning", "--tools", "mcp_upstreams.local_tools:registry",
               "--upstream", f"time=stdio:{TIME_SERVER} --local-timezone UTC"]
    log = tmp_path / "server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log)
        with httpx.Client(base_url=base, timeout=10) as client:
            registration = sign_registration(identity.private, iss="sentinel-interceptor", aud="sentinel-mcp",
                                             sid="s-cli", public_key=session_key.public_b64,
                                             exp=int(time.time()) + 300)
            assert client.post("/sessions", json={"token": registration}).status_code == 201
            catalogue, _ = sign_call(identity.private, iss="sentinel-interceptor", aud="sentinel-mcp",
                                     sid="catalogue", tool="tools/list", arguments={}, kid="identity")
            listing = client.post("/rpc", json=_request("tools/list", {}), headers=_bearer(catalogue)).json()
            answers = {}
            for tool, arguments in (("add", {"a": 2, "b": 3}), ("time__get_current_time", {"timezone": "UTC"})):
                token, _ = sign_call(session_key.private, iss="sentinel-interceptor", aud="sentinel-mcp",
                                     sid="s-cli", tool=tool, arguments=arguments)
                answers[tool] = client.post("/rpc", json=_request("tools/call", {"name": tool, "arguments": arguments}),
                                            headers=_bearer(token)).json()
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert [tool["name"] for tool in listing["result"]["tools"]] == [
        "add", "shout", "time__get_current_time", "time__convert_time"]
    assert answers["add"]["result"]["content"][0]["text"] == "5"
    assert answers["time__get_current_time"]["result"]["structuredContent"]["timezone"] == "UTC"


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the tool server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def _request(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# -- the whole path: agent -> interceptor (policy, signing) -> tool server -> upstream --------------------

AGENT_KEY = "sk-upstream-test-key"
GATEWAY_PROJECT = """
projects:
  - name: gateway
    api_key_sha256: {key_hash}
    tools:
      - {{name: time__get_current_time, description: The time., class: SAFE_READ,
         input_schema: {{type: object, properties: {{timezone: {{type: string}}}}, required: [timezone]}}}}
      - {{name: notes__append_note, description: Write a note., class: CONSEQUENTIAL_WRITE,
         input_schema: {{type: object, properties: {{text: {{type: string}}}}, required: [text]}}}}
    policies:
      staticRules: {{time__get_current_time: ALLOW, notes__append_note: DENY}}
"""


async def test_an_agent_call_goes_through_policy_and_signing_to_the_upstream(tmp_path, notes_file):

    config = tmp_path / "sentinel.yaml"
    config.write_text(GATEWAY_PROJECT.format(key_hash=hashlib.sha256(AGENT_KEY.encode()).hexdigest()))
    log, notes_log, identity = tmp_path / "sent.jsonl", tmp_path / "notes-sent.jsonl", generate_keypair()
    tool_server = create_tool_server(
        McpSettings(interceptor_public_keys=identity.public_b64, mcp_audit_log=tmp_path / "mcp-audit.jsonl"),
        tools=ToolCatalog([], [UpstreamSource(teed_time_server(log)),
                               UpstreamSource(notes_stdio(notes_file, tee=notes_log))]),
    )
    settings = load_settings(identity_key=b64url_encode(identity.seed), config_path=config,
                             audit_log=tmp_path / "audit.jsonl")
    headers = {"X-Sentinel-Key": AGENT_KEY}
    async with tool_server.router.lifespan_context(tool_server):
        upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=tool_server))
        app = create_interceptor(settings, state_store=MemoryStateStore(), http_client=upstream)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://i") as agent:
            sid = (await agent.post("/session/start", headers=headers)).json()["session_id"]
            allowed = await agent.post(f"/session/{sid}/call", headers=headers,
                                       json={"tool": "time__get_current_time", "arguments": {"timezone": "UTC"}})
            denied = await agent.post(f"/session/{sid}/call", headers=headers,
                                      json={"tool": "notes__append_note", "arguments": {"text": "exfiltrate"}})
        await upstream.aclose()
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["result"]["structuredContent"]["timezone"] == "UTC"
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "policy_denied"
    assert sent_calls(log) == [{"name": "get_current_time", "arguments": {"timezone": "UTC"}}]
    assert sent_calls(notes_log) == [] and not notes_file.exists()
