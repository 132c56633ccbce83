"""A call sized to pass the interceptor's limit but not the tool server's, and the trail it leaves.

Attack: send a call body just under the interceptor's limit. The request the
interceptor forwards is larger (the JSON-RPC envelope, the jti), so the tool
server refuses it: the interceptor has decided ``allow`` and audited a call that
never ran, and the tool server's record of the refusal had ``jti: null``, so the
two trails could not be joined. Defence: the interceptor computes the exact size
of the request it would forward and refuses (413 ``arguments_too_large``) before
deciding anything when it is over its own ``SENTINEL_MAX_BODY_BYTES`` (documented
to be at most the tool server's, and checked by ``/readyz``); the tool server reads
the jti from the token, which is in a header, even when it refuses the body unread.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from interceptor.app import create_app
from interceptor.settings import load_settings
from interceptor.state.memory import MemoryStateStore
from mcp_server.app import create_app as create_tool_server
from mcp_server.settings import McpSettings
from mcp_server.testing import McpHarness
from sentinel_contract import b64url_encode, generate_keypair, sign_call

DEMO_KEY = "sk-sentinel-demo"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sentinel.yaml"
LIMIT = 20_000  # both services' SENTINEL_MAX_BODY_BYTES, kept in step as documented
JTI_CHARS = 22  # the forwarded request's id is the call's jti


@dataclass
class Stack:
    client: httpx.AsyncClient
    audit_log: Path
    mcp_audit_log: Path
    outbox: Path

    def lines(self, path: Path) -> list[dict[str, object]]:
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    identity = generate_keypair()
    tool_server = create_tool_server(McpSettings(
        interceptor_public_keys=identity.public_b64, mcp_audit_log=tmp_path / "mcp-audit.jsonl",
        mcp_data_dir=tmp_path / "mcp-data", max_body_bytes=LIMIT,
    ))
    settings = load_settings(
        identity_key=b64url_encode(identity.seed), config_path=EXAMPLE, audit_log=tmp_path / "audit.jsonl",
        max_body_bytes=LIMIT, max_argument_bytes=10 * LIMIT,
    )
    async with tool_server.router.lifespan_context(tool_server):
        upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=tool_server))
        app = create_app(settings, state_store=MemoryStateStore(), http_client=upstream)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as client:
                yield Stack(client, tmp_path / "audit.jsonl", tmp_path / "mcp-audit.jsonl",
                            tmp_path / "mcp-data" / "outbox.jsonl")
        await upstream.aclose()


def mail_forwarded_as(size: int) -> dict[str, str]:
    """send_email arguments whose forwarded JSON-RPC request is exactly ``size`` bytes."""
    def forwarded(arguments: dict[str, str]) -> int:
        envelope = {"jsonrpc": "2.0", "id": "j" * JTI_CHARS, "method": "tools/call",
                    "params": {"name": "send_email", "arguments": arguments}}
        return len(orjson.dumps(envelope))

    arguments = {"to": "bob@example.com", "subject": "s", "body": ""}
    arguments["body"] = "b" * (size - forwarded(arguments))
    assert forwarded(arguments) == size
    return arguments


async def test_a_call_sized_to_pass_the_interceptor_but_not_the_tool_server_is_refused_before_it_is_decided(
    stack: Stack,
) -> None:
    headers = {"X-Sentinel-Key": DEMO_KEY}
    sid = (await stack.client.post("/session/start", headers=headers)).json()["session_id"]
    over = {"tool": "send_email", "arguments": mail_forwarded_as(LIMIT + 1)}
    assert len(orjson.dumps(over)) < LIMIT  # the agent's body passes the interceptor's own limit
    decisions, executions = len(stack.lines(stack.audit_log)), len(stack.lines(stack.mcp_audit_log))
    refused = await stack.client.post(f"/session/{sid}/call", headers=headers, json=over)
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "arguments_too_large"
    assert len(stack.lines(stack.audit_log)) == decisions  # nothing was decided, so nothing audited
    assert len(stack.lines(stack.mcp_audit_log)) == executions  # and nothing was sent
    # The size is exact: the largest call the tool server accepts is decided, forwarded and run.
    fits = {"tool": "send_email", "arguments": mail_forwarded_as(LIMIT)}
    allowed = await stack.client.post(f"/session/{sid}/call", headers=headers, json=fits)
    assert allowed.status_code == 200, allowed.text
    assert stack.lines(stack.mcp_audit_log)[-1]["jti"] == allowed.json()["jti"]
    assert len(stack.lines(stack.outbox)) == 1


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_refused_for_size_leaves_a_record_with_the_tokens_jti(tmp_path: Path, declared: bool) -> None:
    async with McpHarness.open(tmp_path, max_body_bytes=LIMIT) as mcp:
        session = await mcp.register()
        arguments = {"to": "bob@example.com", "subject": "s", "body": "b" * LIMIT}
        token, claims = sign_call(session.key.private, iss="sentinel-interceptor", aud=mcp.settings.mcp_id,
                                  sid=session.sid, tool="send_email", arguments=arguments)
        body = orjson.dumps({"jsonrpc": "2.0", "id": claims.jti, "method": "tools/call",
                             "params": {"name": "send_email", "arguments": arguments}})
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        content = body if declared else chunks()
        answer = await mcp.client.post("/rpc", content=content, headers=headers)
        record = mcp.audit()[-1]
    assert answer.json()["error"]["data"]["reason"] == "payload_too_large"
    assert (record["event"], record["reason"], record["verified"]) == ("rejected", "payload_too_large", False)
    assert record["jti"] == claims.jti and record["sid"] == session.sid and record["tool"] == "send_email"
    assert mcp.outbox() == []
