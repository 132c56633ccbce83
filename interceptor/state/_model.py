"""What the state store keeps (sessions, approvals, commit outcomes), and the interface every backend implements."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

from interceptor.errors import ServiceUnavailable
from sentinel_policy import Counter, SessionFacts

__all__ = ["APPROVAL_STATES", "BREAKGLASS_KEPT_SECONDS", "Approval", "ApprovalBounds", "BreakGlass", "Commit", "Session", "StateStore", "StateStoreError"]


class StateStoreError(ServiceUnavailable):
    """The state store cannot be reached or answered nonsense: the call fails closed (503)."""

    default_code = "state_unavailable"


@dataclass(frozen=True, slots=True)
class Session:
    """What any replica needs to serve a session; the private key is sealed, never stored in clear."""

    sid: str
    project: str
    sealed_key: bytes
    public_key: str
    expires_at: int  # unix seconds; the store forgets the session then
    ended: bool = False
    # Who runs the session, declared by the application when it starts it (never by the
    # model: a prompt cannot change it); what `agent:` conditions match. None: undeclared.
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class Commit:
    """The outcome of a compare-and-set of session facts.

    ``ok``: committed, ``facts`` is what is now stored. Not ``ok`` with facts:
    the version moved on (another call committed first); ``facts`` is the
    current state, so the caller re-decides without another round trip. Not
    ``ok`` without facts: the session is gone (ended or expired).
    """

    ok: bool
    facts: SessionFacts | None


APPROVAL_STATES = ("pending", "approved", "denied", "expired", "used")
BREAKGLASS_KEPT_SECONDS = 30 * 86_400  # a break-glass record stays for the review after it


@dataclass(frozen=True, slots=True)
class Approval:
    """A call the policy holds for a person's decision; nothing executes until it is approved.

    Bound to its session, tool and argument hash. ``approved`` lets exactly that
    call run once (then ``used``); ``pending`` or ``approved`` past ``expires_at``
    reads as ``expired``. The arguments are sealed at rest like session keys, so
    the store alone cannot show them. Ending the session removes its approvals.
    """

    approval_id: str
    sid: str
    project: str
    tool: str
    sealed_arguments: bytes
    args_sha256: str
    rule: str
    reason: str
    created_at: int
    expires_at: int
    agent: str | None = None
    status: str = "pending"
    decided_by: str | None = None
    decided_at: int | None = None
    note: str | None = None

    def state(self, now: float) -> str:
        """The status as of ``now``: a pending or unused approval past its expiry is ``expired``."""
        if self.status in ("pending", "approved") and now >= self.expires_at:
            return "expired"
        return self.status


@dataclass(frozen=True, slots=True)
class BreakGlass:
    """A person let one session's denied calls through, for a while, for a stated reason."""

    grant_id: str
    project: str
    sid: str
    opened_by: str
    reason_code: str
    justification: str
    opened_at: int
    expires_at: int
    closed_at: int | None = None
    closed_by: str | None = None

    def active(self, now: float) -> bool:
        return self.closed_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class ApprovalBounds:
    """How many pending approvals a session and a project may hold at once; ``window``: how long the
    project's list of approvals (of any state) is kept for ``list_approvals``."""

    per_session: int
    per_project: int
    window: int


class StateStore(Protocol):
    """What ``open_state_store`` answers; every backend implements all of it."""

    async def close(self) -> None:
        """Release what the store holds (its Redis connections)."""

    async def create_session(self, session: Session) -> None: ...

    async def load(self, sid: str) -> tuple[Session, SessionFacts] | None:
        """The session and its facts in one round trip; None when unknown or expired."""

    def begin_commit(self, sid: str, expected_version: int, new_facts: SessionFacts) -> Awaitable[Commit]:
        """Store ``new_facts`` only if the stored version is still ``expected_version``.

        The compare-and-set is sent before this returns; its outcome is awaited
        later, so the caller may work while the store runs it (``Sessions`` signs
        the call then). The returned awaitable must always be awaited.
        """

    async def end_session(self, sid: str) -> bool:
        """Mark the session ended and remove its approvals; False when it did not exist."""

    async def count(self, counters: Sequence[Counter], now: int) -> int:
        """Add one to every counter, all or none: 0 when counted, else the seconds until one is free again."""

    async def open_breakglass(self, grant: BreakGlass) -> str:
        """Keep ``grant`` (and its record for review, ``BREAKGLASS_KEPT_SECONDS``): ``opened``, or
        ``already_open`` (the session has an active one) or ``no_session`` (gone or ended)."""

    async def get_breakglass(self, grant_id: str) -> BreakGlass | None: ...

    async def list_breakglass(self, project: str, *, limit: int) -> list[BreakGlass]:
        """The project's break-glass records, newest first, open or not."""

    async def active_breakglass(self, sid: str, now: int) -> BreakGlass | None:
        """The session's open, unexpired break-glass, if any."""

    async def close_breakglass(self, grant_id: str, *, by: str, at: int) -> BreakGlass | None:
        """Close it if still active; answer it as stored now (None when unknown)."""

    async def list_sessions(self, project: str, *, limit: int) -> list[tuple[Session, SessionFacts]]:
        """The project's live (unexpired, not ended) sessions and their facts, newest first."""

    async def hold_approval(self, approval: Approval, bounds: ApprovalBounds) -> str:
        """Keep ``approval`` while its session lives: ``held``, or why not (``session_full``,
        ``project_full``, ``no_session`` when the session is gone or ended)."""

    async def get_approval(self, approval_id: str) -> Approval | None: ...

    async def list_approvals(self, project: str, *, limit: int) -> list[Approval]:
        """The project's approvals of the last bounds window, newest first."""

    async def decide_approval(
        self, approval_id: str, status: str, *, by: str, at: int, note: str | None
    ) -> tuple[Approval, bool] | None:
        """Move a pending, unexpired approval to ``status`` (approved or denied); answer it as stored now
        and whether this call moved it (False: it was not pending, or has expired). None when unknown."""

    async def use_approval(self, sid: str, tool: str, args_sha256: str, now: int) -> Approval | None:
        """Mark the approved, unexpired approval of exactly this call ``used`` and answer it; None when
        there is none. At most one caller ever gets it."""

    async def ping(self) -> None:
        """Raise StateStoreError when the store is unreachable."""
