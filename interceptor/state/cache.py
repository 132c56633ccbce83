"""A per-replica cache of sessions and the facts last seen for them.

It lets an allowed call cost one state-store round trip instead of two: the
call is decided on the cached facts and committed with compare-and-set on their
version; the store refuses a stale version and answers with the current facts
(so the caller re-decides), and refuses an ended or expired session outright.
The store stays the truth. What is cached is either immutable for a session's
life (project, sealed key, expiry) or checked by every commit (facts, version).

This cache must never be the only evidence for anything but an allowed call
that is then committed: a denial or an approval decided on cached facts is
re-decided on facts loaded from the store (``Sessions`` does), and any
read-only use (listing tools, ending) loads from the store.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from interceptor.state._model import Session
from sentinel_policy import SessionFacts

__all__ = ["SessionCache"]


class SessionCache:
    """Bounded LRU: sid -> (session, facts); a full cache forgets its least recently used session."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[Session, SessionFacts]] = OrderedDict()

    def get(self, sid: str) -> tuple[Session, SessionFacts] | None:
        entry = self._entries.get(sid)
        if entry is None:
            return None
        if entry[0].expires_at <= time.time() or entry[0].ended:
            del self._entries[sid]
            return None
        self._entries.move_to_end(sid)
        return entry

    def put(self, session: Session, facts: SessionFacts) -> None:
        if session.ended:
            self._entries.pop(session.sid, None)
            return
        current = self._entries.get(session.sid)
        if current is not None and current[1].version > facts.version:
            facts = current[1]  # a load that raced a commit: keep the newer facts
        self._entries[session.sid] = (session, facts)
        self._entries.move_to_end(session.sid)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def update_facts(self, sid: str, facts: SessionFacts) -> None:
        """Replace a cached session's facts with ones the store confirmed as current.

        An older version never replaces a newer one; a session not cached stays uncached.
        """
        entry = self._entries.get(sid)
        if entry is not None and facts.version >= entry[1].version:
            self._entries[sid] = (entry[0], facts)

    def forget(self, sid: str) -> None:
        self._entries.pop(sid, None)

    def __len__(self) -> int:
        return len(self._entries)
