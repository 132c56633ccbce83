"""Creation and checking of the three token kinds of contract version 1.

- call token: signed by the session key, header ``kid`` = session id; binds one
  tool name and one argument hash to one short-lived, single-use ``jti``; when
  the tool's definition is pinned, also to that pin (optional ``tool_sha256``).
- registration token: signed by the interceptor identity key (``kid`` =
  ``identity``); carries the session public key and the session's end.
- revocation token: signed by the identity key; ``revoke: true`` for one ``sid``.

Checks that need state (key registry, replay set) are the caller's; this module
checks everything that can be checked from the token, the keys and the payload.

A token is read once (:func:`read_token`, PyJWT's own reader): the caller picks
the key from its ``kid`` and passes the read token on, so the tool server's hot
path parses each token once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from sentinel_contract._canonical import args_sha256
from sentinel_contract._eddsa import NaclEd25519
from sentinel_contract._errors import ContractError
from sentinel_contract._keys import IDENTITY_KID, SigningKeyPair, load_public_key

ALGORITHM = "EdDSA"
MAX_CALL_TTL = 60
DEFAULT_CALL_TTL = 30
DEFAULT_LEEWAY = 5
_MIN_JTI_LENGTH = 22  # 128 bits in unpadded base64url

_CALL_CLAIMS = ["iss", "aud", "sid", "jti", "iat", "exp", "tool", "args_sha256"]
_REGISTRATION_CLAIMS = ["iss", "aud", "sid", "public_key", "iat", "exp"]
_REVOCATION_CLAIMS = ["sid", "iat", "exp", "revoke"]


@dataclass(frozen=True, slots=True)
class CallClaims:
    iss: str
    aud: str
    sid: str
    jti: str
    iat: int
    exp: int
    tool: str
    args_sha256: str
    tool_sha256: str | None = None  # the pinned definition's hash; absent for a tool without a pin


@dataclass(frozen=True, slots=True)
class RegistrationClaims:
    iss: str
    aud: str
    sid: str
    public_key: str
    iat: int
    exp: int


@dataclass(frozen=True, slots=True)
class RevocationClaims:
    sid: str
    iat: int
    exp: int


def new_jti() -> str:
    return secrets.token_urlsafe(16)


def _now(now: float | None) -> int:
    return int(time.time() if now is None else now)


# PyJWT does the JWT work; libsodium does the Ed25519 arithmetic (see _eddsa.py).
_JWS = jwt.PyJWS(algorithms=[])
_JWS.register_algorithm(ALGORITHM, NaclEd25519())
_EDDSA = NaclEd25519()
SigningKey = Ed25519PrivateKey | SigningKeyPair


def _encode(claims: Mapping[str, Any], key: SigningKey, kid: str) -> str:
    signer: Any = key.signer if isinstance(key, SigningKeyPair) else key  # NaclEd25519.prepare_key takes both
    return _JWS.encode(orjson.dumps(dict(claims)), signer, algorithm=ALGORITHM, headers={"kid": kid, "typ": "JWT"})


def sign_call(
    key: SigningKey,
    *,
    iss: str,
    aud: str,
    sid: str,
    tool: str,
    arguments: Any,
    ttl: int = DEFAULT_CALL_TTL,
    now: float | None = None,
    kid: str | None = None,
    digest: str | None = None,
    tool_sha256: str | None = None,
) -> tuple[str, CallClaims]:
    """Sign one call; returns the compact JWT and its claims (the ``jti`` joins the audit trails).

    ``digest``: ``args_sha256(arguments)`` when the caller has already computed it
    (the interceptor hashes once, for the audit record and the token).
    ``tool_sha256``: the tool's pinned ``definition_sha256``; the claim is added
    only when given, so a call of an unpinned tool is signed as before.
    """
    if not 0 < ttl <= MAX_CALL_TTL:
        raise ContractError("bad_ttl", f"a call token lives at most {MAX_CALL_TTL} s")
    iat = _now(now)
    claims = CallClaims(
        iss=iss,
        aud=aud,
        sid=sid,
        jti=new_jti(),
        iat=iat,
        exp=iat + ttl,
        tool=tool,
        args_sha256=digest if digest is not None else args_sha256(arguments),
        tool_sha256=tool_sha256,
    )
    payload = {name: getattr(claims, name) for name in _CALL_CLAIMS}
    if tool_sha256 is not None:
        payload["tool_sha256"] = tool_sha256
    return _encode(payload, key, kid or sid), claims


def sign_registration(
    key: SigningKey,
    *,
    iss: str,
    aud: str,
    sid: str,
    public_key: str,
    exp: int,
    now: float | None = None,
) -> str:
    payload = {"iss": iss, "aud": aud, "sid": sid, "public_key": public_key, "iat": _now(now), "exp": int(exp)}
    return _encode(payload, key, IDENTITY_KID)


def sign_revocation(
    key: SigningKey,
    *,
    iss: str,
    aud: str,
    sid: str,
    ttl: int = DEFAULT_CALL_TTL,
    now: float | None = None,
) -> str:
    iat = _now(now)
    payload = {"iss": iss, "aud": aud, "sid": sid, "iat": iat, "exp": iat + ttl, "revoke": True}
    return _encode(payload, key, IDENTITY_KID)


@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    """A token read by PyJWT once (segments, base64url, header JSON) and not yet verified.

    Its ``kid`` only chooses the key to verify with; nothing else may trust it.
    Passing it to the ``verify_*`` functions saves reading the token again.
    """

    kid: str
    header: Mapping[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes


_READER = jwt.PyJWS()
_READ_OPTIONS: Any = {"verify_signature": False}


def read_token(token: str | UnverifiedToken) -> UnverifiedToken:
    """Read a compact JWT once, refusing any algorithm but EdDSA and a missing ``kid``."""
    if isinstance(token, UnverifiedToken):
        return token
    try:
        parts = _READER.decode_complete(token, options=_READ_OPTIONS)
    except jwt.PyJWTError as exc:
        raise ContractError("malformed_token", "the token is not a well-formed JWT") from exc
    header = parts["header"]
    if header.get("alg") != ALGORITHM:
        raise ContractError("bad_algorithm", "only EdDSA tokens are accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ContractError("missing_kid", "the token header has no kid")
    raw = token.encode() if isinstance(token, str) else token
    return UnverifiedToken(kid, header, parts["payload"], raw.rsplit(b".", 1)[0], parts["signature"])


def peek_kid(token: str | UnverifiedToken) -> str:
    """The ``kid`` of an unverified token, after refusing any algorithm but EdDSA.

    Only for choosing which key to verify with; nothing else may trust it.
    """
    return read_token(token).kid


def _decode(
    token: UnverifiedToken,
    keys: Iterable[Ed25519PublicKey],
    *,
    audience: str | None,
    required: list[str],
    leeway: int,
    now: float | None,
) -> dict[str, Any]:
    # The signature is checked over the segments PyJWT read, by the EdDSA
    # algorithm object (libsodium); the claims are checked here, against `now`.
    verified = False
    tried = False
    for key in keys:
        tried = True
        try:
            verified = _EDDSA.verify(token.signing_input, _EDDSA.prepare_key(key), token.signature)
        except jwt.PyJWTError as exc:
            raise ContractError("bad_key", "not an Ed25519 public key") from exc
        if verified:
            break
    if not verified:
        if not tried:
            raise ContractError("unknown_key", "no trusted key to verify the token")
        raise ContractError("bad_signature", "the token signature does not verify")
    try:
        claims = orjson.loads(token.payload)
    except orjson.JSONDecodeError as exc:
        raise ContractError("malformed_token", "the token is not a well-formed JWT") from exc
    if not isinstance(claims, dict):
        raise ContractError("malformed_token", "the token is not a well-formed JWT")
    for name in required:
        if name not in claims:
            raise ContractError("missing_claim", "the token lacks a required claim")
    if audience is not None:
        aud = claims.get("aud")
        if not (aud == audience or (isinstance(aud, list) and audience in aud and all(isinstance(a, str) for a in aud))):
            raise ContractError("bad_audience", "the token is for another audience")
    _check_times(claims, leeway, now)
    return claims


def _check_times(claims: Mapping[str, Any], leeway: int, now: float | None) -> None:
    # Against `now` (the wall clock when None): tests and simulations pass their own.
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or isinstance(iat, bool) or isinstance(exp, bool):
        raise ContractError("missing_claim", "iat and exp must be integers")
    current = _now(now)
    if iat > current + leeway:
        raise ContractError("not_yet_valid", "the token is not valid yet (iat in the future)")
    if exp <= current - leeway:
        raise ContractError("expired", "the token has expired")
    nbf = claims.get("nbf")
    if nbf is not None:
        if not isinstance(nbf, int) or isinstance(nbf, bool):
            raise ContractError("missing_claim", "nbf must be an integer")
        if nbf > current + leeway:
            raise ContractError("not_yet_valid", "the token is not valid yet (nbf in the future)")


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise ContractError("missing_claim", f"claim {name!r} must be a non-empty string")
    return value


def _optional_text(claims: Mapping[str, Any], name: str) -> str | None:
    # An optional claim that is present must be usable: a null or empty pin is not "no pin".
    return _text(claims, name) if name in claims else None


def verify_call(
    token: str | UnverifiedToken,
    key: Ed25519PublicKey,
    *,
    audience: str,
    tool: str,
    arguments: Any,
    leeway: int = DEFAULT_LEEWAY,
    now: float | None = None,
) -> CallClaims:
    """Check a call token against the session key, this server's id and the request it came with.

    The caller must still check that ``jti`` is new (single use), that the key
    was registered for ``claims.sid`` and is neither expired nor revoked, and,
    when ``claims.tool_sha256`` is set, that the tool it runs has that definition.
    """
    parsed = read_token(token)
    kid = parsed.kid
    raw = _decode(parsed, [key], audience=audience, required=_CALL_CLAIMS, leeway=leeway, now=now)
    claims = CallClaims(
        iss=_text(raw, "iss"),
        aud=audience,
        sid=_text(raw, "sid"),
        jti=_text(raw, "jti"),
        iat=raw["iat"],
        exp=raw["exp"],
        tool=_text(raw, "tool"),
        args_sha256=_text(raw, "args_sha256"),
        tool_sha256=_optional_text(raw, "tool_sha256"),
    )
    if claims.sid != kid:
        raise ContractError("bad_session", "the token's sid does not match its kid")
    if claims.exp - claims.iat > MAX_CALL_TTL:
        raise ContractError("bad_ttl", f"a call token may live at most {MAX_CALL_TTL} s")
    if len(claims.jti) < _MIN_JTI_LENGTH:
        raise ContractError("bad_jti", "the jti is too short to be unique")
    if claims.tool != tool:
        raise ContractError("tool_mismatch", "the token was signed for another tool")
    if claims.args_sha256 != args_sha256(arguments):
        raise ContractError("args_mismatch", "the arguments differ from the ones signed")
    return claims


def verify_identity_call(
    token: str | UnverifiedToken,
    trusted: Iterable[Ed25519PublicKey],
    *,
    audience: str,
    tool: str,
    arguments: Any,
    leeway: int = DEFAULT_LEEWAY,
    now: float | None = None,
) -> CallClaims:
    """Like :func:`verify_call`, for the few methods an identity key may sign (``tools/list``)."""
    parsed = read_token(token)
    if parsed.kid != IDENTITY_KID:
        raise ContractError("bad_kid", "expected a token signed by an identity key")
    raw = _decode(parsed, trusted, audience=audience, required=_CALL_CLAIMS, leeway=leeway, now=now)
    claims = CallClaims(
        iss=_text(raw, "iss"),
        aud=audience,
        sid=_text(raw, "sid"),
        jti=_text(raw, "jti"),
        iat=raw["iat"],
        exp=raw["exp"],
        tool=_text(raw, "tool"),
        args_sha256=_text(raw, "args_sha256"),
    )
    if claims.exp - claims.iat > MAX_CALL_TTL:
        raise ContractError("bad_ttl", f"a call token may live at most {MAX_CALL_TTL} s")
    if len(claims.jti) < _MIN_JTI_LENGTH:
        raise ContractError("bad_jti", "the jti is too short to be unique")
    if claims.tool != tool:
        raise ContractError("tool_mismatch", "the token was signed for another method")
    if claims.args_sha256 != args_sha256(arguments):
        raise ContractError("args_mismatch", "the parameters differ from the ones signed")
    return claims


def verify_registration(
    token: str,
    trusted: Iterable[Ed25519PublicKey],
    *,
    audience: str,
    leeway: int = DEFAULT_LEEWAY,
    now: float | None = None,
) -> RegistrationClaims:
    """Check a session registration signed by one of the trusted identity keys."""
    parsed = read_token(token)
    if parsed.kid != IDENTITY_KID:
        raise ContractError("bad_kid", "a registration must be signed by an identity key")
    raw = _decode(parsed, trusted, audience=audience, required=_REGISTRATION_CLAIMS, leeway=leeway, now=now)
    public_key = _text(raw, "public_key")
    load_public_key(public_key)  # refuse a registration whose key is unusable
    return RegistrationClaims(
        iss=_text(raw, "iss"),
        aud=audience,
        sid=_text(raw, "sid"),
        public_key=public_key,
        iat=raw["iat"],
        exp=raw["exp"],
    )


def verify_revocation(
    token: str,
    trusted: Iterable[Ed25519PublicKey],
    *,
    sid: str,
    audience: str | None = None,
    leeway: int = DEFAULT_LEEWAY,
    now: float | None = None,
) -> RevocationClaims:
    """Check a revocation for ``sid`` (the path's session id) signed by a trusted identity key."""
    parsed = read_token(token)
    if parsed.kid != IDENTITY_KID:
        raise ContractError("bad_kid", "a revocation must be signed by an identity key")
    raw = _decode(parsed, trusted, audience=audience, required=_REVOCATION_CLAIMS, leeway=leeway, now=now)
    if raw.get("revoke") is not True:
        raise ContractError("missing_claim", "a revocation carries revoke: true")
    if _text(raw, "sid") != sid:
        raise ContractError("bad_session", "the revocation is for another session")
    return RevocationClaims(sid=sid, iat=raw["iat"], exp=raw["exp"])
