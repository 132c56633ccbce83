"""A per-replica cache of session records and the facts last seen for them.

It lets an allowed call cost one state-store round trip instead of two: the
call is decided on the cached facts and committed with compare-and-set on their
version; the store refuses a stale version and answers with the current facts
(so the caller re-decides), and refuses an ended or expired session outright.
The store stays the truth. What is cached is either immutable for a session's
life (project, sealed key, expiry) or checked by every commit (facts, version).

This cache must never be the only evidence for anything but an allowed call
that is then committed: a denial or an approval decided on cached facts is
re-decided on facts loaded from the store (the caller's duty), and any
read-only use (listing tools, ending) loads from the store.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from interceptor.policy import SessionFacts
from interceptor.state._model import SessionRecord

__all__ = ["SessionCache"]


class SessionCache:
    """Bounded LRU: sid -> (record, facts); a full cache forgets its least recently used session."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[SessionRecord, SessionFacts]] = OrderedDict()

    def get(self, sid: str) -> tuple[SessionRecord, SessionFacts] | None:
        entry = self._entries.get(sid)
        if entry is None:
            return None
        if entry[0].expires_at <= time.time() or entry[0].ended:
            del self._entries[sid]
            return None
        self._entries.move_to_end(sid)
        return entry

    def put(self, record: SessionRecord, facts: SessionFacts) -> None:
        if record.ended:
            self._entries.pop(record.sid, None)
            return
        current = self._entries.get(record.sid)
        if current is not None and current[1].version > facts.version:
            facts = current[1]  # a load that raced a commit: keep the newer facts
        self._entries[record.sid] = (record, facts)
        self._entries.move_to_end(record.sid)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def saw(self, sid: str, facts: SessionFacts) -> None:
        """Facts the store confirmed as current; an older version never replaces a newer one."""
        entry = self._entries.get(sid)
        if entry is not None and facts.version >= entry[1].version:
            self._entries[sid] = (entry[0], facts)

    def forget(self, sid: str) -> None:
        self._entries.pop(sid, None)

    def __len__(self) -> int:
        return len(self._entries)
