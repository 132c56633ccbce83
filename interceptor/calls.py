"""One tool call, from decision to answer: the hot path of the policy enforcement point.

    session (lookup) -> decide and commit, signed while the commit is in flight (Sessions)
        -> forward -> observe the output -> commit its taint -> answer

This module must never forward a call whose decision was not committed
(``Sessions`` hands out a token only then), never show the agent output whose
taint could not be stored, never mark a failure retryable once the tool may have
run, and never log raw arguments (the audit trail carries their hash).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from interceptor.audit import AuditLog, AuditRecord
from interceptor.config import Project
from interceptor.errors import (
    BadRequest,
    InterceptorError,
    PolicyDenied,
    ToolServerError,
)
from interceptor.forwarding import ToolServerClient
from interceptor.projects import ProjectDirectory
from interceptor.sessions import Sessions
from interceptor.state import Session
from sentinel_contract import ContractError, args_sha256
from sentinel_policy import (
    CompiledPolicy,
    Decision,
    Effect,
    RuleEvalError,
    ToolCall,
    evaluate,
    observe,
    strings,
)

__all__ = ["CallEnforcer", "CallOutcome"]


@dataclass(frozen=True, slots=True)
class CallOutcome:
    status: int  # 200 executed, 202 held for approval
    body: dict[str, Any]


class CallEnforcer:
    def __init__(
        self, sessions: Sessions, directory: ProjectDirectory, upstream: ToolServerClient, audit: AuditLog
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._upstream = upstream
        self._audit = audit

    async def call(
        self, project: Project, sid: str, tool: str, arguments: dict[str, Any], arguments_json: bytes, started: float
    ) -> CallOutcome:
        """Decide, commit, sign, forward and observe one call; InterceptorError for every refusal."""
        try:
            digest = args_sha256(arguments)
        except ContractError as exc:
            raise BadRequest("arguments cannot be canonicalised as JSON (RFC 8785)", code="bad_arguments") from exc
        session, facts, fresh = await self._sessions.lookup(sid, project.name)
        policy = self._directory.policy_for(project)
        call = ToolCall(tool=tool, arguments=arguments, project=project.name, agent=session.agent)
        audit = _CallAudit(self._audit, session, tool, digest, started)

        decision, signed = await self._sessions.decide_and_commit(
            session,
            facts,
            fresh,
            decide=lambda facts: evaluate(policy, call, facts, datetime.now(UTC)),
            sign=lambda: self._sessions.sign_call(session, call, digest),
        )
        if decision.effect is Effect.DENY:
            audit(decision, None, 403)
            raise PolicyDenied(decision.reason, rule=decision.rule)
        if decision.effect is Effect.REQUIRE_APPROVAL:
            approval_id = await self._sessions.hold_for_approval(session, call, arguments_json, digest, decision)
            audit(decision, None, 202)
            body = {"approval_id": approval_id, "status": "pending", "rule": decision.rule, "reason": decision.reason}
            return CallOutcome(202, body)
        if signed is None:  # an allow always carries its token; never forward unsigned
            raise InterceptorError("internal error")
        jti = signed.claims.jti
        try:
            result = await self._upstream.call_tool(signed.token, jti, tool, arguments_json)
            await self._observe(session, policy, call, result)
        except InterceptorError as exc:
            audit(decision, jti, exc.status)
            raise
        audit(decision, jti, 200)
        return CallOutcome(
            200, {"result": result, "decision": {"rule": decision.rule, "reason": decision.reason}, "jti": jti}
        )

    async def _observe(self, session: Session, policy: CompiledPolicy, call: ToolCall, result: dict[str, Any]) -> None:
        """Store what the tool's output taints before the agent may read it.

        Untrusted content never reaches the agent while the session still looks
        clean: output that cannot be checked, or whose taint cannot be stored, is
        withheld. The tool has run by then, so neither failure is retryable.
        """
        try:
            delta = observe(policy, call, lambda: _output_text(result))  # built only if the policy reads it
        except RuleEvalError as exc:  # nested past what can be checked: not checked, so not shown
            raise ToolServerError(
                "the tool's result cannot be checked", code="tool_result_unreadable", retryable=False
            ) from exc
        if delta.is_empty:
            return
        try:
            await self._sessions.commit(session, delta)
        except InterceptorError as exc:
            exc.retryable = False  # the tool ran: a retry would run it again
            raise


@dataclass(frozen=True, slots=True)
class _CallAudit:
    """Writes the call's one audit line (the argument hash, never the arguments)."""

    log: AuditLog
    session: Session
    tool: str
    digest: str
    started: float

    def __call__(self, decision: Decision, jti: str | None, status: int) -> None:
        self.log.write(
            AuditRecord(
                project=self.session.project,
                sid=self.session.sid,
                tool=self.tool,
                args_sha256=self.digest,
                decision=decision.effect.value,
                rule=decision.rule,
                reason=decision.reason,
                jti=jti,
                latency_ms=(time.perf_counter() - self.started) * 1000,
                status=status,
                agent=self.session.agent,
            )
        )


def _output_text(result: dict[str, Any]) -> str:
    """Everything in a tool's result that the agent will read, as text for ``observe``.

    The agent gets the whole result, so all of it is observed: text items, the
    text of embedded resources, and every key and string of ``structuredContent``
    as it is (never JSON-escaped: a newline before an address stays a newline).
    A text item that is just the JSON of ``structuredContent`` (what MCP servers
    send alongside it) is read once, not twice. Raises RuleEvalError for a
    structure nested past what rules look at.
    """
    structured = result.get("structuredContent")
    parts: list[str] = []
    content = result.get("content")
    if isinstance(content, list):
        for item in content:
            if not isinstance(item, dict):
                continue
            text = item.get("text")
            if isinstance(text, str) and not (structured is not None and _is_json_of(text, structured)):
                parts.append(text)
            resource = item.get("resource")
            if isinstance(resource, dict) and isinstance(resource.get("text"), str):
                parts.append(resource["text"])
    if structured is not None:
        parts.extend(strings(structured, keys=True))
    return "\n".join(parts)


def _is_json_of(text: str, value: Any) -> bool:
    if not text.startswith(("{", "[")):
        return False
    try:
        return bool(orjson.loads(text) == value)
    except orjson.JSONDecodeError:
        return False
