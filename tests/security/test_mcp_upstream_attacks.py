"""Attacks on the tool server as a gateway to upstream MCP servers, one per test.

A call that does not verify must never reach the upstream (a pipe records what
does: ``tee_stdio.py``), and the upstream's credentials (stdio ``env``, HTTP
``headers``) must never leave Zone C: not in tools/list, not in an answer or an
error, not in the audit trail or the server log, even when the upstream itself
echoes them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson
import pytest
from mcp_upstreams import (
    NOTES_TOKEN,
    gateway,
    notes_http_server,
    notes_stdio,
    result_text,
    sent_calls,
    stdio,
    tools_list,
)

from mcp_server.sources import UpstreamConfig
from mcp_server.testing import McpHarness, Session, assert_refused
from sentinel_contract import generate_keypair

NOTE = {"text": "transfer everything"}
TOKEN_REJECTED, UNAUTHENTICATED, REPLAYED = -32003, -32001, -32005


@pytest.fixture
def notes_file(tmp_path: Path) -> Path:
    return tmp_path / "notes.txt"


@pytest.fixture
def sent(tmp_path: Path) -> Path:
    return tmp_path / "sent.jsonl"


@pytest.fixture
async def notes(tmp_path: Path, notes_file: Path, sent: Path):
    """The notes server (a write tool) behind the tool server, behind a pipe that records what reaches it."""
    async with gateway(tmp_path, notes_stdio(notes_file, tee=sent)) as (mcp, session, _):
        yield mcp, session


def assert_never_reached(mcp: McpHarness, answer: dict, *, code: int, reason: str, sent: Path, notes_file: Path,
                         before: int) -> None:
    assert_refused(mcp, answer, code=code, reason=reason, audit_before=before)
    assert sent_calls(sent) == []
    assert not notes_file.exists()


async def test_an_unsigned_call_never_reaches_the_upstream(notes, sent, notes_file):
    mcp, _ = notes
    before = len(mcp.audit())
    answer = await mcp.rpc("tools/call", {"name": "notes__append_note", "arguments": NOTE}, None)
    assert_never_reached(mcp, answer, code=UNAUTHENTICATED, reason="missing_token", sent=sent,
                         notes_file=notes_file, before=before)


async def test_a_call_signed_by_an_unregistered_key_never_reaches_the_upstream(notes, sent, notes_file):
    mcp, session = notes
    before = len(mcp.audit())
    token = mcp.sign(session, "notes__append_note", NOTE, key=generate_keypair())
    answer = await mcp.call(session, "notes__append_note", NOTE, token=token)
    assert_never_reached(mcp, answer, code=TOKEN_REJECTED, reason="bad_signature", sent=sent,
                         notes_file=notes_file, before=before)


async def test_a_token_for_a_harmless_upstream_tool_cannot_call_its_write_tool(notes, sent, notes_file):
    mcp, session = notes
    before = len(mcp.audit())
    token = mcp.sign(session, "notes__token_is_set", {})  # what the policy allowed
    answer = await mcp.call(session, "notes__append_note", NOTE, token=token)
    assert_never_reached(mcp, answer, code=TOKEN_REJECTED, reason="tool_mismatch", sent=sent,
                         notes_file=notes_file, before=before)


async def test_a_token_for_the_upstream_name_of_a_tool_cannot_call_it_namespaced(notes, sent, notes_file):
    # The interceptor signs the served name; a token bound to the upstream's own name is for another tool.
    mcp, session = notes
    before = len(mcp.audit())
    token = mcp.sign(session, "append_note", NOTE)
    answer = await mcp.call(session, "notes__append_note", NOTE, token=token)
    assert_never_reached(mcp, answer, code=TOKEN_REJECTED, reason="tool_mismatch", sent=sent,
                         notes_file=notes_file, before=before)


async def test_arguments_changed_after_signing_never_reach_the_upstream(notes, sent, notes_file):
    mcp, session = notes
    before = len(mcp.audit())
    token = mcp.sign(session, "notes__append_note", {"text": "lunch at noon"})
    answer = await mcp.call(session, "notes__append_note", NOTE, token=token)
    assert_never_reached(mcp, answer, code=TOKEN_REJECTED, reason="args_mismatch", sent=sent,
                         notes_file=notes_file, before=before)


async def test_a_replayed_call_reaches_the_upstream_once(notes, sent, notes_file):
    mcp, session = notes
    token = mcp.sign(session, "notes__append_note", NOTE)
    first = await mcp.call(session, "notes__append_note", NOTE, token=token)
    replay = await mcp.call(session, "notes__append_note", NOTE, token=token)
    assert first["result"]["isError"] is False
    assert (replay["error"]["code"], replay["error"]["data"]["reason"]) == (REPLAYED, "replayed_jti")
    assert sent_calls(sent) == [{"name": "append_note", "arguments": NOTE}]
    assert notes_file.read_text() == "transfer everything\n"


async def test_a_name_under_an_upstream_prefix_that_it_did_not_list_is_never_forwarded(notes, sent, notes_file):
    mcp, session = notes
    before = len(mcp.audit())
    answer = await mcp.call(session, "notes__delete_everything", {})
    assert_never_reached(mcp, answer, code=-32602, reason="unknown_tool", sent=sent, notes_file=notes_file,
                         before=before)


# -- credentials stay in Zone C -------------------------------------------------------------------------

@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    # Sentinel's own records at every level; the libraries' from INFO up (the SDK's DEBUG records
    # trace whole messages, and so whatever an upstream itself sends: docs/mcp-gateway.md).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="mcp_server")
    return caplog


async def _exercise(mcp: McpHarness, session: Session) -> list[bytes]:
    """Every kind of answer a gateway gives: listing, result, tool error, refusal, unknown tool, leaks."""
    answers = [orjson.dumps(await tools_list(mcp, session))]
    for tool, arguments in (("notes__append_note", {"text": "hello"}), ("notes__token_is_set", {}),
                            ("notes__leak_token", {}), ("notes__fail_with_token", {}),
                            ("notes__slow", {"seconds": 5}), ("notes__nope", {})):
        answers.append(orjson.dumps(await mcp.call(session, tool, arguments)))
    answers.append(orjson.dumps(await mcp.call(session, "notes__append_note", {"text": "x"}, token="forged")))
    return answers


def _assert_nowhere(secret: str, answers: list[bytes], mcp: McpHarness, log: pytest.LogCaptureFixture) -> None:
    for answer in answers:
        assert secret.encode() not in answer, answer
    assert secret not in mcp.settings.mcp_audit_log.read_text()
    assert secret not in log.text


async def test_stdio_env_credentials_never_leave_the_tool_server(tmp_path, notes_file, server_log):
    async with gateway(tmp_path, notes_stdio(notes_file, timeout_seconds=1)) as (mcp, session, _):
        answers = await _exercise(mcp, session)
        token_is_set = await mcp.call(session, "notes__token_is_set", {})
    assert token_is_set["result"]["structuredContent"] == {"result": True}  # it did reach the upstream
    assert b"[redacted]" in answers[3] and b"[redacted]" in answers[4]  # the upstream's own leaks, redacted
    _assert_nowhere(NOTES_TOKEN, answers, mcp, server_log)


async def test_http_header_credentials_never_leave_the_tool_server(tmp_path, server_log):
    with notes_http_server(tmp_path) as (url, _):
        config = UpstreamConfig(name="notes", transport="http", url=url, timeout_seconds=1,
                                headers={"Authorization": f"Bearer {NOTES_TOKEN}"})
        async with gateway(tmp_path, config) as (mcp, session, _):
            answers = await _exercise(mcp, session)
    assert b"noted: hello" in answers[1]  # the header was sent: the server refuses requests without it
    _assert_nowhere(NOTES_TOKEN, answers, mcp, server_log)


async def test_a_credential_quoted_in_an_upstream_json_rpc_error_is_redacted(tmp_path, server_log):
    secret = "sk-live-0123456789abcdef"
    async with gateway(tmp_path, stdio("raw", "raw_server.py", "normal", env={"SECRET": secret})) as (mcp, session, _):
        answer = await mcp.call(session, "raw__error", {})
    assert result_text(answer) == "the upstream raw answered the call with an error: 'backend refused key [redacted]'"
    _assert_nowhere(secret, [orjson.dumps(answer)], mcp, server_log)


async def test_a_stdio_upstream_gets_none_of_the_tool_servers_own_environment(tmp_path, notes_file, monkeypatch):
    monkeypatch.setenv("SENTINEL_REDIS_URL", "redis://:hunter2-redis-password@db:6379/0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-upstreams")
    async with gateway(tmp_path, notes_stdio(notes_file)) as (mcp, session, _):
        answer = await mcp.call(session, "notes__environment_names", {})
    names = answer["result"]["structuredContent"]["result"]
    assert "NOTES_TOKEN" in names and "PATH" in names
    assert not [name for name in names if name.startswith("SENTINEL_") or name == "AWS_SECRET_ACCESS_KEY"]
    assert os.environ["SENTINEL_REDIS_URL"]  # it was there to leak


async def test_a_credential_in_an_upstream_config_never_shows_in_its_repr(notes_file):
    config = notes_stdio(notes_file)
    assert NOTES_TOKEN not in repr(config) and NOTES_TOKEN not in str(config)
    assert NOTES_TOKEN not in config.model_dump_json()
