"""In-process state store: the default when no Redis is configured.

Its compare-and-set needs no lock: asyncio runs one coroutine at a time and
there is no ``await`` between the version check and the write. It must never
serve a session after its expiry, and is only for one process (replicas need
Redis).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace

from interceptor.state._model import Approval, Commit, Session
from sentinel_policy import SessionFacts

__all__ = ["MemoryStateStore"]

_SWEEP_EVERY = 1024  # creations between sweeps of expired entries


@dataclass(slots=True)
class _Entry:
    session: Session
    facts: SessionFacts


class MemoryStateStore:
    def __init__(self) -> None:
        self._sessions: dict[str, _Entry] = {}
        self._approvals: dict[str, Approval] = {}
        self._created = 0

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    def _live(self, sid: str) -> _Entry | None:
        entry = self._sessions.get(sid)
        if entry is not None and entry.session.expires_at <= time.time():
            del self._sessions[sid]
            return None
        return entry

    def _sweep(self) -> None:
        now = time.time()
        for sid in [s for s, e in self._sessions.items() if e.session.expires_at <= now]:
            del self._sessions[sid]
        for aid in [a for a, r in self._approvals.items() if r.expires_at <= now]:
            del self._approvals[aid]

    async def create_session(self, session: Session) -> None:
        self._created += 1
        if self._created % _SWEEP_EVERY == 0:
            self._sweep()
        self._sessions[session.sid] = _Entry(session, SessionFacts())

    async def load(self, sid: str) -> tuple[Session, SessionFacts] | None:
        entry = self._live(sid)
        return None if entry is None else (entry.session, entry.facts)

    def begin_commit(self, sid: str, expected_version: int, new_facts: SessionFacts) -> Awaitable[Commit]:
        # Decided here and now (no await between check and write); the caller awaits a done value.
        return _ready(self._compare_and_set(sid, expected_version, new_facts))

    def _compare_and_set(self, sid: str, expected_version: int, new_facts: SessionFacts) -> Commit:
        entry = self._live(sid)
        if entry is None or entry.session.ended:
            return Commit(False, None)
        if entry.facts.version != expected_version:
            return Commit(False, entry.facts)
        if new_facts.version != expected_version:
            entry.facts = new_facts
        return Commit(True, entry.facts)

    async def end_session(self, sid: str) -> bool:
        entry = self._live(sid)
        if entry is None:
            return False
        entry.session = replace(entry.session, ended=True)
        return True

    async def put_approval(self, approval: Approval) -> None:
        self._approvals[approval.approval_id] = approval

    async def get_approval(self, approval_id: str) -> Approval | None:
        approval = self._approvals.get(approval_id)
        if approval is not None and approval.expires_at <= time.time():
            del self._approvals[approval_id]
            return None
        return approval


async def _ready(outcome: Commit) -> Commit:
    return outcome
