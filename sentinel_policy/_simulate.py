"""Replaying a recorded session through the engine, with the live interceptor's state semantics.

For each call, in order: decide; an allowed call commits its decision delta,
then "executes" (its recorded output feeds ``observe``) and commits that
delta; a denied or held call changes nothing and does not execute; the next
call is decided anyway: the lifecycle the package docstring draws, which the interceptor follows.
It must never read anything but the tool, the arguments and the output of a
call (traces carry ground truth the simulator must not see), do I/O, or read
the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sentinel_policy._compile import CompiledPolicy
from sentinel_policy._evaluate import evaluate, observe
from sentinel_policy._model import Decision, Effect, SessionFacts, ToolCall, apply_delta

# The words the eval README uses for effects.
VERDICTS = {Effect.ALLOW: "allow", Effect.DENY: "deny", Effect.REQUIRE_APPROVAL: "approval"}


def output_text(output: Any) -> str:
    if output is None:
        return ""
    return output if isinstance(output, str) else str(output)


def replay(
    policy: CompiledPolicy,
    calls: Iterable[Mapping[str, Any]],
    now: datetime,
    *,
    project: str = "",
    agent: str | None = None,
    facts: SessionFacts | None = None,
) -> tuple[list[Decision], SessionFacts]:
    """Decisions for ``calls`` ({tool, args|arguments, output}) in a session starting from ``facts``."""
    facts = facts or SessionFacts()
    decisions: list[Decision] = []
    for raw in calls:
        arguments = raw.get("args", raw.get("arguments")) or {}
        call = ToolCall(tool=str(raw.get("tool", "")), arguments=arguments if isinstance(arguments, Mapping) else {}, project=project, agent=agent)
        decision = evaluate(policy, call, facts, now)
        decisions.append(decision)
        if decision.effect is Effect.ALLOW:
            facts = apply_delta(facts, decision.delta)
            facts = apply_delta(facts, observe(policy, call, output_text(raw.get("output"))))
    return decisions, facts


def simulate_trace(policy: CompiledPolicy, trace: Mapping[str, Any], now: datetime, *, project: str = "", agent: str | None = None) -> dict[str, Any]:
    """One output line of `sentinel policy simulate` for one trace (a fresh session)."""
    calls = [
        {"tool": c.get("tool"), "args": c.get("args"), "output": c.get("output")}  # only what a gateway observes
        for c in trace.get("calls", ())
        if isinstance(c, Mapping)
    ]
    decisions, _ = replay(policy, calls, now, project=project, agent=agent)
    return {
        "id": trace.get("id"),
        "decisions": [
            {"tool": c["tool"], "decision": VERDICTS[d.effect], "rule": d.rule, "reason": d.reason}
            for c, d in zip(calls, decisions, strict=True)
        ],
    }
