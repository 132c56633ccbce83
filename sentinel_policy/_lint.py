"""`policy lint` and `policy diff`: warnings about policies that compile, and structural comparison of policies.

Lint warns about what compiles but is probably wrong: rules shadowed by an
earlier rule, rules that can never match, tools named but not defined, tools
without a security class, restricting rules that one more list element in an
argument defeats. Diff lists what changed between two policies, rule
by rule. Neither does I/O nor evaluates a call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sentinel_policy._arguments import ARGUMENT_TESTS
from sentinel_policy._compile import CompiledPolicy, Rule, compile_policy
from sentinel_policy._model import Effect

# Argument tests that one more list element turns false (a restriction in `when` stops matching) and true
# (a condition in `unless` exempts the call).
_FALSE_WITH_EXTRA = frozenset(op for op, test in ARGUMENT_TESTS.items() if test.extra_element_makes is False)
_TRUE_WITH_EXTRA = frozenset(op for op, test in ARGUMENT_TESTS.items() if test.extra_element_makes is True)


def _unconditional(rule: Rule) -> bool:
    return not rule.when and not rule.unless


def _defeated_by_extra_element(rule: Rule, raw: Any) -> list[str]:
    """A deny or hold whose argument test an agent defeats by adding one element to a list argument
    ({to: [blocked, harmless]}): the semantics are documented, but rarely what a restriction means."""
    if rule.effect is Effect.ALLOW or not isinstance(raw, Mapping):
        return []
    warnings: list[str] = []
    for part, ops, verb in (("when", _FALSE_WITH_EXTRA, "stops matching"), ("unless", _TRUE_WITH_EXTRA, "exempts the call")):
        section = raw.get(part)
        args = section.get("args") if isinstance(section, Mapping) else None
        for name, tests in args.items() if isinstance(args, Mapping) else ():
            for op in (o for o in tests if o in ops) if isinstance(tests, Mapping) else ():
                warnings.append(
                    f"{rule.place}.{part}.args.{name}.{op}: if {name} is a list, one more element {verb} and the "
                    f"{rule.effect.value} no longer applies; state what is allowed instead, in an allow rule or in "
                    f"unless, where in / not_in / regex / domain_in / host_in must hold for every element"
                )
    return warnings


def lint_policy(policies: Mapping[str, Any], tools: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """Warnings, each with its place; raises PolicyError if the policy does not compile."""
    policy: CompiledPolicy = compile_policy(policies, tools)
    warnings: list[str] = []
    defined = {t.get("name") for t in tools or () if isinstance(t, Mapping)}
    for tool in sorted(set(policy.static) - defined) if tools is not None else ():
        warnings.append(f"policies.staticRules.{tool}: tool {tool!r} is not defined in the tools")
    for index, rule in enumerate(policies.get("taintRules", []) or []):
        for key in ("tool", "first", "second"):
            name = rule.get(key) if isinstance(rule, Mapping) else None
            if isinstance(name, str) and name not in policy.tools:
                warnings.append(f"policies.taintRules[{index}].{key}: tool {name!r} is not defined")
    for tool in sorted(policy.tools):
        if tool not in policy.classes:
            warnings.append(f"tools.{tool}: no security class (class rules cannot see it; its output counts as untrusted)")
    for index, rule in enumerate(policy.rules):
        if rule.tools is not None and not rule.tools:
            warnings.append(f"{rule.place}: can never match: its tool/class conditions select no defined tool")
            continue
        scope = rule.tools if rule.tools is not None else policy.tools
        for earlier in policy.rules[:index]:
            earlier_scope = earlier.tools if earlier.tools is not None else policy.tools
            if _unconditional(earlier) and scope <= earlier_scope:
                warnings.append(f"{rule.place}: shadowed by {earlier.place}, which matches every call this rule could")
                break
        else:
            blocked = [t for t in scope if any(_unconditional(r) and r.source != "rules" for r in policy.candidates(t)[:1])]
            if scope and len(blocked) == len(scope):
                warnings.append(f"{rule.place}: never decides: a static DENY comes first for every tool it matches")
    for rule, raw in zip(policy.rules, policies.get("rules", []) or [], strict=True):
        warnings.extend(_defeated_by_extra_element(rule, raw))
    for tool in sorted(policy.tools):
        if tool not in policy.static and not any(r.effect.value == "allow" for r in policy.candidates(tool)) and policy.default.effect.value != "allow":
            warnings.append(f"tools.{tool}: no rule can allow it (denied by default)")
    return warnings


def _by_name(policies: Mapping[str, Any]) -> dict[str, Any]:
    rules = policies.get("rules", []) or []
    return {str(r.get("name", f"#{i}")): r for i, r in enumerate(rules) if isinstance(r, Mapping)}


def diff_policies(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Changes from ``a`` to ``b``: [{kind, where, before, after, text}], in a stable order."""
    changes: list[dict[str, Any]] = []

    def add(kind: str, where: str, before: Any, after: Any, text: str) -> None:
        changes.append({"kind": kind, "where": where, "before": before, "after": after, "text": text})

    sa, sb = a.get("staticRules", {}) or {}, b.get("staticRules", {}) or {}
    for tool in sorted(set(sa) | set(sb)):
        if sa.get(tool) != sb.get(tool):
            kind = "added" if tool not in sa else "removed" if tool not in sb else "changed"
            add(kind, f"staticRules.{tool}", sa.get(tool), sb.get(tool), f"{kind}: staticRules.{tool}: {sa.get(tool)} -> {sb.get(tool)}")
    ta = [_key(r) for r in a.get("taintRules", []) or []]
    tb = [_key(r) for r in b.get("taintRules", []) or []]
    for rule in sorted(set(ta) - set(tb)):
        add("removed", "taintRules", dict(rule), None, f"removed: taintRules {dict(rule)}")
    for rule in sorted(set(tb) - set(ta)):
        add("added", "taintRules", None, dict(rule), f"added: taintRules {dict(rule)}")
    if a.get("default", "deny") != b.get("default", "deny"):
        add("changed", "default", a.get("default", "deny"), b.get("default", "deny"),
            f"changed: default: {a.get('default', 'deny')} -> {b.get('default', 'deny')}")
    ra, rb = _by_name(a), _by_name(b)
    for name in [n for n in ra if n not in rb]:
        add("removed", f"rules.{name}", ra[name], None, f"removed: rule {name}")
    for name in [n for n in rb if n not in ra]:
        add("added", f"rules.{name}", None, rb[name], f"added: rule {name} ({rb[name].get('effect')})")
    for name in [n for n in ra if n in rb and ra[n] != rb[n]]:
        fields = sorted(k for k in set(ra[name]) | set(rb[name]) if ra[name].get(k) != rb[name].get(k))
        add("changed", f"rules.{name}", ra[name], rb[name], f"changed: rule {name}: {', '.join(fields)}")
    order_a = [n for n in ra if n in rb]
    order_b = [n for n in rb if n in ra]
    if order_a != order_b:
        add("reordered", "rules", order_a, order_b, f"reordered: rules (first match wins): {order_a} -> {order_b}")
    return changes


def _key(rule: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(rule, Mapping):
        return (("invalid", repr(rule)),)
    return tuple(sorted((str(k), repr(v)) for k, v in rule.items()))
