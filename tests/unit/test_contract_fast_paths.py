"""The contract's fast paths keep every check: a token read once verifies like a
fresh one, a precomputed digest binds the same arguments, and the claim checks
that moved out of PyJWT (audience, nbf) still refuse what PyJWT refused."""

from __future__ import annotations

import time

import jwt
import pytest

from sentinel_contract import (
    ContractError,
    UnverifiedToken,
    args_sha256,
    generate_keypair,
    peek_kid,
    read_token,
    sign_call,
    verify_call,
)

AUD = "sentinel-mcp"
ARGS = {"to": "a@example.com", "body": "hi"}


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"iss": "i", "aud": AUD, "sid": "s1", "jti": "j" * 22, "iat": now, "exp": now + 30,
                                 "tool": "send_email", "args_sha256": args_sha256(ARGS)}
    claims.update(overrides)
    return claims


def _token(key, claims: dict[str, object], kid: str = "s1") -> str:  # type: ignore[no-untyped-def]
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": kid})


def test_a_token_read_once_verifies_like_the_text() -> None:
    key = generate_keypair()
    token, claims = sign_call(key.private, iss="i", aud=AUD, sid="s1", tool="send_email", arguments=ARGS)
    parsed = read_token(token)
    assert isinstance(parsed, UnverifiedToken) and parsed.kid == "s1" == peek_kid(parsed)
    assert verify_call(parsed, key.public, audience=AUD, tool="send_email", arguments=ARGS) == claims
    assert verify_call(token, key.public, audience=AUD, tool="send_email", arguments=ARGS) == claims


def test_a_token_read_once_still_refuses_another_key() -> None:
    key = generate_keypair()
    token, _ = sign_call(key.private, iss="i", aud=AUD, sid="s1", tool="send_email", arguments=ARGS)
    with pytest.raises(ContractError) as err:
        verify_call(read_token(token), generate_keypair().public, audience=AUD, tool="send_email", arguments=ARGS)
    assert err.value.code == "bad_signature"


def test_a_precomputed_digest_binds_the_same_arguments() -> None:
    key = generate_keypair()
    token, claims = sign_call(key.private, iss="i", aud=AUD, sid="s1", tool="send_email", arguments=ARGS,
                              digest=args_sha256(ARGS))
    assert claims.args_sha256 == args_sha256(ARGS)
    with pytest.raises(ContractError) as err:
        verify_call(token, key.public, audience=AUD, tool="send_email", arguments={**ARGS, "to": "eve@evil.example"})
    assert err.value.code == "args_mismatch"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"aud": "another-server"}, "bad_audience"),
        ({"aud": ["another-server"]}, "bad_audience"),
        ({"aud": [AUD, 7]}, "bad_audience"),
        ({"aud": None}, "bad_audience"),
        ({"nbf": int(time.time()) + 600}, "not_yet_valid"),
        ({"nbf": "soon"}, "missing_claim"),
        ({"iat": "now"}, "missing_claim"),
        ({"exp": True}, "missing_claim"),
    ],
)
def test_claim_checks_refuse_what_pyjwt_refused(overrides: dict[str, object], code: str) -> None:
    key = generate_keypair()
    token = _token(key, _claims(**overrides))
    with pytest.raises(ContractError) as err:
        verify_call(token, key.public, audience=AUD, tool="send_email", arguments=ARGS)
    assert err.value.code == code


def test_an_audience_list_naming_this_server_is_accepted_like_pyjwt_does() -> None:
    key = generate_keypair()
    token = _token(key, _claims(aud=["other", AUD]))
    assert verify_call(token, key.public, audience=AUD, tool="send_email", arguments=ARGS).sid == "s1"


@pytest.mark.parametrize("missing", ["jti", "tool", "args_sha256", "sid", "exp", "aud"])
def test_a_missing_claim_is_refused(missing: str) -> None:
    key = generate_keypair()
    claims = _claims()
    del claims[missing]
    with pytest.raises(ContractError) as err:
        verify_call(_token(key, claims), key.public, audience=AUD, tool="send_email", arguments=ARGS)
    assert err.value.code in {"missing_claim", "bad_audience"}


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "!!!.e30.AA", "eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.AA"])
def test_malformed_tokens_are_refused_when_read(token: str) -> None:
    with pytest.raises(ContractError) as err:
        read_token(token)
    assert err.value.code in {"malformed_token", "bad_algorithm", "missing_kid"}


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    key = generate_keypair()
    token = jwt.api_jws.PyJWS().encode(b"[1,2]", key.private, algorithm="EdDSA", headers={"kid": "s1"})
    with pytest.raises(ContractError) as err:
        verify_call(token, key.public, audience=AUD, tool="send_email", arguments=ARGS)
    assert err.value.code == "malformed_token"


def test_tokens_stay_standard_jwts_both_ways() -> None:
    # Signed with libsodium here, verified by PyJWT's default (cryptography) backend...
    key = generate_keypair()
    token, claims = sign_call(key, iss="i", aud=AUD, sid="s1", tool="send_email", arguments=ARGS)
    assert jwt.decode(token, key.public, algorithms=["EdDSA"], audience=AUD)["jti"] == claims.jti
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "s1", "typ": "JWT"}
    # ...and a token signed by PyJWT's default backend verifies here.
    token = _token(key, _claims())
    assert verify_call(token, key.public, audience=AUD, tool="send_email", arguments=ARGS).sid == "s1"


def test_a_private_key_or_a_foreign_key_type_is_not_a_verification_key() -> None:
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

    key = generate_keypair()
    token, _ = sign_call(key, iss="i", aud=AUD, sid="s1", tool="send_email", arguments=ARGS)
    for wrong in (key.private, key.signer, generate_private_key(SECP256R1()).public_key()):
        with pytest.raises(ContractError) as err:
            verify_call(token, wrong, audience=AUD, tool="send_email", arguments=ARGS)  # type: ignore[arg-type]
        assert err.value.code == "bad_key"


def test_a_signature_of_the_wrong_length_is_refused_not_raised() -> None:
    key = generate_keypair()
    token, _ = sign_call(key, iss="i", aud=AUD, sid="s1", tool="send_email", arguments=ARGS)
    head, payload, _ = token.split(".")
    with pytest.raises(ContractError) as err:
        verify_call(f"{head}.{payload}.AAAA", key.public, audience=AUD, tool="send_email", arguments=ARGS)
    assert err.value.code == "bad_signature"
