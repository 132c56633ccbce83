"""Held calls and the people who release them (docs/approvals.md).

A call the policy holds becomes a pending approval bound to its session, tool
and argument hash, with an expiry (the policy's ``approvals.ttl_seconds``, at
most the session's life). An approver with an admin key approves or denies it
(``sentinel approvals`` or ``/admin/approvals``); who may is set in the policy
(``may_approve``). Approved, exactly that call may then run once: the agent
calls it again, the same tool with the same arguments in the same session, and
``use`` hands the approval to that one call (atomically, across replicas).
Every state change is audited and, when a webhook is configured, announced.

This module must never let an approval run another call than the one held,
run twice, or outlive its session; and it never logs or returns the held
arguments except to an approver who asks to see them (they are sealed at rest).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from interceptor.errors import BadRequest, InterceptorError, NotFound
from interceptor.events import Events
from interceptor.signing import KeySealer
from interceptor.state import Approval, ApprovalBounds, Session, StateStore
from sentinel_contract import clip
from sentinel_policy import CompiledPolicy, Decision, ToolCall, may_approve

__all__ = ["ApprovalConflict", "Approvals", "ApproverRefused", "TooManyApprovals"]


class TooManyApprovals(InterceptorError):
    status = 429
    default_code = "approval_limit"


class ApprovalConflict(InterceptorError):
    status = 409
    default_code = "approval_not_pending"


class ApproverRefused(InterceptorError):
    status = 403
    default_code = "not_an_approver"


@dataclass(frozen=True, slots=True)
class Approvals:
    state: StateStore
    sealer: KeySealer
    events: Events
    bounds: ApprovalBounds
    clock: Callable[[], float] = time.time

    async def hold(
        self, session: Session, call: ToolCall, arguments_json: bytes, digest: str, decision: Decision,
        policy: CompiledPolicy,
    ) -> Approval:
        """A pending approval for this call; 429 ``approval_limit`` when the session or project holds too many."""
        now = int(self.clock())
        approval_id = secrets.token_urlsafe(16)
        approval = Approval(
            approval_id=approval_id,
            sid=session.sid,
            project=session.project,
            tool=call.tool,
            sealed_arguments=self.sealer.seal_data(approval_id, arguments_json),
            args_sha256=digest,
            rule=decision.rule,
            reason=clip(decision.reason, 1024) or "",
            created_at=now,
            expires_at=min(now + policy.approval_ttl, session.expires_at),
            agent=session.agent,
        )
        outcome = await self.state.hold_approval(approval, self.bounds)
        if outcome == "session_full":
            raise TooManyApprovals(f"this session already has {self.bounds.per_session} calls waiting for approval",
                                   retryable=False)
        if outcome == "project_full":
            raise TooManyApprovals(f"this project already has {self.bounds.per_project} calls waiting for approval",
                                   retryable=False)
        if outcome != "held":
            raise NotFound("no such session (unknown, expired or ended)", code="session_not_found")
        self._announce("approval.pending", approval, approval.created_at)
        return approval

    async def use(self, session: Session, tool: str, digest: str) -> Approval | None:
        """The approval of exactly this call, taken for this one execution; None when there is none."""
        used = await self.state.use_approval(session.sid, tool, digest, int(self.clock()))
        if used is not None:
            self._announce("approval.used", used, int(self.clock()))
        return used

    async def list(self, project: str, *, limit: int = 100) -> list[Approval]:
        return await self.state.list_approvals(project, limit=limit)

    async def get(self, approval_id: str) -> Approval:
        approval = await self.state.get_approval(approval_id) if _well_formed(approval_id) else None
        if approval is None:
            raise NotFound("no such approval (unknown, or its session ended)", code="approval_not_found")
        return approval

    def arguments(self, approval: Approval) -> Any:
        """The held call's arguments, for the approver who decides on them."""
        return orjson.loads(self.sealer.open_data(approval.approval_id, approval.sealed_arguments))

    async def decide(
        self, approval_id: str, verdict: str, *, by: str, note: str | None, policy: CompiledPolicy
    ) -> Approval:
        """Approve or deny a pending approval; 403 for someone the policy does not name, 409 when not pending."""
        if verdict not in ("approved", "denied"):
            raise BadRequest("a decision is approve or deny", code="invalid_decision")
        self.check_approver(await self.get(approval_id), by, policy)
        now = int(self.clock())
        outcome = await self.state.decide_approval(approval_id, verdict, by=by, at=now, note=note)
        if outcome is None:
            raise NotFound("no such approval (unknown, or its session ended)", code="approval_not_found")
        decided, decided_now = outcome
        if not decided_now:  # decided before (even by the same person a moment ago), or expired
            raise ApprovalConflict(f"the approval is {decided.state(now)}, not pending", state=decided.state(now))
        self._announce(f"approval.{verdict}", decided, now)
        return decided

    @staticmethod
    def check_approver(approval: Approval, by: str, policy: CompiledPolicy) -> None:
        """403 for an admin the policy does not name as an approver of what ``approval`` holds."""
        if not may_approve(policy, approval.tool, approval.rule, by):
            raise ApproverRefused(f"{by} may not approve what rule {approval.rule} holds (the policy's approvers)")

    def view(self, approval: Approval, *, with_arguments: bool = False) -> dict[str, Any]:
        """What the admin API and the CLI show of an approval."""
        view: dict[str, Any] = {
            "approval_id": approval.approval_id,
            "status": approval.state(self.clock()),
            "project": approval.project,
            "session_id": approval.sid,
            "agent": approval.agent,
            "tool": approval.tool,
            "args_sha256": approval.args_sha256,
            "rule": approval.rule,
            "reason": approval.reason,
            "created_at": approval.created_at,
            "expires_at": approval.expires_at,
            "decided_by": approval.decided_by,
            "decided_at": approval.decided_at,
            "note": approval.note,
        }
        if with_arguments:
            view["arguments"] = self.arguments(approval)
        return view

    def _announce(self, event: str, approval: Approval, at: int) -> None:
        fields = {"approval_id": approval.approval_id, "project": approval.project, "sid": approval.sid,
                  "tool": clip(approval.tool), "args_sha256": approval.args_sha256, "rule": clip(approval.rule),
                  "agent": clip(approval.agent), "by": clip(approval.decided_by), "note": clip(approval.note, 1024),
                  "expires_at": approval.expires_at}
        self.events.emit(event, "approval", fields)


def _well_formed(approval_id: str) -> bool:
    return 0 < len(approval_id) <= 64 and all(c.isalnum() or c in "-_" for c in approval_id)
