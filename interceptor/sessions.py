"""Session lifecycle: start (fresh key pair, sealed, registered at the tool server),
lookup for a project, and end (marked in the store, revoked at the tool server).

A session belongs to exactly one project; looking it up for another project
answers as if it did not exist. ``lookup`` may answer from the per-replica
cache (for a call, whose commit re-checks the store); ``resolve`` always asks
the store. This module must never hand out a session that
is unknown, ended or expired, nor keep an unsealed key outside process memory.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from dataclasses import dataclass

from interceptor.errors import InterceptorError, SessionNotFound
from interceptor.forwarding import ToolServerClient
from interceptor.policy import SessionFacts
from interceptor.signing import KeySealer, SessionKeyRing
from interceptor.state import SessionCache, SessionRecord, StateStore
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
        cache: SessionCache | None = None,
    ) -> None:
        self._identity = identity
        self._state = state
        self._upstream = upstream
        self._sealer = sealer
        self.keyring = keyring
        self._ttl = ttl_seconds
        self.cache = cache if cache is not None else SessionCache()

    async def start(self, project: str, agent: str | None = None) -> SessionRecord:
        pair = generate_keypair()
        sid = secrets.token_urlsafe(16)
        # rounded up: a session lives at least its TTL, never up to a second less
        expires_at = math.ceil(time.time()) + self._ttl
        record = SessionRecord(
            sid=sid,
            project=project,
            sealed_key=self._sealer.seal(sid, pair.seed),
            public_key=pair.public_b64,
            expires_at=expires_at,
            agent=agent,
        )
        # Stored first: if the store is down nothing is registered anywhere (503).
        await self._state.create_session(record)
        token = sign_registration(
            self._identity.key,
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
        self.cache.put(record, SessionFacts())
        return record

    async def resolve(self, sid: str, project: str) -> tuple[SessionRecord, SessionFacts]:
        """The session and its facts as the store has them now."""
        loaded = await self._state.load(sid)
        if loaded is None:
            self.cache.forget(sid)
            raise SessionNotFound()
        record, facts = loaded
        if record.project != project or record.ended or record.expires_at <= time.time():
            self.cache.forget(sid)
            raise SessionNotFound()
        self.cache.put(record, facts)
        return record, facts

    async def lookup(self, sid: str, project: str) -> tuple[SessionRecord, SessionFacts, bool]:
        """Like ``resolve``, from the cache when it can; the flag is True when loaded from the store.

        Cached facts may be stale and the session may have ended on another
        replica: only a compare-and-set commit may confirm what is decided on them.
        """
        cached = self.cache.get(sid)
        if cached is None:
            record, facts = await self.resolve(sid, project)
            return record, facts, True
        record, facts = cached
        if record.project != project:
            raise SessionNotFound()
        return record, facts, False

    async def end(self, sid: str, project: str) -> bool:
        """End the session; True when the tool server confirmed the revocation."""
        await self.resolve(sid, project)
        self.cache.forget(sid)
        if not await self._state.end_session(sid):
            raise SessionNotFound()
        self.keyring.forget(sid)
        token = sign_revocation(
            self._identity.key, iss=self._identity.interceptor_id, aud=self._identity.mcp_id, sid=sid
        )
        try:
            await self._upstream.revoke(sid, token)
        except InterceptorError:
            # Ended here already, so nothing more gets signed; the registration expires on its own.
            _log.warning("session.end: revocation at the tool server failed", extra={"sid": sid})
            return False
        return True
