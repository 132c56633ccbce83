"""The evaluator: one call, the compiled policy and the session facts in; a decision out.

First match wins over the rules that can match the call's tool (see
``_compile`` for the order). A rule whose conditions raise is skipped and
recorded in ``Decision.errors``, but it never lowers the decision: effects are
ordered allow < require_approval < deny, and the decision is the highest of
the deciding rule's effect and the effects of the rules skipped on the way to
it (a skipped deny denies, a skipped hold holds at least). An error never
turns into a silent allow nor a deny into a hold, and its text never carries an
argument value (reasons reach the audit record, the HTTP answer and the logs).
Nothing here does I/O or reads the clock (``now`` comes in).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import datetime

from sentinel_policy._compile import CompiledPolicy, Rule
from sentinel_policy._conditions import USED_TAG
from sentinel_policy._dataflow import (
    MAX_SCAN_CHARS,
    OVERFLOW_TAG,
    UNTRUSTED_TAG,
    RuleEvalError,
    strings,
)
from sentinel_policy._model import (
    EMPTY_DELTA,
    MAX_VALUES,
    Decision,
    Effect,
    SessionFacts,
    StateDelta,
    ToolCall,
)
from sentinel_policy._values import UNREADABLE, scan, scanned

# How restrictive an effect is: a rule skipped because it errored never lowers the decision below its own effect.
_RANK = {Effect.ALLOW: 0, Effect.REQUIRE_APPROVAL: 1, Effect.DENY: 2}

# Per-call bound on the trusted fingerprints taken from arguments (state stays small).
_MAX_ARG_VALUES = 32
# An output with more distinct values than this would saturate the untrusted-value filter (2,048 bits,
# 3 probes: about half of all values look untrusted at 1,000): it marks the session as unscanned instead.
MAX_OUTPUT_VALUES = 1024


def matches(rule: Rule, call: ToolCall, facts: SessionFacts, now: datetime) -> bool:
    """Whether ``rule`` applies; raises whatever a condition raises."""
    for condition in rule.when:
        if not condition.test(call, facts, now):
            return False
    return not any(condition.test(call, facts, now) for condition in rule.unless)


def reason_of(rule: Rule, call: ToolCall, facts: SessionFacts) -> str:
    return rule.reason if isinstance(rule.reason, str) else rule.reason(call, facts)


def evaluate(policy: CompiledPolicy, call: ToolCall, facts: SessionFacts, now: datetime) -> Decision:
    tool = call.tool
    if tool not in policy.tools:
        return Decision(Effect.DENY, "unknown_tool", f"tool {tool!r} is not defined for this project")
    errors: list[str] = []
    skipped: Rule | None = None  # the first skipped rule with the most restrictive effect
    why = ""
    decided = policy.default
    for rule in policy.by_tool.get(tool, ()):
        try:
            if matches(rule, call, facts, now):
                decided = rule
                break
        except Exception as exc:
            errors.append(f"{rule.name}: {_error_text(exc)}")
            if skipped is None or _RANK[rule.effect] > _RANK[skipped.effect]:
                skipped, why = rule, errors[-1]
    if skipped is not None and _RANK[skipped.effect] > _RANK[decided.effect]:
        verb = "denied" if skipped.effect is Effect.DENY else "held for approval"
        return Decision(
            skipped.effect,
            skipped.name,
            f"rule {skipped.name} could not be evaluated ({why}); {verb} rather than skipping a restriction",
            errors=tuple(errors),
        )
    reason = reason_of(decided, call, facts)
    if decided.effect is not Effect.ALLOW:
        return Decision(decided.effect, decided.name, reason, errors=tuple(errors))
    return Decision(Effect.ALLOW, decided.name, reason, _allow_delta(policy, decided, call, facts), tuple(errors))


def release(policy: CompiledPolicy, call: ToolCall, facts: SessionFacts, held: Decision, approver: str) -> Decision:
    """A held call that a person approved, as the allow it becomes: the holding rule's name, and the
    state change an allow of this call causes (its taint and history), so the session remembers it ran."""
    if held.effect is not Effect.REQUIRE_APPROVAL:
        raise ValueError("only a held decision can be released")
    rule = next((r for r in policy.candidates(call.tool) if r.name == held.rule), policy.default)
    reason = f"approved by {approver}: {held.reason}"
    return Decision(Effect.ALLOW, held.rule, reason, _allow_delta(policy, rule, call, facts), held.errors)


def override(policy: CompiledPolicy, call: ToolCall, facts: SessionFacts, refused: Decision, grant: str) -> Decision:
    """A denial or a hold, let through by break-glass ``grant``: an allow that names both, with the state
    change an allow of this call causes (its taint and history)."""
    if refused.effect is Effect.ALLOW:
        raise ValueError("only a denial or a hold is let through by break-glass")
    rule = next((r for r in policy.candidates(call.tool) if r.name == refused.rule), policy.default)
    reason = f"break-glass {grant} let through what {refused.rule} would have refused: {refused.reason}"
    return Decision(Effect.ALLOW, f"breakglass:{grant}", reason, _allow_delta(policy, rule, call, facts),
                    refused.errors)


def may_approve(policy: CompiledPolicy, tool: str, rule_name: str, approver: str) -> bool:
    """Whether ``approver`` may approve a call that ``rule_name`` held: the rule's approvers, else the
    policy's (``approvals.approvers``), else anyone holding an admin key."""
    rule = next((r for r in policy.candidates(tool) if r.name == rule_name), None)
    patterns = rule.approvers if rule is not None and rule.approvers is not None else policy.approvers
    if patterns is None:
        return True
    return any(fnmatch.fnmatchcase(approver, pattern) for pattern in patterns)


def _error_text(exc: Exception) -> str:
    """Why a rule could not be evaluated. Only RuleEvalError messages are ours (they name an argument and its
    JSON type, never its value); any other exception's text could quote the call, so only its type is given."""
    return str(exc) if isinstance(exc, RuleEvalError) else f"internal error ({type(exc).__name__})"


def _argument_values(call: ToolCall) -> set[tuple[str, str]]:
    """(kind, value) of every value in the call's arguments, extracted as data-flow conditions extract them.
    Raises RuleEvalError when an argument is nested too deep to read."""
    found: set[tuple[str, str]] = set()
    for argument in call.arguments.values():
        for text in strings(argument):
            found.update(scanned(text[:MAX_SCAN_CHARS]).values)
    return found


def _allow_delta(policy: CompiledPolicy, rule: Rule, call: ToolCall, facts: SessionFacts) -> StateDelta:
    """Taint is added when the call is allowed, at decision time, before it executes."""
    tool = call.tool
    tags = policy.adds.get(tool, frozenset()) | rule.add_tags
    if tool in policy.sticky:
        tags = tags | {USED_TAG + tool}
    values: frozenset[str] = frozenset()
    if policy.tracks_values and UNTRUSTED_TAG not in facts.tags:
        # Before any untrusted text entered the session, the arguments come from the user: trusted context.
        found: set[str] = set()
        try:
            for argument in call.arguments.values():
                for text in strings(argument):
                    read = scanned(text[:MAX_SCAN_CHARS])
                    for kind, value in sorted(read.values)[: _MAX_ARG_VALUES - len(found)]:
                        found.add("t:" + read.digest(kind, value))
        except RuleEvalError:  # too deep to read: vouch for none of it (fail closed)
            found = set()
        values = frozenset(found)
    return StateDelta(add_tags=frozenset(tags), record_call=tool, add_values=values)


def observe(policy: CompiledPolicy, call: ToolCall, output: str | Callable[[], str]) -> StateDelta:
    """State changes caused by a tool's output, after it executed: data-flow taint.

    The output of a trusted read (SAFE_READ, SENSITIVE_READ) is trusted context;
    every other output, a write's included (an append that answers with the
    file, a send that answers with the reply), is untrusted text. ``output`` may
    be a function that builds the text: it is called only when the policy reads
    this tool's output at all (and may raise RuleEvalError).
    """
    if not policy.tracks_values or call.tool not in policy.tools:
        return EMPTY_DELTA
    trusted = call.tool in policy.trusted
    zone = "t" if trusted else "u"
    tags: set[str] = set()
    if callable(output):
        output = output()
    if not trusted and (call.tool in policy.untrusted or output.strip()):
        tags.add(UNTRUSTED_TAG)
    if not trusted and len(output) > MAX_SCAN_CHARS:
        tags.add(OVERFLOW_TAG)
    echoed: set[tuple[str, str]] = set()
    if call.tool not in policy.untrusted:
        # A trusted tool that repeats its input (search_contacts_by_email(query=X) -> "No contacts found
        # with email X") vouches for nothing: a value the call itself passed in is not trusted by coming
        # back out, or any injected address could be laundered through a lookup. A write that repeats
        # what it sent adds nothing new: those values were judged when the call was decided.
        try:
            echoed = _argument_values(call)
        except RuleEvalError:  # arguments too deep to read: cannot tell echoes apart
            if trusted:
                return EMPTY_DELTA  # trust nothing
    read = scan(output[:MAX_SCAN_CHARS], zoned=True, limit=MAX_OUTPUT_VALUES)
    if not read.complete and not trusted:
        # More values than the filter holds apart (it would be saturated), or a text not read in full:
        # every value counts as untrusted from now on, which is what a saturated filter would say.
        return StateDelta(add_tags=frozenset(tags | {OVERFLOW_TAG}))
    found: set[str] = set()
    for kind, value in sorted(read.values):
        if (kind, value) in echoed or (not trusted and value.startswith(UNREADABLE)):
            continue  # an unreadable destination counts as untrusted once untrusted text is in the session
        value_digest = read.digest(kind, value)
        found.add(f"{zone}:{value_digest}")
        if not trusted and (kind, value) in read.in_text:
            found.add(f"p:{value_digest}")
        elif trusted and len(found) >= MAX_VALUES:
            break  # the state keeps no more
    values = frozenset(found)
    if not values and not tags:
        return EMPTY_DELTA
    return StateDelta(add_tags=frozenset(tags), add_values=values)
