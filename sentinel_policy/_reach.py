"""Which tools a caller could ever get through: what an agent's tool list shows.

A tool is hidden only when every way through the policy denies it for this
caller, whatever the session's state: the first rule that surely matches (its
conditions read only who calls) decides; a rule whose conditions read state
may or may not match, so a deny of that kind is passed over and an allow or a
hold of that kind makes the tool reachable. Listing is a courtesy to the model,
never a check: every call is still evaluated in full.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sentinel_policy._compile import CompiledPolicy, Rule
from sentinel_policy._model import Effect, SessionFacts, ToolCall

__all__ = ["could_allow"]

_NO_FACTS = SessionFacts()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # identity conditions never read it


def could_allow(policy: CompiledPolicy, tool: str, *, project: str, agent: str | None) -> bool:
    """False when ``tool`` is denied to this caller in every session state; True otherwise."""
    if tool not in policy.tools:
        return False
    call = ToolCall(tool=tool, arguments={}, project=project, agent=agent)
    for rule in policy.candidates(tool):
        surely = _matches_surely(rule, call)
        if surely is False:
            continue
        if rule.effect is not Effect.DENY:
            return True
        if surely:
            return False
    return policy.default.effect is not Effect.DENY


def _matches_surely(rule: Rule, call: ToolCall) -> bool | None:
    """True: matches every session of this caller; False: none; None: it depends on the session."""
    known = True
    for condition in rule.when:
        if not condition.identity:
            known = False
        elif not condition.test(call, _NO_FACTS, _EPOCH):
            return False
    for condition in rule.unless:
        if not condition.identity:
            known = False
        elif condition.test(call, _NO_FACTS, _EPOCH):
            return False
    return True if known else None
