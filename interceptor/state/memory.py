"""In-process state store: the default when no Redis is configured.

Its compare-and-set needs no lock: asyncio runs one coroutine at a time and
there is no ``await`` between the version check and the write. It must never
serve a session after its expiry, and is only for one process (replicas need
Redis).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace

from interceptor.state._model import Approval, ApprovalBounds, BreakGlass, Commit, Session
from sentinel_policy import Counter, SessionFacts

__all__ = ["MemoryStateStore"]

_SWEEP_EVERY = 1024  # creations between sweeps of expired entries
_MAX_COUNTERS = 100_000  # rate-limit counters kept before the ended windows are swept


@dataclass(slots=True)
class _Entry:
    session: Session
    facts: SessionFacts


class MemoryStateStore:
    def __init__(self) -> None:
        self._sessions: dict[str, _Entry] = {}
        self._approvals: dict[str, Approval] = {}
        self._counters: dict[str, tuple[int, int]] = {}
        self._breakglass: dict[str, BreakGlass] = {}  # rate-limit counter -> (used, end of its window)
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
        for aid in [a for a, r in self._approvals.items() if r.sid not in self._sessions]:
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
        for aid in [a for a, r in self._approvals.items() if r.sid == sid]:
            del self._approvals[aid]
        return True

    async def count(self, counters: Sequence[Counter], now: int) -> int:
        for counter in counters:
            used, resets_at = self._counters.get(counter.key, (0, counter.resets_at))
            if resets_at <= now:
                used = 0
            if used + 1 > counter.limit.count:
                return max(1, counter.resets_at - now)
        for counter in counters:
            used, resets_at = self._counters.get(counter.key, (0, counter.resets_at))
            self._counters[counter.key] = (0 if resets_at <= now else used) + 1, counter.resets_at
        if len(self._counters) > _MAX_COUNTERS:
            for key in [k for k, (_, resets_at) in self._counters.items() if resets_at <= now]:
                del self._counters[key]
        return 0

    async def open_breakglass(self, grant: BreakGlass) -> str:
        entry = self._live(grant.sid)
        if entry is None or entry.session.ended:
            return "no_session"
        if await self.active_breakglass(grant.sid, grant.opened_at) is not None:
            return "already_open"
        self._breakglass[grant.grant_id] = grant
        return "opened"

    async def get_breakglass(self, grant_id: str) -> BreakGlass | None:
        return self._breakglass.get(grant_id)

    async def list_breakglass(self, project: str, *, limit: int) -> list[BreakGlass]:
        found = [g for g in self._breakglass.values() if g.project == project]
        return sorted(found, key=lambda g: g.opened_at, reverse=True)[:limit]

    async def active_breakglass(self, sid: str, now: int) -> BreakGlass | None:
        return next((g for g in self._breakglass.values() if g.sid == sid and g.active(now)), None)

    async def close_breakglass(self, grant_id: str, *, by: str, at: int) -> BreakGlass | None:
        grant = self._breakglass.get(grant_id)
        if grant is not None and grant.active(at):
            grant = self._breakglass[grant_id] = replace(grant, closed_at=at, closed_by=by)
        return grant

    async def list_sessions(self, project: str, *, limit: int) -> list[tuple[Session, SessionFacts]]:
        live = [self._live(sid) for sid in list(self._sessions)]
        found = [(e.session, e.facts) for e in live if e is not None and e.session.project == project
                 and not e.session.ended]
        return sorted(found, key=lambda pair: pair[0].expires_at, reverse=True)[:limit]

    async def hold_approval(self, approval: Approval, bounds: ApprovalBounds) -> str:
        entry = self._live(approval.sid)
        if entry is None or entry.session.ended:
            return "no_session"
        now = approval.created_at
        pending = [a for a in self._approvals.values()
                   if a.project == approval.project and a.state(now) == "pending" and self._live(a.sid) is not None]
        if sum(a.sid == approval.sid for a in pending) >= bounds.per_session:
            return "session_full"
        if len(pending) >= bounds.per_project:
            return "project_full"
        self._approvals[approval.approval_id] = approval
        return "held"

    def _approval(self, approval_id: str) -> Approval | None:
        approval = self._approvals.get(approval_id)
        if approval is not None and self._live(approval.sid) is None:
            del self._approvals[approval_id]
            return None
        return approval

    async def get_approval(self, approval_id: str) -> Approval | None:
        return self._approval(approval_id)

    async def list_approvals(self, project: str, *, limit: int) -> list[Approval]:
        found = [a for a in list(self._approvals.values()) if a.project == project and self._approval(a.approval_id)]
        return sorted(found, key=lambda a: a.created_at, reverse=True)[:limit]

    async def decide_approval(
        self, approval_id: str, status: str, *, by: str, at: int, note: str | None
    ) -> tuple[Approval, bool] | None:
        approval = self._approval(approval_id)
        if approval is None:
            return None
        if approval.state(at) != "pending":
            return approval, False
        decided = replace(approval, status=status, decided_by=by, decided_at=at, note=note)
        self._approvals[approval_id] = decided
        return decided, True

    async def use_approval(self, sid: str, tool: str, args_sha256: str, now: int) -> Approval | None:
        for approval in list(self._approvals.values()):
            if (approval.sid, approval.tool, approval.args_sha256) == (sid, tool, args_sha256) \
                    and approval.state(now) == "approved" and self._live(sid) is not None:
                used = replace(approval, status="used")
                self._approvals[approval.approval_id] = used
                return used
        return None


async def _ready(outcome: Commit) -> Commit:
    return outcome
