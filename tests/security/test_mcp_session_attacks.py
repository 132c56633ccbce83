"""Attacks on session registration, expiry and revocation: run against the in-process store and real Redis."""

from __future__ import annotations

import secrets

import jwt
import pytest

from mcp_server.errors import AuthError
from mcp_server.testing import BACKENDS, McpHarness, Session, assert_refused
from sentinel_contract import generate_keypair, sign_revocation

EMAIL = {"to": "friend@example.com", "subject": "Lunch", "body": "See you at noon."}
SESSION_REJECTED = -32004


@pytest.fixture(params=BACKENDS)
async def mcp(request, tmp_path, redis_url, redis_prefix):
    async with McpHarness.open(tmp_path, backend=request.param, redis_url=redis_url, redis_prefix=redis_prefix) as h:
        yield h


def _unregistered(mcp: McpHarness) -> Session:
    return Session(sid="s-never-registered", key=generate_keypair(), expires_at=int(mcp.clock()) + 600)


async def test_call_in_an_unregistered_session_is_refused(mcp):
    session = _unregistered(mcp)
    answer = await mcp.call(session, "send_email", EMAIL)
    assert_refused(mcp, answer, code=SESSION_REJECTED, reason="unknown_session", audit_before=0)


async def test_call_in_an_expired_session_is_refused(mcp):
    session = await mcp.register(ttl=60)
    mcp.clock.offset = 61  # the session ended; the call token itself is fresh
    before = len(mcp.audit())
    answer = await mcp.call(session, "send_email", EMAIL)
    assert_refused(mcp, answer, code=SESSION_REJECTED, reason="session_expired", audit_before=before)


async def test_call_in_a_revoked_session_is_refused(mcp):
    session = await mcp.register()
    assert (await mcp.call(session, "get_current_time", {}))["result"]["isError"] is False
    response = await mcp.revoke(session)
    assert response.status_code == 200 and response.json()["revoked"] is True
    before = len(mcp.audit())
    answer = await mcp.call(session, "send_email", EMAIL)
    assert_refused(mcp, answer, code=SESSION_REJECTED, reason="session_revoked", audit_before=before)


async def test_token_signed_before_revocation_is_refused_after_it(mcp):
    session = await mcp.register()
    token = mcp.sign(session, "send_email", EMAIL)
    await mcp.revoke(session)
    before = len(mcp.audit())
    answer = await mcp.call(session, "send_email", EMAIL, token=token)
    assert_refused(mcp, answer, code=SESSION_REJECTED, reason="session_revoked", audit_before=before)


async def test_unsigned_registration_is_refused(mcp):
    session = _unregistered(mcp)
    claims = {"iss": "x", "aud": mcp.settings.mcp_id, "sid": session.sid, "public_key": session.key.public_b64,
              "iat": int(mcp.clock()), "exp": session.expires_at}
    token = jwt.encode(claims, None, algorithm="none", headers={"kid": "identity"})
    response = await mcp.post_session(token)
    assert response.status_code == 401 and response.json()["error"]["code"] == "bad_algorithm"
    assert mcp.audit()[-1]["event"] == "rejected"
    answer = await mcp.call(session, "send_email", EMAIL)  # the session does not exist
    assert answer["error"]["data"]["reason"] == "unknown_session" and mcp.outbox() == []


async def test_registration_signed_by_an_unknown_key_is_refused(mcp):
    session = _unregistered(mcp)
    response = await mcp.post_session(mcp.registration_token(session, signer=generate_keypair()))
    assert response.status_code == 401 and response.json()["error"]["code"] == "bad_signature"
    assert [r["event"] for r in mcp.audit()] == ["rejected"]
    answer = await mcp.call(session, "send_email", EMAIL)
    assert answer["error"]["data"]["reason"] == "unknown_session" and mcp.outbox() == []


async def test_registration_signed_by_a_session_key_is_refused(mcp):
    victim = await mcp.register()
    forged = Session(sid="s-forged", key=generate_keypair(), expires_at=victim.expires_at)
    token = jwt.encode(
        {"iss": "x", "aud": mcp.settings.mcp_id, "sid": forged.sid, "public_key": forged.key.public_b64,
         "iat": int(mcp.clock()), "exp": forged.expires_at},
        victim.key.private, algorithm="EdDSA", headers={"kid": victim.sid},
    )
    response = await mcp.post_session(token)
    assert response.status_code == 401 and response.json()["error"]["code"] == "bad_kid"


async def test_registration_for_another_audience_is_refused(mcp):
    session = _unregistered(mcp)
    response = await mcp.post_session(mcp.registration_token(session, aud="another-tool-server"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "bad_audience"


async def test_reregistering_a_live_session_with_another_key_is_refused(mcp):
    session = await mcp.register()
    hijack = Session(sid=session.sid, key=generate_keypair(), expires_at=session.expires_at)
    response = await mcp.post_session(mcp.registration_token(hijack))
    assert response.status_code == 409 and response.json()["error"]["code"] == "session_conflict"
    answer = await mcp.call(hijack, "send_email", EMAIL)
    assert answer["error"]["data"]["reason"] == "bad_signature" and mcp.outbox() == []


async def test_replayed_registration_cannot_reopen_a_revoked_session(mcp):
    session = await mcp.register()
    registration = mcp.registration_token(session)
    await mcp.revoke(session)
    response = await mcp.post_session(registration)
    assert response.status_code == 409 and response.json()["error"]["code"] == "session_revoked"
    answer = await mcp.call(session, "send_email", EMAIL)
    assert answer["error"]["data"]["reason"] == "session_revoked" and mcp.outbox() == []


async def test_registration_longer_than_the_server_allows_is_refused(mcp):
    session = Session(sid="s-forever", key=generate_keypair(),
                      expires_at=int(mcp.clock()) + mcp.settings.max_session_seconds + 3600)
    response = await mcp.post_session(mcp.registration_token(session))
    assert response.status_code == 401 and response.json()["error"]["code"] == "session_too_long"


async def test_revocation_signed_by_an_unknown_key_is_refused(mcp):
    session = await mcp.register()
    response = await mcp.revoke(session, signer=generate_keypair())
    assert response.status_code == 401 and response.json()["error"]["code"] == "bad_signature"
    assert (await mcp.call(session, "get_current_time", {}))["result"]["isError"] is False


async def test_revocation_for_another_session_is_refused(mcp):
    session, other = await mcp.register(), await mcp.register()
    token = sign_revocation(mcp.identity.private, iss="sentinel-interceptor", aud=mcp.settings.mcp_id,
                            sid=session.sid, now=mcp.clock())  # valid, but for `session`
    response = await mcp.client.request("DELETE", f"/sessions/{other.sid}", json={"token": token})
    assert response.status_code == 401 and response.json()["error"]["code"] == "bad_session"
    assert (await mcp.call(other, "get_current_time", {}))["result"]["isError"] is False


async def test_registration_without_a_token_is_refused(mcp):
    response = await mcp.client.post("/sessions", json={"public_key": generate_keypair().public_b64})
    assert response.status_code == 400 and response.json()["error"]["code"] == "missing_token"
    response = await mcp.client.post("/sessions", content=b"{not json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize("sid", ["a/b", "../s1", "x" * 129, "a b", "s.1", "s:1", "s%2F1", "sé", "s\n1"])
async def test_registration_of_a_session_id_that_could_never_be_revoked_or_used_is_refused(mcp, sid):
    # '/' could never be revoked (DELETE /sessions/{sid}); over 128 characters never used (kid limit).
    before = len(mcp.audit())
    session = Session(sid=sid, key=generate_keypair(), expires_at=int(mcp.clock()) + 600)
    response = await mcp.post_session(mcp.registration_token(session))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_sid"
    assert "A-Z a-z 0-9 _ -" in response.json()["error"]["message"]
    with pytest.raises(AuthError) as err:  # nothing stored
        await mcp.app.holder.runtime.store.session_key(sid, now=mcp.clock())
    assert err.value.code == "unknown_session"
    assert [(r["event"], r["reason"]) for r in mcp.audit()[before:]] == [("rejected", "invalid_sid")]


@pytest.mark.parametrize("sid", [secrets.token_urlsafe(16), "A" * 128, "s_1-x", "z"])
async def test_registration_of_a_well_formed_session_id_is_accepted(mcp, sid):
    session = await mcp.register(sid)  # the interceptor's sids are secrets.token_urlsafe(16)
    assert (await mcp.call(session, "get_current_time", {}))["result"]["isError"] is False
    assert (await mcp.revoke(session)).status_code == 200
