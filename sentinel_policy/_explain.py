"""`policy explain`: the decision for one call with every candidate rule's outcome.

Slower than ``evaluate`` (it tests each condition separately to say which one
failed) and used only by tooling; the decision it reports is always the one
``evaluate`` returns, never a second opinion. No I/O, no clock reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sentinel_policy._compile import CompiledPolicy
from sentinel_policy._evaluate import evaluate
from sentinel_policy._model import Decision, SessionFacts, ToolCall


@dataclass(frozen=True, slots=True)
class Step:
    rule: str
    source: str
    effect: str
    outcome: str  # matched | not matched | exempted | error | not reached
    detail: str


@dataclass(frozen=True, slots=True)
class Explanation:
    call: ToolCall
    decision: Decision
    steps: tuple[Step, ...]
    facts: SessionFacts

    def as_dict(self) -> dict[str, Any]:
        return {
            "call": {"tool": self.call.tool, "arguments": dict(self.call.arguments)},
            **self.decision.as_dict(),
            "steps": [vars_of(s) for s in self.steps],
            "session": {"tags": sorted(self.facts.tags), "history": list(self.facts.history)},
        }

    def as_text(self) -> str:
        lines = [f"{self.call.tool}: {self.decision.effect.value} by {self.decision.rule}", f"  reason: {self.decision.reason}"]
        lines.append(f"  session: tags {sorted(self.facts.tags)}, history {list(self.facts.history)}")
        for step in self.steps:
            lines.append(f"  - {step.rule} [{step.source}, {step.effect}]: {step.outcome}{': ' + step.detail if step.detail else ''}")
        return "\n".join(lines)


def vars_of(step: Step) -> dict[str, str]:
    return {"rule": step.rule, "source": step.source, "effect": step.effect, "outcome": step.outcome, "detail": step.detail}


def explain(policy: CompiledPolicy, call: ToolCall, facts: SessionFacts, now: datetime) -> Explanation:
    decision = evaluate(policy, call, facts, now)
    steps: list[Step] = []
    if call.tool not in policy.tools:
        return Explanation(call, decision, (), facts)
    reached = True
    for rule in (*policy.candidates(call.tool), policy.default):
        if not reached:
            steps.append(Step(rule.name, rule.source, rule.effect.value, "not reached", "an earlier rule decided"))
            continue
        outcome, detail = "matched", ""
        try:
            failed = [c.label for c in rule.when if not c.test(call, facts, now)]
            exempt = [c.label for c in rule.unless if c.test(call, facts, now)] if not failed else []
            if failed:
                outcome, detail = "not matched", "; ".join(f"not: {label}" for label in failed)
            elif exempt:
                outcome, detail = "exempted", "; ".join(f"unless: {label}" for label in exempt)
            else:
                detail = "; ".join(c.label for c in rule.when)
        except Exception as exc:
            outcome, detail = "error", str(exc)
        steps.append(Step(rule.name, rule.source, rule.effect.value, outcome, detail))
        if outcome == "matched":  # the first match decides (an errored rule may have raised the effect)
            reached = False
    return Explanation(call, decision, tuple(steps), facts)
