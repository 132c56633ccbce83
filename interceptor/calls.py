"""One tool call, from decision to answer: the hot path of the policy enforcement point.

    session (lookup) -> decide and commit, signed while the commit is in flight (Sessions)
        -> forward -> observe the output -> commit its taint -> answer

This module must never forward a call whose decision was not committed
(``Sessions`` hands out a token only then), never show the agent output whose
taint could not be stored, never mark a failure retryable once the tool may have
run, and never log raw arguments (the audit trail carries their hash).

Policy work grows with the size of what it reads (a data-flow rule reads every
string of the arguments or the output), and the event loop serves every tenant: the hashing and
decision of a call whose arguments are over ``OFFLOAD_BYTES``, and the
observation of a result over it, run in :class:`PolicyWorker`'s one thread, so
one tenant's large calls cost the others turns of the loop, not whole
evaluations. Arguments are bounded before any of this (``routes.py``), and a
large call's decision is recomputed only a few times (``Sessions``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from interceptor import tracing
from interceptor.approvals import Approvals
from interceptor.audit import AuditLog, AuditRecord
from interceptor.breakglass import BreakGlassDesk
from interceptor.config import KeyHolder
from interceptor.errors import (
    BadRequest,
    InterceptorError,
    PolicyDenied,
    RateLimited,
    ServiceUnavailable,
    ToolServerError,
)
from interceptor.forwarding import ToolServerClient
from interceptor.limits import RateLimiter
from interceptor.metrics import InterceptorMetrics
from interceptor.projects import ProjectDirectory
from interceptor.sessions import Sessions, SignedCall
from interceptor.state import Session, StateStoreError
from sentinel_contract import ContractError, args_sha256, clip
from sentinel_policy import (
    CompiledPolicy,
    Decision,
    Effect,
    RuleEvalError,
    SessionFacts,
    ToolCall,
    evaluate,
    observe,
    override,
    release,
    strings,
)

__all__ = ["OFFLOAD_BYTES", "CallEnforcer", "CallOutcome", "PolicyWorker"]

# Arguments (compact JSON) or a result larger than this are worked on in PolicyWorker's thread:
# below it the hand-over costs more than the work; above it one call's evaluation would be felt
# by every other (docs/performance.md, "Tenant isolation").
OFFLOAD_BYTES = 4096
# A policy reason may quote the tool's name or an agent's value: answers quote this much of it at most.
MAX_REASON_CHARS = 1024
_T = TypeVar("_T")


class PolicyWorker:
    """One thread for the policy work of large calls; the event loop keeps serving everyone else.

    One, not more: the evaluator is pure Python and holds the GIL while it
    runs, so a second thread would add no throughput, only take more of the
    loop's turns. Large calls queue here; small calls never wait for them.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentinel-policy")

    async def run(self, work: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _digest(arguments: dict[str, Any]) -> str:
    try:
        return args_sha256(arguments)
    except ContractError as exc:
        raise BadRequest("arguments cannot be canonicalised as JSON (RFC 8785)", code="bad_arguments") from exc


@dataclass(frozen=True, slots=True)
class CallOutcome:
    status: int  # 200 executed, 202 held for approval
    body: dict[str, Any]


class CallEnforcer:
    def __init__(
        self,
        sessions: Sessions,
        directory: ProjectDirectory,
        upstream: ToolServerClient,
        audit: AuditLog,
        approvals: Approvals,
        limiter: RateLimiter,
        breakglass: BreakGlassDesk,
        worker: PolicyWorker | None = None,
        metrics: InterceptorMetrics | None = None,
    ) -> None:
        self._breakglass = breakglass
        self._sessions = sessions
        self._approvals = approvals
        self._limiter = limiter
        self._directory = directory
        self._upstream = upstream
        self._audit = audit
        self._worker = worker if worker is not None else PolicyWorker()
        self._metrics = metrics if metrics is not None else InterceptorMetrics()

    async def call(
        self, caller: KeyHolder, sid: str, tool: str, arguments: dict[str, Any], arguments_json: bytes, started: float
    ) -> CallOutcome:
        """Decide, commit, sign, forward and observe one call; InterceptorError for every refusal."""
        metrics = self._metrics
        trace = tracing.CallTrace(tool, sid) if tracing.SWITCH.on else None
        try:
            if not self._audit.accepting:  # its record could not be kept: nothing is decided unrecorded
                raise ServiceUnavailable("the audit trail cannot be written now", code="audit_unavailable")
            project = caller.project
            large = len(arguments_json) > OFFLOAD_BYTES
            digest = await self._worker.run(functools.partial(_digest, arguments)) if large else _digest(arguments)
            session, facts, fresh = await self._sessions.lookup(sid, project.name, agent=caller.agent)
            policy = self._directory.policy_for(project)
            pin = self._directory.pins(project).get(tool)  # a pinned tool's token always carries its pin
            call = ToolCall(tool=tool, arguments=arguments, project=project.name, agent=session.agent)
            audit = _CallAudit(self._audit, session, tool, digest, started)
            if policy.limits:  # no counters, no await: a policy without limits costs nothing here
                await self._limiter.admit(policy, project, session.agent, sid=sid, tool=tool)

            deciding = time.perf_counter()
            if trace is not None:
                trace.stage("decide")
            decision, signed = await self._decide(session, facts, fresh, policy, call, digest, pin, large)
            forwarding = time.perf_counter()
            metrics.decide.observe(forwarding - deciding)
            metrics.decided(decision)
            reason = clip(decision.reason, MAX_REASON_CHARS) or ""
            rule = clip(decision.rule, MAX_REASON_CHARS) or ""
            if trace is not None:
                trace.decided(decision, rule)
            if decision.effect is Effect.DENY:
                audit(decision, None, 403)
                metrics.total.observe(time.perf_counter() - started)
                raise PolicyDenied(reason, rule=rule)
            if decision.effect is Effect.REQUIRE_APPROVAL:
                approval = await self._approvals.hold(session, call, arguments_json, digest, decision, policy)
                audit(decision, None, 202)
                metrics.total.observe(time.perf_counter() - started)
                body = {"approval_id": approval.approval_id, "status": "pending", "rule": rule, "reason": reason,
                        "expires_at": approval.expires_at}
                return CallOutcome(202, body)
            if signed is None:  # an allow always carries its token; never forward unsigned
                raise InterceptorError("internal error")
            jti = signed.claims.jti
            try:
                context = trace.forwarding(jti) if trace is not None else None
                result, size = await self._upstream.forward_call(signed.token, jti, tool, arguments_json, context)
                if trace is not None:
                    trace.stage("observe")
                await self._observe(session, policy, call, result, large=size > OFFLOAD_BYTES)
            except InterceptorError as exc:
                audit(decision, jti, exc.status)
                raise
            audit(decision, jti, 200)
            ended = time.perf_counter()
            metrics.forward.observe(ended - forwarding)
            metrics.total.observe(ended - started)
            return CallOutcome(200, {"result": result, "decision": {"rule": rule, "reason": reason}, "jti": jti})
        except BaseException as exc:
            if isinstance(exc, StateStoreError):
                metrics.state_errors.inc()
            elif isinstance(exc, RateLimited):
                metrics.rate_limited.inc()
            if trace is not None:
                trace.failed(exc)
            raise
        finally:
            if trace is not None:
                trace.end()

    async def _decide(
        self, session: Session, facts: SessionFacts, fresh: bool, policy: CompiledPolicy, call: ToolCall,
        digest: str, pin: str | None, large: bool,
    ) -> tuple[Decision, SignedCall | None]:
        """The decision that holds, committed, and for an allow its token: the policy's, then a second chance
        when it refuses: a person's approval of exactly this call, or break-glass open for this session.
        Each second chance decides again on the facts as they are now, through the same commit."""

        def decide_and_commit(decide: Callable[[SessionFacts], Decision]) -> Awaitable[tuple[Decision, SignedCall | None]]:
            return self._sessions.decide_and_commit(
                session, facts, fresh, decide=decide, sign=lambda: self._sessions.sign_call(session, call, digest, pin),
                offload=self._worker.run if large else None,
            )

        def decide_now(facts: SessionFacts) -> Decision:
            return evaluate(policy, call, facts, datetime.now(UTC))

        decision, signed = await decide_and_commit(decide_now)
        if decision.effect is Effect.REQUIRE_APPROVAL and (granted := await self._approvals.use(session, call.tool, digest)):
            def decide_released(facts: SessionFacts) -> Decision:
                # The hold it meets again becomes the allow it was approved as (with an allow's state change).
                again = decide_now(facts)
                if again.effect is Effect.REQUIRE_APPROVAL and again.rule == granted.rule:
                    return release(policy, call, facts, again, granted.decided_by or "an approver")
                return again

            decision, signed = await decide_and_commit(decide_released)
        rules = policy.breakglass
        if decision.effect is not Effect.ALLOW and rules is not None and call.tool in policy.tools \
                and rules.covers(call.tool) and (grant := await self._breakglass.active(session)):
            def decide_let_through(facts: SessionFacts) -> Decision:
                # What the policy refuses now runs, named in the audit trail (rule breakglass:<id>).
                again = decide_now(facts)
                return again if again.allowed else override(policy, call, facts, again, grant.grant_id)

            decision, signed = await decide_and_commit(decide_let_through)
        return decision, signed

    async def _observe(
        self, session: Session, policy: CompiledPolicy, call: ToolCall, result: dict[str, Any], *, large: bool
    ) -> None:
        """Store what the tool's output taints before the agent may read it.

        Untrusted content never reaches the agent while the session still looks
        clean: output that cannot be checked, or whose taint cannot be stored, is
        withheld. The tool has run by then, so neither failure is retryable.
        """
        text = functools.partial(_output_text, result)  # built only if the policy reads it
        try:
            if large:
                delta = await self._worker.run(functools.partial(observe, policy, call, text))
            else:
                delta = observe(policy, call, text)
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


@dataclass(slots=True)  # not frozen: built for every call, and a frozen __init__ costs twice as much
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
