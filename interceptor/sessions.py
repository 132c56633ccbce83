"""Session lifecycle: start (fresh key pair, sealed, registered at the tool server),
lookup for a project, and end (marked in the store, revoked at the tool server).

A session belongs to exactly one project; looking it up for another project
answers as if it did not exist. This module must never hand out a session that
is unknown, ended or expired, nor keep an unsealed key outside process memory.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from interceptor.errors import InterceptorError, SessionNotFound
from interceptor.forwarding import ToolServerClient
from interceptor.policy import SessionFacts
from interceptor.signing import KeySealer, SessionKeyRing
from interceptor.state import SessionRecord, StateStore
from sentinel_contract import SigningKeyPair, generate_keypair, sign_registration, sign_revocation

__all__ = ["SessionIdentity", "Sessions"]

_log = logging.getLogger("sentinel.interceptor")


@dataclass(frozen=True, slots=True)
class SessionIdentity:
    """Who this interceptor is towards the tool server."""

    interceptor_id: str
    mcp_id: str
    key: SigningKeyPair


class Sessions:
    def __init__(
        self,
        identity: SessionIdentity,
        state: StateStore,
        upstream: ToolServerClient,
        sealer: KeySealer,
        keyring: SessionKeyRing,
        ttl_seconds: int,
    ) -> None:
        self._identity = identity
        self._state = state
        self._upstream = upstream
        self._sealer = sealer
        self.keyring = keyring
        self._ttl = ttl_seconds

    async def start(self, project: str) -> SessionRecord:
        pair = generate_keypair()
        sid = secrets.token_urlsafe(16)
        expires_at = int(time.time()) + self._ttl
        record = SessionRecord(
            sid=sid,
            project=project,
            sealed_key=self._sealer.seal(sid, pair.seed),
            public_key=pair.public_b64,
            expires_at=expires_at,
        )
        # Stored first: if the store is down nothing is registered anywhere (503).
        await self._state.create_session(record)
        token = sign_registration(
            self._identity.key.private,
            iss=self._identity.interceptor_id,
            aud=self._identity.mcp_id,
            sid=sid,
            public_key=pair.public_b64,
            exp=expires_at,
        )
        try:
            await self._upstream.register(token)
        except InterceptorError:
            # No registration, no session: the stored one must not linger usable.
            try:
                await self._state.end_session(sid)
            except InterceptorError:
                _log.warning("session.start: could not mark an unregistered session ended", extra={"sid": sid})
            raise
        self.keyring.remember(sid, pair)
        return record

    async def resolve(self, sid: str, project: str) -> tuple[SessionRecord, SessionFacts]:
        loaded = await self._state.load(sid)
        if loaded is None:
            raise SessionNotFound()
        record, facts = loaded
        if record.project != project or record.ended or record.expires_at <= time.time():
            raise SessionNotFound()
        return record, facts

    async def end(self, sid: str, project: str) -> bool:
        """End the session; True when the tool server confirmed the revocation."""
        await self.resolve(sid, project)
        if not await self._state.end_session(sid):
            raise SessionNotFound()
        self.keyring.forget(sid)
        token = sign_revocation(
            self._identity.key.private, iss=self._identity.interceptor_id, aud=self._identity.mcp_id, sid=sid
        )
        try:
            await self._upstream.revoke(sid, token)
        except InterceptorError:
            # Ended here already, so nothing more gets signed; the registration expires on its own.
            _log.warning("session.end: revocation at the tool server failed", extra={"sid": sid})
            return False
        return True
