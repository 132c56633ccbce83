"""The shared contract: what a token binds, and every way a token is refused."""

from __future__ import annotations

import time

import jwt
import pytest

from sentinel_contract import (
    ContractError,
    args_sha256,
    generate_keypair,
    load_public_key,
    sign_call,
    sign_registration,
    sign_revocation,
    verify_call,
    verify_registration,
    verify_revocation,
)

AUD = "sentinel-mcp"


@pytest.fixture
def session_key():
    return generate_keypair()


def _call(key, **overrides):
    kwargs = {"iss": "sentinel-interceptor", "aud": AUD, "sid": "s1", "tool": "send_email",
              "arguments": {"to": "a@example.com", "body": "hi"}}
    kwargs.update(overrides)
    return sign_call(key.private, **kwargs)


def test_args_hash_ignores_key_order_and_whitespace_but_not_values():
    assert args_sha256({"a": 1, "b": [1, 2]}) == args_sha256({"b": [1, 2], "a": 1})
    assert args_sha256({"a": 1}) != args_sha256({"a": 2})
    assert args_sha256({"a": 1}) != args_sha256({"a": "1"})
    # unpadded base64url of 32 bytes
    assert len(args_sha256({})) == 43 and "=" not in args_sha256({})


def test_valid_call_verifies_and_carries_the_claims(session_key):
    token, claims = _call(session_key)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "typ": "JWT", "kid": "s1"}
    checked = verify_call(token, session_key.public, audience=AUD, tool="send_email",
                          arguments={"body": "hi", "to": "a@example.com"})
    assert checked == claims
    assert checked.exp - checked.iat <= 60
    assert len(checked.jti) >= 22


@pytest.mark.parametrize(
    ("tool", "arguments", "code"),
    [
        ("delete_file", {"to": "a@example.com", "body": "hi"}, "tool_mismatch"),
        ("send_email", {"to": "evil@example.com", "body": "hi"}, "args_mismatch"),
        ("send_email", {"to": "a@example.com"}, "args_mismatch"),
        ("send_email", {"to": "a@example.com", "body": "hi", "bcc": "x"}, "args_mismatch"),
    ],
)
def test_call_bound_to_tool_and_arguments(session_key, tool, arguments, code):
    token, _ = _call(session_key)
    with pytest.raises(ContractError) as err:
        verify_call(token, session_key.public, audience=AUD, tool=tool, arguments=arguments)
    assert err.value.code == code


def test_call_signed_by_another_key_is_refused(session_key):
    token, _ = _call(generate_keypair())
    with pytest.raises(ContractError) as err:
        verify_call(token, session_key.public, audience=AUD, tool="send_email",
                    arguments={"to": "a@example.com", "body": "hi"})
    assert err.value.code == "bad_signature"


def test_expired_and_future_tokens_are_refused(session_key):
    old, _ = _call(session_key, now=time.time() - 120)
    future, _ = _call(session_key, now=time.time() + 120)
    for token, code in ((old, "expired"), (future, "not_yet_valid")):
        with pytest.raises(ContractError) as err:
            verify_call(token, session_key.public, audience=AUD, tool="send_email",
                        arguments={"to": "a@example.com", "body": "hi"})
        assert err.value.code == code


def test_wrong_audience_is_refused(session_key):
    token, _ = _call(session_key, aud="another-server")
    with pytest.raises(ContractError) as err:
        verify_call(token, session_key.public, audience=AUD, tool="send_email",
                    arguments={"to": "a@example.com", "body": "hi"})
    assert err.value.code == "bad_audience"


def test_ttl_over_sixty_seconds_cannot_be_signed(session_key):
    with pytest.raises(ContractError):
        _call(session_key, ttl=61)


def test_registration_round_trip_and_unknown_identity():
    identity, session = generate_keypair(), generate_keypair()
    token = sign_registration(identity.private, iss="i", aud=AUD, sid="s1",
                              public_key=session.public_b64, exp=int(time.time()) + 600)
    claims = verify_registration(token, [identity.public], audience=AUD)
    assert claims.sid == "s1" and load_public_key(claims.public_key) == session.public
    with pytest.raises(ContractError) as err:
        verify_registration(token, [generate_keypair().public], audience=AUD)
    assert err.value.code == "bad_signature"


def test_revocation_is_bound_to_its_session():
    identity = generate_keypair()
    token = sign_revocation(identity.private, iss="i", aud=AUD, sid="s1")
    assert verify_revocation(token, [identity.public], sid="s1", audience=AUD).sid == "s1"
    with pytest.raises(ContractError) as err:
        verify_revocation(token, [identity.public], sid="s2", audience=AUD)
    assert err.value.code == "bad_session"
