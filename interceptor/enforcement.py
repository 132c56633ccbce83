"""One tool call, from decision to forwarded result: the policy enforcement point.

    load -> evaluate (pure) -> commit the delta with compare-and-set (re-decide on stale),
         signing while the commit is in flight -> forward -> observe the output
         -> commit its delta the same way

The commit is the linearisation point: a call is allowed only if the facts it
was decided on are still current when its effects are stored, so a check and
the taint it causes are one atomic step and no call can race past a rule.
That is also what makes the per-replica session cache safe: an allowed call
decided on cached facts is committed against their version (one round trip
in the common case; a stale version answers with fresh facts), and a denial
or approval decided on cached facts is decided again on facts loaded from
the store, so nobody is refused on facts that are out of date. This
module must never forward a call whose decision it could not commit, never
commit anything for a denied call, and never log raw arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Callable
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
    ServiceUnavailable,
    SessionNotFound,
    ToolServerError,
)
from interceptor.forwarding import ToolServerClient
from interceptor.policy import (
    CompiledPolicy,
    Decision,
    Effect,
    RuleEvalError,
    SessionFacts,
    StateDelta,
    ToolCall,
    apply_delta,
    evaluate,
    observe,
    strings,
)
from interceptor.projects import ProjectDirectory
from interceptor.sessions import Sessions
from interceptor.state import Approval, StateStore
from sentinel_contract import CallClaims, ContractError, args_sha256, sign_call

__all__ = ["CallEnforcer", "CallOutcome", "MAX_COMMIT_TRIES"]

MAX_COMMIT_TRIES = 50


@dataclass(frozen=True, slots=True)
class CallOutcome:
    status: int  # 200 executed, 202 parked for approval
    body: dict[str, Any]


class CallEnforcer:
    def __init__(
        self,
        sessions: Sessions,
        state: StateStore,
        directory: ProjectDirectory,
        upstream: ToolServerClient,
        audit: AuditLog,
        *,
        interceptor_id: str,
        mcp_id: str,
        call_ttl: int,
    ) -> None:
        self._sessions = sessions
        self._state = state
        self._directory = directory
        self._upstream = upstream
        self._audit = audit
        self._iss = interceptor_id
        self._aud = mcp_id
        self._call_ttl = call_ttl

    async def call(
        self, project: Project, sid: str, tool: str, arguments: dict[str, Any], arguments_json: bytes, started: float
    ) -> CallOutcome:
        try:
            digest = args_sha256(arguments)
        except ContractError as exc:
            raise BadRequest("arguments cannot be canonicalised as JSON (RFC 8785)", code="bad_arguments") from exc
        record, facts, fresh = await self._sessions.lookup(sid, project.name)
        policy = self._directory.policy_for(project)
        call = ToolCall(tool=tool, arguments=arguments, project=project.name, agent=record.agent)

        def audit(decision: Decision, jti: str | None, status: int) -> None:
            self._audit.write(
                AuditRecord(
                    project=project.name,
                    sid=sid,
                    tool=tool,
                    args_sha256=digest,
                    decision=decision.effect.value,
                    rule=decision.rule,
                    reason=decision.reason,
                    jti=jti,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    status=status,
                    agent=record.agent,
                )
            )

        def sign() -> tuple[str, CallClaims]:
            pair = self._sessions.keyring.key_for(sid, record.sealed_key)
            return sign_call(
                pair, iss=self._iss, aud=self._aud, sid=sid, tool=tool, arguments=arguments,
                ttl=self._call_ttl, digest=digest,
            )

        decision, signed = await self._decide(sid, project.name, policy, call, facts, fresh, sign)
        if decision.effect is Effect.DENY:
            audit(decision, None, 403)
            raise PolicyDenied(decision.rule, decision.reason)
        if decision.effect is Effect.REQUIRE_APPROVAL:
            approval_id = await self._park(record.expires_at, sid, project.name, call, arguments_json, digest, decision)
            audit(decision, None, 202)
            body = {"approval_id": approval_id, "status": "pending", "rule": decision.rule, "reason": decision.reason}
            return CallOutcome(202, body)
        if signed is None:  # an allow always carries its token; never forward unsigned
            raise InterceptorError("internal error")
        token, claims = signed
        try:
            result = await self._upstream.call_tool(token, claims.jti, tool, arguments_json)
        except InterceptorError as exc:
            audit(decision, claims.jti, exc.status)
            raise
        try:
            delta = observe(policy, call, lambda: _output_text(result))  # built only if the policy reads it
        except RuleEvalError as exc:  # nested past what can be checked: not checked, so not shown
            audit(decision, claims.jti, 502)
            raise ToolServerError(
                "the tool's result cannot be checked", code="tool_result_unreadable", retryable=False
            ) from exc
        if not delta.is_empty:
            # Withhold the output unless its taint is stored: untrusted content never
            # reaches the agent while the session still looks clean.
            try:
                await self._record(sid, delta)
            except InterceptorError as exc:
                exc.retryable = False  # the tool ran: a retry would run it again
                audit(decision, claims.jti, exc.status)
                raise
        audit(decision, claims.jti, 200)
        return CallOutcome(
            200, {"result": result, "decision": {"rule": decision.rule, "reason": decision.reason}, "jti": claims.jti}
        )

    async def _decide(
        self,
        sid: str,
        project: str,
        policy: CompiledPolicy,
        call: ToolCall,
        facts: SessionFacts,
        fresh: bool,
        sign: Callable[[], tuple[str, CallClaims]],
    ) -> tuple[Decision, tuple[str, CallClaims] | None]:
        """The decision that holds, and for an allow the call's token (signed once, never sent otherwise)."""
        cache = self._sessions.cache
        signed: tuple[str, CallClaims] | None = None
        for attempt in range(MAX_COMMIT_TRIES):
            decision = evaluate(policy, call, facts, datetime.now(UTC))
            if decision.effect is not Effect.ALLOW:
                if not fresh:
                    # Decided on cached facts: refuse only on what the store holds now
                    # (and answer 404, not 403, for a session ended elsewhere).
                    facts, fresh = (await self._sessions.resolve(sid, project))[1], True
                    continue
                return decision, None  # deny and approval commit nothing, sign nothing
            # Committed even when the delta changes nothing: the version check is what
            # orders this call before any taint committed after its facts were read.
            committing = self._state.begin_commit(sid, facts.version, apply_delta(facts, decision.delta))
            # Signed while the store runs the commit (the call's longest wait). The token
            # leaves this process only if the commit holds; a stale commit re-decides.
            try:
                if signed is None:
                    signed = sign()
            except BaseException:
                with contextlib.suppress(Exception):
                    await committing  # always awaited; the signing error is the one to report
                raise
            outcome = await committing
            if outcome.ok:
                if outcome.facts is not None:
                    cache.saw(sid, outcome.facts)
                return decision, signed
            if outcome.facts is None:
                cache.forget(sid)
                raise SessionNotFound()
            facts, fresh = outcome.facts, True
            cache.saw(sid, facts)
            await _backoff(attempt)
        raise ServiceUnavailable("too many concurrent calls in this session; retry", code="contention")

    async def _record(self, sid: str, delta: StateDelta) -> None:
        cache = self._sessions.cache
        cached = cache.get(sid)
        if cached is not None:
            facts = cached[1]  # a stale version only costs a retry: the store answers with the current facts
        else:
            loaded = await self._state.load(sid)
            if loaded is None:
                raise SessionNotFound()
            facts = loaded[1]
        for attempt in range(MAX_COMMIT_TRIES):
            outcome = await self._state.begin_commit(sid, facts.version, apply_delta(facts, delta))
            if outcome.ok:
                if outcome.facts is not None:
                    cache.saw(sid, outcome.facts)
                return
            if outcome.facts is None:
                cache.forget(sid)
                raise SessionNotFound()
            facts = outcome.facts
            cache.saw(sid, facts)
            await _backoff(attempt)
        raise ServiceUnavailable("too many concurrent calls in this session; retry", code="contention")

    async def _park(
        self,
        expires_at: int,
        sid: str,
        project: str,
        call: ToolCall,
        arguments_json: bytes,
        digest: str,
        decision: Decision,
    ) -> str:
        approval = Approval(
            approval_id=secrets.token_urlsafe(16),
            sid=sid,
            project=project,
            tool=call.tool,
            arguments_json=arguments_json,
            args_sha256=digest,
            rule=decision.rule,
            reason=decision.reason,
            created_at=int(time.time()),
            expires_at=expires_at,
        )
        await self._state.put_approval(approval)
        return approval.approval_id


async def _backoff(attempt: int) -> None:
    # The first retries are immediate (the store answered with fresh facts);
    # after that, jitter spreads the contenders out.
    if attempt >= 2:
        await asyncio.sleep(random.uniform(0, 0.0005 * min(attempt, 20)))


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
