"""The execution trail: one record per request, the jti that joins it to the interceptor's
decision, and never an argument value. Also what turning verification off does."""

from __future__ import annotations

import logging

from mcp_server.testing import McpHarness

SECRET_BODY = "the launch code is 0000-SWORDFISH"


async def test_one_record_per_request_and_no_arguments(tmp_path):
    async with McpHarness.open(tmp_path) as mcp:
        session = await mcp.register()
        token = mcp.sign(session, "send_email", {"to": "a@example.com", "subject": "s", "body": SECRET_BODY})
        await mcp.rpc("tools/call", {"name": "send_email",
                                     "arguments": {"to": "a@example.com", "subject": "s", "body": SECRET_BODY}}, token)
        await mcp.rpc("tools/call", {"name": "send_email",
                                     "arguments": {"to": "a@example.com", "subject": "s", "body": SECRET_BODY}}, token)
        await mcp.post_rpc(b"[]", None)
        records = mcp.audit()
        text = mcp.settings.mcp_audit_log.read_text()
    assert [(r["event"], r["reason"], r["method"]) for r in records] == [
        ("executed", "registered", "sessions/register"),
        ("executed", "ok", "tools/call"),
        ("rejected", "replayed_jti", "tools/call"),
        ("rejected", "batch_not_supported", None),
    ]
    executed = records[1]
    assert set(executed) >= {"ts", "event", "reason", "jti", "sid", "tool"}
    assert executed["tool"] == "send_email" and executed["sid"] == session.sid and len(executed["jti"]) >= 22
    assert records[2]["jti"] == executed["jti"]  # the replay is traceable to the original call
    assert SECRET_BODY not in text and token not in text


async def test_unverified_fields_of_a_refused_request_are_marked_and_clipped(tmp_path):
    async with McpHarness.open(tmp_path) as mcp:
        await mcp.rpc("tools/call", {"name": "x" * 10_000, "arguments": {}}, "a.b.c")
        record = mcp.audit()[-1]
    assert record["event"] == "rejected" and record["verified"] is False
    assert len(record["tool"]) <= 130


async def test_verification_off_executes_unsigned_calls_and_says_so(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mcp_server"):
        async with McpHarness.open(tmp_path, mcp_verify=False) as mcp:
            answer = await mcp.rpc("tools/call", {"name": "get_current_time", "arguments": {}}, None)
            record = mcp.audit()[-1]
    assert answer["result"]["isError"] is False
    assert (record["event"], record["reason"], record["verified"]) == ("executed", "unverified", False)
    assert "VERIFICATION IS OFF" in caplog.text
