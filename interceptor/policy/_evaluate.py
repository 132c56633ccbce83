"""The evaluator: one call, the compiled policy and the session facts in; a decision out."""

from __future__ import annotations

from datetime import datetime

from interceptor.policy._compile import CompiledPolicy
from interceptor.policy._model import EMPTY_DELTA, Decision, Effect, SessionFacts, StateDelta, ToolCall


def evaluate(policy: CompiledPolicy, call: ToolCall, facts: SessionFacts, now: datetime) -> Decision:
    tool = call.tool
    if tool not in policy.tools:
        return Decision(Effect.DENY, "unknown_tool", f"tool {tool!r} is not defined for this project")
    if policy.static.get(tool) == "DENY":
        return Decision(Effect.DENY, f"staticRules.{tool}", f"{tool} is denied by a static rule")
    for first in sorted(policy.block_second.get(tool, ())):
        if first in facts.history:
            return Decision(
                Effect.DENY, f"BLOCK_SECOND:{first}->{tool}", f"{tool} is blocked because {first} was used earlier in this session"
            )
    forbidden = policy.checks.get(tool, frozenset()) & facts.tags
    if forbidden:
        tags = ", ".join(sorted(forbidden))
        return Decision(Effect.DENY, f"CHECK_TAINT:{tool}", f"{tool} is blocked while the session carries taint: {tags}")
    if policy.static.get(tool) == "ALLOW":
        delta = StateDelta(add_tags=policy.adds.get(tool, frozenset()), record_call=tool)
        return Decision(Effect.ALLOW, f"staticRules.{tool}", f"{tool} is allowed by a static rule", delta)
    return Decision(Effect.DENY, "default", f"no rule allows {tool}")


def observe(policy: CompiledPolicy, call: ToolCall, output: str) -> StateDelta:
    """State changes caused by a tool's output, after it executed."""
    return EMPTY_DELTA
