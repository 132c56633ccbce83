"""The in-process trust store: the default when no Redis URL is configured.

Good for one process only: a second replica would not see this one's replay set.
Every check-and-set runs without an ``await`` in between, so on one event loop it
is atomic. Expired entries are swept as time passes, so memory stays bounded by
the number of live sessions and of tokens that could still verify.
"""

from __future__ import annotations

import heapq

from mcp_server.errors import AuthError
from mcp_server.trust._model import RegistrationOutcome, SessionKey
from sentinel_contract import load_public_key

__all__ = ["MemoryTrustStore"]


class MemoryTrustStore:
    def __init__(self, *, leeway: int = 5, max_session_seconds: int = 86_400) -> None:
        self._leeway = leeway
        self._max_session = max_session_seconds
        self._sessions: dict[str, SessionKey] = {}
        self._revoked: dict[str, float] = {}  # sid -> keep the marker until
        self._jtis: dict[tuple[str, str], float] = {}  # (sid, jti) -> keep until
        self._expiries: list[tuple[float, int, tuple[str, ...]]] = []  # heap over _jtis and sessions
        self._counter = 0

    async def register(self, sid: str, public_key: str, expires_at: int, *, now: float) -> RegistrationOutcome:
        self._sweep(now)
        if sid in self._revoked:
            raise AuthError("the session was revoked", code="session_revoked", http_status=409)
        existing = self._sessions.get(sid)
        if existing is not None and existing.public_key != public_key:
            raise AuthError("the session is registered with another key", code="session_conflict", http_status=409)
        key = existing.key if existing is not None else load_public_key(public_key)
        self._sessions[sid] = SessionKey(sid=sid, public_key=public_key, key=key, expires_at=expires_at)
        self._schedule(expires_at + self._leeway, ("s", sid))
        return "refreshed" if existing is not None else "registered"

    async def revoke(self, sid: str, *, now: float) -> bool:
        self._sweep(now)
        existing = self._sessions.pop(sid, None)
        if existing is not None:
            until = max(existing.expires_at + self._leeway + 1, now + 1)
        else:
            until = now + self._max_session + self._leeway
        self._revoked[sid] = max(until, self._revoked.get(sid, 0.0))
        self._schedule(self._revoked[sid], ("r", sid))
        return existing is not None and existing.expires_at > now

    async def session_key(self, sid: str, *, now: float) -> SessionKey:
        self._sweep(now)
        return self._live(sid, now)

    async def admit(self, jti: str, token_exp: int, *, sid: str, check_session: bool, now: float) -> None:
        self._sweep(now)
        if check_session:
            self._live(sid, now)
        slot = (sid, jti)
        if slot in self._jtis:
            raise AuthError("this token was already used", code="replayed_jti")
        # Another replica accepts the token until exp + leeway by *its* clock; keeping the jti
        # one more leeway covers a replica up to the leeway behind this one (see redis.py).
        until = max(token_exp + 2 * self._leeway + 1, now + 1)
        self._jtis[slot] = until
        self._schedule(until, ("j", sid, jti))

    async def ping(self) -> None:
        return None  # in process: it answers whenever the process does

    async def close(self) -> None:
        self._sessions.clear()
        self._jtis.clear()
        self._revoked.clear()
        self._expiries.clear()

    def _live(self, sid: str, now: float) -> SessionKey:
        if sid in self._revoked:
            raise AuthError("the session was revoked", code="session_revoked")
        session = self._sessions.get(sid)
        if session is None:
            raise AuthError("no session is registered under this key id", code="unknown_session")
        if session.expires_at <= now:
            raise AuthError("the session has expired", code="session_expired")
        return session

    def _schedule(self, until: float, entry: tuple[str, ...]) -> None:
        self._counter += 1
        heapq.heappush(self._expiries, (until, self._counter, entry))

    def _sweep(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now:
            until, _, entry = heapq.heappop(heap)
            kind = entry[0]
            if kind == "j":
                slot = (entry[1], entry[2])
                if self._jtis.get(slot, until + 1) <= until:
                    del self._jtis[slot]
            elif kind == "r":
                if self._revoked.get(entry[1], until + 1) <= until:
                    del self._revoked[entry[1]]
            else:
                session = self._sessions.get(entry[1])
                if session is not None and session.expires_at + self._leeway <= until:
                    del self._sessions[entry[1]]
