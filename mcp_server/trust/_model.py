"""The storage interface behind the tool server's stateful checks.

Two facts outlive a request: which public key is registered for a session (and
until when, and whether it was revoked), and which ``jti`` values were already
used. :class:`TrustStore` holds both; ``memory.py`` and ``redis.py`` implement
it. A store must never accept a ``jti`` twice while its token can still verify
(on any replica whose clock is off by no more than the leeway), and must answer
"no" (or raise :class:`~mcp_server.errors.StoreError`) rather than guess when it
cannot reach its backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["RegistrationOutcome", "SessionKey", "TrustStore"]

RegistrationOutcome = Literal["registered", "refreshed"]


@dataclass(frozen=True, slots=True)
class SessionKey:
    """The public key the interceptor registered for one session."""

    sid: str
    public_key: str  # base64url, as registered
    key: Ed25519PublicKey
    expires_at: int


class TrustStore(Protocol):
    async def register(self, sid: str, public_key: str, expires_at: int, *, now: float) -> RegistrationOutcome:
        """Record the session key. Raises AuthError ``session_revoked`` for a revoked sid and
        ``session_conflict`` when the sid is already registered with another key."""
        ...

    async def revoke(self, sid: str, *, now: float) -> bool:
        """End the session now, for every replica; a later registration of ``sid`` is refused.
        True when a live session was revoked."""
        ...

    async def session_key(self, sid: str, *, now: float) -> SessionKey:
        """The key to verify a call of ``sid`` with. Raises AuthError ``unknown_session``,
        ``session_expired`` or ``session_revoked``."""
        ...

    async def admit(self, jti: str, token_exp: int, *, sid: str, check_session: bool, now: float) -> None:
        """After the signature verified: atomically check the session is still live (when
        ``check_session``) and claim ``jti`` until the token can no longer verify on any
        replica whose clock is within the leeway of this one (``exp + 2 * leeway``, plus 1 s).
        Raises AuthError ``replayed_jti`` or a session reason."""
        ...

    async def ping(self) -> None:
        """Return when the store can answer (readiness); raise StoreError when it cannot."""
        ...

    async def close(self) -> None:
        """Release what the store holds (its Redis connections, if it opened them)."""
        ...
