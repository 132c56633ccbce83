"""The check every ``/rpc`` request passes before anything runs: the signed-call contract.

Order matters and is fixed: bearer token present -> ``kid`` read only to choose
a key (EdDSA enforced there) -> the session key registered for that ``kid`` ->
signature, ``aud``, ``iat``/``exp`` with leeway, ``tool`` and ``args_sha256``
(all in :mod:`sentinel_contract`) -> only then the session liveness and the
single-use ``jti``, in one atomic store step. A token that fails any step never
consumes a ``jti``, and nothing is executed.

This module must never re-implement JWT handling, and never accept an identity
key for anything but ``tools/list``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mcp_server.errors import AuthError
from mcp_server.trust import TrustStore
from sentinel_contract import (
    IDENTITY_KID,
    CallClaims,
    ContractError,
    read_token,
    verify_call,
    verify_identity_call,
)

__all__ = ["IDENTITY_METHODS", "CallGuard"]

# Methods an interceptor may sign with its identity key instead of a session key.
IDENTITY_METHODS = frozenset({"tools/list"})
_MAX_TOKEN_CHARS = 8_192
_MAX_KID_CHARS = 128


class CallGuard:
    def __init__(
        self,
        store: TrustStore,
        trusted_keys: Sequence[Ed25519PublicKey],
        *,
        audience: str,
        leeway: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._trusted = list(trusted_keys)
        self._audience = audience
        self._leeway = leeway
        self._clock = clock

    async def check(self, authorization: str | None, *, method: str, tool: str, arguments: Any) -> CallClaims:
        """The verified claims of the request's token, or AuthError / StoreError.

        ``tool`` and ``arguments`` are what the token must be bound to (for
        ``tools/call`` the tool's name and arguments, else the method and its
        params); ``method`` decides whether an identity key may sign at all, so a
        ``tools/call`` of a tool that happens to be named like a method cannot
        ride on an identity-signed ``tools/list`` token.
        """
        token = _bearer(authorization)
        now = self._clock()
        try:
            parsed = read_token(token)  # read once; the same object is verified below
            kid = parsed.kid
            if kid == IDENTITY_KID:
                if method not in IDENTITY_METHODS or tool != method:
                    raise AuthError("an identity key may not sign this method", code="bad_kid")
                claims = verify_identity_call(
                    parsed, self._trusted, audience=self._audience, tool=tool,
                    arguments=arguments, leeway=self._leeway, now=now,
                )
            else:
                if len(kid) > _MAX_KID_CHARS:
                    raise AuthError("the token's kid is too long", code="malformed_token")
                session = await self._store.session_key(kid, now=now)
                claims = verify_call(
                    parsed, session.key, audience=self._audience, tool=tool,
                    arguments=arguments, leeway=self._leeway, now=now,
                )
        except ContractError as exc:
            raise AuthError(exc.message, code=exc.code) from None
        await self._store.admit(
            claims.jti, claims.exp, sid=claims.sid, check_session=kid != IDENTITY_KID, now=now
        )
        return claims


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("an Authorization: Bearer token is required", code="missing_token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("an Authorization: Bearer token is required", code="missing_token")
    if len(token) > _MAX_TOKEN_CHARS:
        raise AuthError("the token is too long", code="malformed_token")
    return token
