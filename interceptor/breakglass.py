"""Break-glass: a named person lets one session's denied calls through, for a bounded time, for a reason.

Opened over the admin API (``sentinel breakglass open``) by someone the
project's policy names (``breakglass.openers``), with a reason code and a
written justification, for at most ``breakglass.max_minutes``; each person
waits ``cooldown_minutes`` between openings and opens at most ``per_day`` a
day. While it is open, a call of that session that the policy would deny or
hold runs, if its tool is one ``breakglass.tools`` covers; its audit record's
rule is ``breakglass:<id>``. Opening and closing are announced at once
(``Events``: the audit trail and the webhook); the records stay for review.

It must never let through a call of another session, a tool the project does
not define, or anything after the grant's end; and it never widens anything
when the state store cannot answer (the call fails closed like any other).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from interceptor.errors import BadRequest, InterceptorError, NotFound
from interceptor.events import Events
from interceptor.state import BreakGlass, Session, StateStore
from sentinel_policy import REASON_CODES, CompiledPolicy, Counter, Limit

__all__ = ["BreakGlassDesk", "BreakGlassRefused"]

MAX_JUSTIFICATION = 2000
MIN_JUSTIFICATION = 10


class BreakGlassRefused(InterceptorError):
    status = 403
    default_code = "breakglass_refused"


class BreakGlassConflict(InterceptorError):
    status = 409
    default_code = "breakglass_conflict"


class BreakGlassQuota(InterceptorError):
    status = 429
    default_code = "breakglass_quota"


@dataclass(frozen=True, slots=True)
class BreakGlassDesk:
    state: StateStore
    events: Events
    clock: Callable[[], float] = time.time

    async def open(
        self, policy: CompiledPolicy, session: Session, *, by: str, reason_code: Any, justification: Any,
        minutes: Any,
    ) -> BreakGlass:
        rules = policy.breakglass
        if rules is None:
            raise BreakGlassRefused("this project's policy allows no break-glass (no breakglass.openers)")
        if not rules.may_open(by):
            raise BreakGlassRefused(f"{by} may not open break-glass in this project (the policy's openers)")
        if reason_code not in REASON_CODES:
            raise BadRequest(f"'reason_code' is one of {', '.join(REASON_CODES)}", code="invalid_reason_code")
        if not isinstance(justification, str) or len(justification.strip()) < MIN_JUSTIFICATION:
            raise BadRequest(f"a justification of at least {MIN_JUSTIFICATION} characters is required",
                             code="justification_required")
        if len(justification) > MAX_JUSTIFICATION:
            raise BadRequest(f"'justification' is at most {MAX_JUSTIFICATION} characters", code="invalid_body")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= rules.max_minutes:
            raise BadRequest(f"'minutes' is a whole number from 1 to {rules.max_minutes} (the policy's max_minutes)",
                             code="invalid_minutes")
        now = int(self.clock())
        if await self.state.active_breakglass(session.sid, now) is not None:  # before the quota counts it
            raise BreakGlassConflict("this session has break-glass open already", code="breakglass_open")
        await self._count_opening(session.project, by, rules.cooldown_minutes, rules.per_day, now)
        grant = BreakGlass(
            grant_id=secrets.token_urlsafe(12), project=session.project, sid=session.sid, opened_by=by,
            reason_code=reason_code, justification=justification.strip(), opened_at=now,
            expires_at=min(now + minutes * 60, session.expires_at),
        )
        outcome = await self.state.open_breakglass(grant)
        if outcome == "already_open":
            raise BreakGlassConflict("this session has break-glass open already", code="breakglass_open")
        if outcome != "opened":
            raise NotFound("no such session (unknown, expired or ended)", code="session_not_found")
        self._announce("breakglass.opened", grant)
        return grant

    async def _count_opening(self, project: str, by: str, cooldown_minutes: int, per_day: int, now: int) -> None:
        """One opening against the person's day quota and cooldown, or 429 naming which."""
        who = hashlib.sha256(f"{project}\0{by}".encode()).hexdigest()[:32]
        day = now // 86_400
        quota = Counter(f"breakglass-day:{who}:{day}", Limit("breakglass-per-day", "agent", per_day, 86_400),
                        (day + 1) * 86_400)
        if wait := await self.state.count([quota], now):
            raise _refused(f"{by} has opened break-glass {per_day} times today (the policy's per_day)", wait)
        if cooldown_minutes:
            window = cooldown_minutes * 60
            cooldown = Counter(f"breakglass-cooldown:{who}:{now // window}",
                               Limit("breakglass-cooldown", "agent", 1, window), (now // window + 1) * window)
            if wait := await self.state.count([cooldown], now):
                raise _refused(f"{by} opened break-glass less than {cooldown_minutes} minutes ago (cooldown)", wait)

    async def close(self, grant_id: str, *, by: str) -> BreakGlass:
        await self.get(grant_id)  # 404 for an unknown one
        closed = await self.state.close_breakglass(grant_id, by=by, at=int(self.clock()))
        if closed is None or closed.closed_by != by or closed.closed_at is None:
            raise BreakGlassConflict("this break-glass is closed or over already", code="breakglass_not_open")
        self._announce("breakglass.closed", closed)
        return closed

    async def active(self, session: Session) -> BreakGlass | None:
        return await self.state.active_breakglass(session.sid, int(self.clock()))

    async def get(self, grant_id: str) -> BreakGlass:
        grant = await self.state.get_breakglass(grant_id) if 0 < len(grant_id) <= 64 else None
        if grant is None:
            raise NotFound("no such break-glass", code="breakglass_not_found")
        return grant

    async def list(self, project: str, *, limit: int = 100) -> list[BreakGlass]:
        return await self.state.list_breakglass(project, limit=limit)

    def view(self, grant: BreakGlass) -> dict[str, Any]:
        now = self.clock()
        return {
            "breakglass_id": grant.grant_id, "project": grant.project, "session_id": grant.sid,
            "status": "open" if grant.active(now) else "closed" if grant.closed_at else "expired",
            "opened_by": grant.opened_by, "reason_code": grant.reason_code, "justification": grant.justification,
            "opened_at": grant.opened_at, "expires_at": grant.expires_at, "closed_at": grant.closed_at,
            "closed_by": grant.closed_by, "audit_rule": f"breakglass:{grant.grant_id}",
        }

    def _announce(self, event: str, grant: BreakGlass) -> None:
        self.events.emit(event, "breakglass", {
            "breakglass_id": grant.grant_id, "project": grant.project, "sid": grant.sid, "by": grant.closed_by
            or grant.opened_by, "reason_code": grant.reason_code, "justification": grant.justification[:512],
            "expires_at": grant.expires_at})


def _refused(message: str, wait: int) -> BreakGlassQuota:
    error = BreakGlassQuota(message, retryable=False, retry_after=wait)
    error.headers = ((b"retry-after", str(wait).encode()),)
    return error
