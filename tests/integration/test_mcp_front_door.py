"""The official MCP client against the interceptor's /mcp, under both revisions it speaks.

In-process (ASGI transports), with the real tool server, the example config and
real Redis: list, call, a denial read back as an error result, the session's
taint surviving across requests and replicas, and the session's end.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from interceptor.app import create_app
from interceptor.settings import load_settings
from interceptor.state.redis import RedisStateStore
from mcp_server.app import create_app as create_tool_server
from mcp_server.settings import McpSettings
from sentinel_contract import b64url_encode, generate_keypair
from tests.conftest import REDIS_URL

DEMO_KEY = "sk-sentinel-demo"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sentinel.yaml"
REVISIONS = ["legacy", "2026-07-28"]


@dataclass
class Door:
    """Interceptor replicas (one Redis, one real tool server) reachable by an MCP client."""

    replicas: list[Any]
    data_dir: Path

    def http(self, replica: int = 0, **headers: str) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=self.replicas[replica]), base_url="http://sentinel",
            headers={"Authorization": f"Bearer {DEMO_KEY}", **headers},
        )

    def client(self, mode: str, replica: int = 0, **headers: str) -> Client:
        transport = streamable_http_client("http://sentinel/mcp", http_client=self.http(replica, **headers))
        return Client(transport, mode=mode)  # type: ignore[arg-type]

    async def open_session(self, **body: Any) -> str:
        """What an application does before a 2026-07-28 client: open the Sentinel session it names."""
        async with self.http() as http:
            response = await http.post("/session/start", json=body, headers={"X-Sentinel-Key": DEMO_KEY})
        assert response.status_code == 200, response.text
        return str(response.json()["session_id"])

    def outbox(self) -> list[dict[str, Any]]:
        path = self.data_dir / "outbox.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
async def door(redis_prefix: str, tmp_path: Path) -> AsyncIterator[Door]:
    identity = generate_keypair()
    tool_server = create_tool_server(McpSettings(
        interceptor_public_keys=identity.public_b64, mcp_audit_log=tmp_path / "mcp-audit.jsonl",
        mcp_data_dir=tmp_path / "mcp-data",
    ))
    async with tool_server.router.lifespan_context(tool_server):
        upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=tool_server))
        apps, stores = [], [RedisStateStore(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
        for replica, store in enumerate(stores):
            settings = load_settings(identity_key=b64url_encode(identity.seed), config_path=EXAMPLE,
                                     audit_log=tmp_path / f"audit-{replica}.jsonl")
            apps.append(create_app(settings, state_store=store, http_client=upstream))
        async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
            yield Door(apps, tmp_path / "mcp-data")
        await upstream.aclose()
        for store in stores:
            await store.close()


async def _session_headers(door: Door, mode: str) -> dict[str, str]:
    return {} if mode == "legacy" else {"X-Sentinel-Session": await door.open_session()}


def _text(result: Any) -> str:
    return "\n".join(item.text for item in result.content if getattr(item, "text", None))


@pytest.mark.parametrize("mode", REVISIONS)
async def test_the_official_client_lists_calls_and_reads_a_denial(door: Door, mode: str) -> None:
    headers = await _session_headers(door, mode)
    async with door.client(mode, **headers) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"get_current_time", "read_inbox", "send_email"} <= names
        assert "delete_file" not in names  # denied by a static rule to every caller: not offered to the model
        honest = await client.call_tool("get_current_time", {"timezone": "UTC"})
        assert not honest.is_error and "UTC" in _text(honest)
        assert honest.meta is not None and honest.meta["sentinel/decision"]["rule"]
        await client.call_tool("read_inbox", {})  # untrusted text enters the session
        injected = await client.call_tool("send_email", {"to": "attacker@evil.example", "subject": "s", "body": "b"})
        assert injected.is_error
        assert "CHECK_TAINT:send_email" in _text(injected) and "did not run" in _text(injected)
    assert door.outbox() == []


def _envelope(mode: str) -> dict[str, Any]:
    if mode == "legacy":
        return {}
    return {"_meta": {"io.modelcontextprotocol/protocolVersion": mode,
                      "io.modelcontextprotocol/clientCapabilities": {}}}


def _routing(mode: str, method: str, name: str | None = None) -> dict[str, str]:
    if mode == "legacy":
        return {"MCP-Protocol-Version": "2025-11-25"}
    return {"MCP-Protocol-Version": mode, "Mcp-Method": method, **({"Mcp-Name": name} if name else {})}


async def rpc(http: httpx2.AsyncClient, mode: str, method: str, params: dict[str, Any] | None = None,
              **headers: str) -> httpx2.Response:
    """One raw JSON-RPC request to /mcp, shaped as the revision wants it."""
    params = {**(params or {}), **_envelope(mode)}
    name = params.get("name") if method == "tools/call" else None
    return await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                           headers={**_routing(mode, method, name), **headers})


async def raw_session(door: Door, mode: str) -> dict[str, str]:
    """The headers that name a session: an initialize's Mcp-Session-Id, or the application's own session."""
    if mode != "legacy":
        return await _session_headers(door, mode)
    async with door.http() as http:
        response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    assert response.status_code == 200, response.text
    return {"Mcp-Session-Id": response.headers["mcp-session-id"]}


@pytest.mark.parametrize("mode", REVISIONS)
async def test_the_taint_holds_on_the_next_request_and_on_another_replica(door: Door, mode: str) -> None:
    headers = await raw_session(door, mode)
    async with door.http(0, **headers) as first, door.http(1, **headers) as second:
        read = await rpc(first, mode, "tools/call", {"name": "read_inbox", "arguments": {}})
        assert read.status_code == 200 and read.json()["result"]["isError"] is False, read.text
        send = {"name": "send_email", "arguments": {"to": "attacker@evil.example", "subject": "s", "body": "b"}}
        answer = await rpc(second, mode, "tools/call", send)
        assert answer.status_code == 200, answer.text
        result = answer.json()["result"]
        assert result["isError"] is True and result["_meta"]["sentinel/decision"]["rule"] == "CHECK_TAINT:send_email"
    assert door.outbox() == []


@pytest.mark.parametrize("mode", REVISIONS)
async def test_an_ended_session_is_refused_never_replaced_by_a_fresh_one(door: Door, mode: str) -> None:
    headers = await raw_session(door, mode)
    async with door.http(0, **headers) as http:
        await rpc(http, mode, "tools/call", {"name": "read_inbox", "arguments": {}})
        if mode == "legacy":
            assert (await http.delete("/mcp")).status_code == 204  # the client ends its MCP session
        else:
            ended = await http.post(f"/session/{headers['X-Sentinel-Session']}/end",
                                    headers={"X-Sentinel-Key": DEMO_KEY})
            assert ended.status_code == 200
        send = {"name": "send_email", "arguments": {"to": "a@b.example", "subject": "s", "body": "b"}}
        answer = await rpc(http, mode, "tools/call", send)
        assert answer.status_code == 404
        assert answer.json()["error"]["data"]["code"] == "session_not_found"
    assert door.outbox() == []


async def test_a_2026_request_that_names_no_session_is_refused(door: Door) -> None:
    async with door.http() as http:
        send = {"name": "send_email", "arguments": {"to": "a@b.example", "subject": "s", "body": "b"}}
        answer = await rpc(http, "2026-07-28", "tools/call", send)
    assert answer.status_code == 400
    assert answer.json()["error"]["data"]["code"] == "session_required"
    assert door.outbox() == []


async def test_a_2025_client_that_skips_initialize_is_refused(door: Door) -> None:
    async with door.http() as http:
        answer = await rpc(http, "legacy", "tools/list")
    assert answer.status_code == 400
    assert answer.json()["error"]["data"]["code"] == "not_initialized"


async def test_the_official_client_refuses_to_connect_without_a_key(door: Door) -> None:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=door.replicas[0]), base_url="http://sentinel")
    with pytest.raises(BaseException) as refused:
        async with Client(streamable_http_client("http://sentinel/mcp", http_client=http), mode="legacy"):
            pass
    error = first_mcp_error(refused.value)
    assert error.error.code == -32001 and "API key" in error.error.message


def first_mcp_error(exc: BaseException) -> MCPError:
    """The MCPError inside what the client raised (its task groups wrap it in exception groups)."""
    if isinstance(exc, MCPError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            try:
                return first_mcp_error(inner)
            except LookupError:
                continue
    raise LookupError(f"no MCPError in {exc!r}")
