"""Malformed, oversized, batched or unknown requests, failing tools and sandbox escapes.
Each is refused (or contained) and executes nothing. Run against the in-process store and real Redis."""

from __future__ import annotations

import os

import pytest

from mcp_server import ToolRegistry
from mcp_server.testing import BACKENDS, McpHarness, assert_refused

EMAIL = {"to": "friend@example.com", "subject": "Lunch", "body": "See you at noon."}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture()
async def mcp(backend, tmp_path, redis_url, redis_prefix):
    async with McpHarness.open(tmp_path, backend=backend, redis_url=redis_url, redis_prefix=redis_prefix) as h:
        yield h


@pytest.fixture()
async def session(mcp):
    return await mcp.register()


async def test_malformed_json_is_a_parse_error(mcp, session):
    before = len(mcp.audit())
    response = await mcp.post_rpc(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {', "x")
    assert response.status_code == 200
    assert_refused(mcp, response.json(), code=-32700, reason="parse_error", audit_before=before)


async def test_jsonrpc_batch_is_refused(mcp, session):
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "send_email", "arguments": EMAIL}}
    token = mcp.sign(session, "send_email", EMAIL)
    before = len(mcp.audit())
    response = await mcp.post_rpc([call, {**call, "id": 2}], token)
    assert_refused(mcp, response.json(), code=-32600, reason="batch_not_supported", audit_before=before)


async def test_notification_is_refused(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL)
    before = len(mcp.audit())
    body = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "send_email", "arguments": EMAIL}}
    response = await mcp.post_rpc(body, token)
    assert_refused(mcp, response.json(), code=-32600, reason="notification_not_supported", audit_before=before)


async def test_body_over_1_mib_with_content_length_is_refused(mcp, session):
    arguments = {**EMAIL, "body": "x" * (1024 * 1024)}
    token = mcp.sign(session, "send_email", arguments)  # even a validly signed call
    before = len(mcp.audit())
    response = await mcp.post_rpc({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                   "params": {"name": "send_email", "arguments": arguments}}, token)
    assert_refused(mcp, response.json(), code=-32006, reason="payload_too_large", audit_before=before)


async def test_streamed_body_over_1_mib_is_refused_without_reading_it_all(mcp, session):
    sent = []

    async def chunks():
        for _ in range(64):  # 4 MiB in 64 KiB chunks, no Content-Length
            sent.append(1)
            yield b" " * 65536

    before = len(mcp.audit())
    response = await mcp.client.post("/rpc", content=chunks(), headers={"authorization": "Bearer x"})
    assert_refused(mcp, response.json(), code=-32006, reason="payload_too_large", audit_before=before)
    assert len(sent) <= 17  # stopped just past 1 MiB


async def test_unknown_method_is_method_not_found(mcp, session):
    before = len(mcp.audit())
    answer = await mcp.rpc("tools/delete_everything", {}, mcp.sign(session, "tools/delete_everything", {}))
    assert_refused(mcp, answer, code=-32601, reason="method_not_found", audit_before=before)


async def test_unknown_tool_is_invalid_params(mcp, session):
    before = len(mcp.audit())
    answer = await mcp.call(session, "format_disk", {})
    assert_refused(mcp, answer, code=-32602, reason="unknown_tool", audit_before=before)


async def test_unknown_method_without_token_is_refused_before_dispatch(mcp):
    answer = await mcp.rpc("tools/delete_everything", {}, None)
    assert_refused(mcp, answer, code=-32001, reason="missing_token", audit_before=0)


async def test_tool_raising_returns_is_error_not_500(backend, tmp_path, redis_url, redis_prefix):
    registry = ToolRegistry()

    @registry.tool(description="Always fails")
    def explode(what: str) -> str:
        raise RuntimeError(f"database password hunter2 leaked in {what}")

    async with McpHarness.open(tmp_path, backend=backend, redis_url=redis_url, redis_prefix=redis_prefix,
                               registry=registry) as mcp:
        session = await mcp.register()
        answer = await mcp.call(session, "explode", {"what": "traceback"})
        result = answer["result"]
        assert result["isError"] is True
        text = result["content"][0]["text"]
        assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
        assert (mcp.audit()[-1]["event"], mcp.audit()[-1]["reason"]) == ("executed", "tool_error")


async def test_read_file_with_dotdot_cannot_escape_the_sandbox(mcp, session):
    answer = await mcp.call(session, "read_file", {"path": "reports/../../mcp-audit.jsonl"})
    assert answer["result"]["isError"] is True and "sid" not in answer["result"]["content"][0]["text"]


async def test_read_file_with_an_absolute_path_is_refused(mcp, session):
    answer = await mcp.call(session, "read_file", {"path": "/etc/passwd"})
    assert answer["result"]["isError"] is True and "root:" not in answer["result"]["content"][0]["text"]


async def test_read_file_through_a_symlink_out_of_the_sandbox_is_refused(mcp, session, tmp_path):
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("TOP SECRET OUTSIDE")
    os.symlink(outside, mcp.settings.mcp_data_dir / "files" / "innocent.txt")
    answer = await mcp.call(session, "read_file", {"path": "innocent.txt"})
    assert answer["result"]["isError"] is True
    assert "TOP SECRET" not in answer["result"]["content"][0]["text"]
    listing = await mcp.call(session, "list_files", {"directory": "."})
    assert "innocent.txt" not in {e["name"] for e in listing["result"]["structuredContent"]["entries"]}


async def test_list_files_cannot_list_outside_the_sandbox(mcp, session):
    answer = await mcp.call(session, "list_files", {"directory": ".."})
    assert answer["result"]["isError"] is True


async def test_delete_file_cannot_delete_outside_the_sandbox(mcp, session, tmp_path):
    outside = tmp_path / "keep-me.txt"
    outside.write_text("keep")
    os.symlink(outside, mcp.settings.mcp_data_dir / "files" / "link.txt")
    for path in ("../outbox.jsonl", str(outside), "link.txt"):
        answer = await mcp.call(session, "delete_file", {"path": path})
        assert answer["result"]["isError"] is True, path
    assert outside.exists() and (mcp.settings.mcp_data_dir / "outbox.jsonl").exists()


async def test_transfer_of_a_non_positive_amount_is_a_tool_error(mcp, session):
    for amount in (0, -5000):
        answer = await mcp.call(session, "transfer_funds", {"to_iban": "DE89370400440532013000", "amount": amount})
        assert answer["result"]["isError"] is True
    assert mcp.ledger() == []
