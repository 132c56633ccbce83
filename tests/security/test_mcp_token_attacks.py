"""Attacks on the signed-call token of ``/rpc``: each one must be refused, execute nothing,
and leave exactly one ``rejected`` audit record. Run against the in-process store and real Redis."""

from __future__ import annotations

import time

import jwt
import pytest

from mcp_server.testing import BACKENDS, ISS, McpHarness, Session, assert_refused
from sentinel_contract import args_sha256, generate_keypair, sign_call
from sentinel_contract._tokens import new_jti

EMAIL = {"to": "friend@example.com", "subject": "Lunch", "body": "See you at noon."}
TOKEN_REJECTED, SESSION_REJECTED, REPLAYED, UNAUTHENTICATED = -32003, -32004, -32005, -32001


@pytest.fixture(params=BACKENDS)
async def mcp(request, tmp_path, redis_url, redis_prefix):
    async with McpHarness.open(tmp_path, backend=request.param, redis_url=redis_url, redis_prefix=redis_prefix) as h:
        yield h


@pytest.fixture
async def session(mcp):
    return await mcp.register()


def _claims(mcp: McpHarness, session: Session, tool: str, arguments: dict) -> dict:
    now = int(mcp.clock())
    return {"iss": ISS, "aud": mcp.settings.mcp_id, "sid": session.sid, "jti": new_jti(), "iat": now,
            "exp": now + 30, "tool": tool, "args_sha256": args_sha256(arguments)}


async def _send_email_with(mcp: McpHarness, token: str, arguments: dict = EMAIL) -> dict:
    return await mcp.rpc("tools/call", {"name": "send_email", "arguments": arguments}, token)


async def test_signed_call_executes_once(mcp, session):
    answer = await mcp.call(session, "send_email", EMAIL)
    assert answer["result"]["isError"] is False
    assert [m["to"] for m in mcp.outbox()] == ["friend@example.com"]
    assert mcp.audit()[-1]["event"] == "executed" and mcp.audit()[-1]["sid"] == session.sid


async def test_alg_none_token_is_refused(mcp, session):
    token = jwt.encode(_claims(mcp, session, "send_email", EMAIL), None, algorithm="none",
                       headers={"kid": session.sid})
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="bad_algorithm", audit_before=before)


async def test_hs256_token_signed_with_the_public_key_as_secret_is_refused(mcp, session):
    token = jwt.encode(_claims(mcp, session, "send_email", EMAIL), session.key.public_b64.encode(),
                       algorithm="HS256", headers={"kid": session.sid})
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="bad_algorithm", audit_before=before)


async def test_token_signed_by_another_sessions_key_is_refused(mcp, session):
    other = await mcp.register()
    token = mcp.sign(session, "send_email", EMAIL, key=other.key)  # kid/sid of `session`, key of `other`
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="bad_signature", audit_before=before)


async def test_token_with_unknown_kid_is_refused(mcp, session):
    stranger = Session(sid="no-such-session", key=generate_keypair(), expires_at=int(time.time()) + 60)
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, mcp.sign(stranger, "send_email", EMAIL))
    assert_refused(mcp, answer, code=SESSION_REJECTED, reason="unknown_session", audit_before=before)


async def test_expired_token_is_refused(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL, now=mcp.clock() - 120)
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="expired", audit_before=before)


async def test_long_lived_token_signed_with_the_session_key_is_refused(mcp, session):
    # A stolen session key must not mint a token that outlives the 60 s contract window:
    # signed with the right key, fresh, bound to the call, but valid for an hour.
    claims = _claims(mcp, session, "send_email", EMAIL) | {"exp": int(mcp.clock()) + 3600}
    token = jwt.encode(claims, session.key.private, algorithm="EdDSA", headers={"kid": session.sid})
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="bad_ttl", audit_before=before)


async def test_token_with_iat_in_the_future_is_refused(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL, now=mcp.clock() + 60)
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="not_yet_valid", audit_before=before)


async def test_token_for_another_audience_is_refused(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL, aud="some-other-tool-server")
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="bad_audience", audit_before=before)


async def test_reused_jti_is_refused(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL)
    first = await _send_email_with(mcp, token)
    assert first["result"]["isError"] is False
    before = len(mcp.audit())
    replay = await _send_email_with(mcp, token)
    assert replay["error"]["code"] == REPLAYED and replay["error"]["data"]["reason"] == "replayed_jti"
    assert len(mcp.outbox()) == 1  # the replay sent nothing
    assert [(r["event"], r["reason"]) for r in mcp.audit()[before:]] == [("rejected", "replayed_jti")]


async def test_swapped_tool_is_refused(mcp, session):
    token = mcp.sign(session, "get_current_time", EMAIL)  # signed for a harmless tool
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="tool_mismatch", audit_before=before)


async def test_changed_argument_value_is_refused(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL)
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token, {**EMAIL, "to": "attacker@evil.example"})
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="args_mismatch", audit_before=before)


async def test_argument_added_after_signing_is_refused(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL)
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token, {**EMAIL, "bcc": "attacker@evil.example"})
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="args_mismatch", audit_before=before)


async def test_argument_removed_after_signing_is_refused(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL)
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token, {"to": EMAIL["to"], "subject": EMAIL["subject"]})
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="args_mismatch", audit_before=before)


async def test_reordered_keys_and_whitespace_still_verify(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL)
    body = ('{ "params" : {"arguments":{ "body" : "See you at noon.",\n "to":"friend@example.com",'
            '  "subject":"Lunch"}, "name":"send_email"},\n"method":"tools/call", "id": 7, "jsonrpc":"2.0" }')
    response = await mcp.post_rpc(body.encode(), token)
    assert response.json()["result"]["isError"] is False
    assert len(mcp.outbox()) == 1


async def test_signed_call_missing_a_required_argument_is_invalid_params(mcp, session):
    arguments = {"to": "friend@example.com", "subject": "Lunch"}
    before = len(mcp.audit())
    answer = await mcp.call(session, "send_email", arguments)
    assert_refused(mcp, answer, code=-32602, reason="invalid_params", audit_before=before)
    assert "body" in answer["error"]["message"]


async def test_signed_call_with_an_extra_argument_is_invalid_params(mcp, session):
    arguments = {**EMAIL, "bcc": "attacker@evil.example"}
    before = len(mcp.audit())
    answer = await mcp.call(session, "send_email", arguments)
    assert_refused(mcp, answer, code=-32602, reason="invalid_params", audit_before=before)
    assert "attacker@evil.example" not in answer["error"]["message"]  # values are never echoed


async def test_missing_authorization_is_refused(mcp, session):
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, None)
    assert_refused(mcp, answer, code=UNAUTHENTICATED, reason="missing_token", audit_before=before)


async def test_garbage_bearer_token_is_refused(mcp, session):
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, "not.a.jwt")
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="malformed_token", audit_before=before)


async def test_identity_key_cannot_sign_a_tool_call(mcp, session):
    token, _ = sign_call(mcp.identity.private, iss=ISS, aud=mcp.settings.mcp_id, sid=session.sid,
                         tool="send_email", arguments=EMAIL, kid="identity")
    before = len(mcp.audit())
    answer = await _send_email_with(mcp, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="bad_kid", audit_before=before)


async def test_identity_signed_tools_list_token_cannot_call_a_tool_named_like_the_method(mcp):
    # tools/call with name "tools/list": the token is bound to "tools/list" over {}, but the method is
    # tools/call, which an identity key may never sign. "/" is outside MCP's tool-name rule, so the
    # name is refused before the guard even reads the token (the guard would refuse it: bad_kid).
    token, _ = sign_call(mcp.identity.private, iss=ISS, aud=mcp.settings.mcp_id, sid="catalogue",
                         tool="tools/list", arguments={}, kid="identity")
    before = len(mcp.audit())
    answer = await mcp.rpc("tools/call", {"name": "tools/list", "arguments": {}}, token)
    assert_refused(mcp, answer, code=-32602, reason="invalid_tool_name", audit_before=before)


def test_a_tool_cannot_be_registered_under_a_method_name():
    from mcp_server.registry import ToolRegistry

    registry = ToolRegistry()
    with pytest.raises(ValueError):
        registry.add(lambda: "x", name="tools/list")


async def test_identity_signed_tools_list_is_accepted(mcp):
    token, _ = sign_call(mcp.identity.private, iss=ISS, aud=mcp.settings.mcp_id, sid="catalogue",
                         tool="tools/list", arguments={}, kid="identity")
    answer = await mcp.rpc("tools/list", None, token)
    assert {t["name"] for t in answer["result"]["tools"]} >= {"send_email", "transfer_funds"}
    replay = await mcp.rpc("tools/list", None, token)
    assert replay["error"]["data"]["reason"] == "replayed_jti"


async def test_tools_list_signed_by_an_untrusted_identity_key_is_refused(mcp):
    token, _ = sign_call(generate_keypair().private, iss=ISS, aud=mcp.settings.mcp_id, sid="catalogue",
                         tool="tools/list", arguments={}, kid="identity")
    before = len(mcp.audit())
    answer = await mcp.rpc("tools/list", None, token)
    assert_refused(mcp, answer, code=TOKEN_REJECTED, reason="bad_signature", audit_before=before)


async def test_sentinel_verify_in_the_environment_does_not_turn_verification_off(tmp_path, monkeypatch):
    # Only SENTINEL_MCP_VERIFY may; the bare field name with the prefix used to as well.
    monkeypatch.delenv("SENTINEL_MCP_VERIFY", raising=False)
    monkeypatch.setenv("SENTINEL_VERIFY", "false")
    async with McpHarness.open(tmp_path) as mcp:
        assert mcp.settings.mcp_verify is True
        answer = await mcp.rpc("tools/call", {"name": "send_email", "arguments": EMAIL}, None)
        assert_refused(mcp, answer, code=-32001, reason="missing_token", audit_before=0)
