"""Compilation: a project's ``policies`` and ``tools`` -> one ordered, indexed rule list.

Phases (as in Cedar): parse and validate together collect *every* problem with
its place in the file, then raise one ``PolicyError``; evaluation never sees a
half-valid policy. The original shape compiles into the same rules as the
extended one, in this order for each tool (first match wins):

    1. static DENY        staticRules.{tool}
    2. BLOCK_SECOND       BLOCK_SECOND:{first}->{tool}   (firsts in sorted order)
    3. CHECK_TAINT        CHECK_TAINT:{tool}
    4. named rules        policies.rules, in file order
    5. static ALLOW       staticRules.{tool}
    6. default            policies.default (deny unless stated)

A tool that is neither defined in ``tools`` nor named in ``staticRules`` is
denied before all of that (rule ``unknown_tool``). Policies and tools must be
JSON values (``_json_values``). The conditions of named rules compile through
their table (``_conditions.CONDITIONS``). Rules are indexed by tool at compile
time, so a decision only looks at rules that can match its tool.
This module must never do I/O or read the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sentinel_policy._arguments import as_str_list
from sentinel_policy._breakglass import BreakGlassRules, parse_breakglass
from sentinel_policy._classes import SecurityClass
from sentinel_policy._conditions import (
    USED_TAG,
    Condition,
    DefinedTools,
    compile_unless,
    compile_when,
)
from sentinel_policy._json_values import json_value_problems
from sentinel_policy._limits import Limit, parse_limits
from sentinel_policy._model import Effect, SessionFacts, ToolCall

_EFFECTS = {"allow": Effect.ALLOW, "deny": Effect.DENY, "require_approval": Effect.REQUIRE_APPROVAL}
_RULE_KEYS = {"name", "effect", "reason", "when", "unless", "add_tags", "description", "approvers"}
_APPROVAL_KEYS = {"approvers", "ttl_seconds"}
DEFAULT_APPROVAL_TTL = 900  # seconds a held call waits for a person before it expires
Reason = Callable[[ToolCall, SessionFacts], str]


class PolicyError(ValueError):
    """A policy that cannot be compiled; ``problems`` lists every one, with its place. ``code`` is machine-readable."""

    code = "invalid_policy"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    effect: Effect
    reason: str | Reason
    place: str
    tools: frozenset[str] | None = None  # defined tools it can match; None: every tool
    when: tuple[Condition, ...] = ()  # all must hold
    unless: tuple[Condition, ...] = ()  # any one exempts the call
    add_tags: frozenset[str] = frozenset()
    source: str = "rules"  # staticRules | taintRules | rules | default
    approvers: tuple[str, ...] | None = None  # who may approve what this rule holds (globs); None: the policy's


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    tools: frozenset[str]
    classes: Mapping[str, SecurityClass]
    static: Mapping[str, str]
    adds: Mapping[str, frozenset[str]]  # tool -> tags added when it is used (ADD_TAINT)
    forbidden_tags: Mapping[str, frozenset[str]]  # tool -> tags that block it (CHECK_TAINT)
    block_second: Mapping[str, frozenset[str]] = field(default_factory=dict)  # second -> firsts
    rules: tuple[Rule, ...] = ()  # named rules, in file order
    by_tool: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)  # the ordered candidates per tool
    default: Rule = field(default_factory=lambda: Rule("default", Effect.DENY, "no rule allows this call", "policies.default", source="default"))
    sticky: frozenset[str] = frozenset()  # tools whose use is remembered as a tag (history never forgets them)
    untrusted: frozenset[str] = frozenset()  # tools whose output is untrusted (class UNTRUSTED_READ or ADD_TAINT)
    trusted: frozenset[str] = frozenset()  # tools whose output is trusted context (SAFE_READ, SENSITIVE_READ)
    tracks_values: bool = False  # some rule reads data-flow taint, so outputs and early arguments are fingerprinted
    approvers: tuple[str, ...] | None = None  # who may approve held calls (globs on approver names); None: any
    approval_ttl: int = DEFAULT_APPROVAL_TTL  # seconds a held call waits for a decision
    limits: tuple[Limit, ...] = ()  # rate limits and quotas (``_limits``)
    breakglass: BreakGlassRules | None = None  # who may open break-glass and what it lets through

    def candidates(self, tool: str) -> tuple[Rule, ...]:
        return self.by_tool.get(tool, ())


def _parse_tools(tools: Sequence[Mapping[str, Any]] | None, problems: list[str]) -> tuple[set[str], dict[str, SecurityClass]]:
    names: set[str] = set()
    classes: dict[str, SecurityClass] = {}
    if tools is not None and (not isinstance(tools, Sequence) or isinstance(tools, (str, bytes))):
        problems.append("tools: must be a list of tool definitions")
        return names, classes
    for index, tool in enumerate(tools or ()):
        name = tool.get("name") if isinstance(tool, Mapping) else None
        if not isinstance(name, str) or not name:
            problems.append(f"tools[{index}]: a tool needs a name")
            continue
        if name in names:
            problems.append(f"tools[{index}]: tool {name!r} is defined twice")
        names.add(name)
        raw_class = tool.get("class")
        if raw_class is not None:
            cls = SecurityClass.named(raw_class)
            if cls is None:
                problems.append(f"tools[{index}].class: {raw_class!r} is not a security class ({', '.join(SecurityClass)})")
            else:
                classes[name] = cls
    return names, classes


def _parse_original(policies: Mapping[str, Any], problems: list[str]) -> tuple[dict[str, str], dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    static: dict[str, str] = {}
    raw_static = policies.get("staticRules", {}) or {}
    if not isinstance(raw_static, Mapping):
        problems.append("policies.staticRules: must be a mapping of tool name to ALLOW or DENY")
        raw_static = {}
    for tool, verdict in raw_static.items():
        if verdict not in ("ALLOW", "DENY"):
            problems.append(f"policies.staticRules.{tool}: must be ALLOW or DENY, not {verdict!r}")
            continue
        static[str(tool)] = verdict

    adds: dict[str, set[str]] = {}
    forbidden: dict[str, set[str]] = {}
    block_second: dict[str, set[str]] = {}
    raw_taint = policies.get("taintRules", []) or []
    if not isinstance(raw_taint, Sequence) or isinstance(raw_taint, str):
        problems.append("policies.taintRules: must be a list")
        raw_taint = []
    for index, rule in enumerate(raw_taint):
        place = f"policies.taintRules[{index}]"
        if not isinstance(rule, Mapping):
            problems.append(f"{place}: must be a mapping")
            continue
        kind = rule.get("type")
        if kind == "ADD_TAINT":
            if not isinstance(rule.get("tool"), str) or not isinstance(rule.get("tag"), str):
                problems.append(f"{place}: ADD_TAINT needs tool and tag")
                continue
            adds.setdefault(rule["tool"], set()).add(rule["tag"])
        elif kind == "CHECK_TAINT":
            tags = rule.get("forbidden_tags")
            if not isinstance(rule.get("tool"), str) or not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                problems.append(f"{place}: CHECK_TAINT needs tool and forbidden_tags (a list)")
                continue
            forbidden.setdefault(rule["tool"], set()).update(tags)
        elif kind == "BLOCK_SECOND":
            if not isinstance(rule.get("first"), str) or not isinstance(rule.get("second"), str):
                problems.append(f"{place}: BLOCK_SECOND needs first and second")
                continue
            block_second.setdefault(rule["second"], set()).add(rule["first"])
        else:
            problems.append(f"{place}: unknown type {kind!r} (ADD_TAINT, CHECK_TAINT or BLOCK_SECOND)")
    return static, adds, forbidden, block_second


def _parse_rule(raw: Any, index: int, tools: DefinedTools, seen: set[str], problems: list[str]) -> tuple[Rule | None, frozenset[str]]:
    """A named rule, and the tools whose use its conditions need remembered for good."""
    place = f"policies.rules[{index}]"
    if not isinstance(raw, Mapping):
        problems.append(f"{place}: must be a mapping with name, effect and when")
        return None, frozenset()
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{place}.name: every rule needs a name")
        name = f"rules[{index}]"
    elif name in seen:
        problems.append(f"{place}.name: {name!r} is used by an earlier rule; names must be unique")
    seen.add(name)
    place = f"{place} ({name})"
    for key in sorted(set(raw) - _RULE_KEYS):
        problems.append(f"{place}: unknown field {key!r} (one of {', '.join(sorted(_RULE_KEYS))})")
    effect = _EFFECTS.get(str(raw.get("effect", "")).lower())
    if effect is None:
        problems.append(f"{place}.effect: must be allow, deny or require_approval, not {raw.get('effect')!r}")
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        problems.append(f"{place}.reason: must be text")
    add_tags = frozenset(as_str_list(raw["add_tags"], f"{place}.add_tags", problems)) if "add_tags" in raw else frozenset()

    when_raw = raw.get("when", {}) or {}
    if not isinstance(when_raw, Mapping):
        problems.append(f"{place}.when: must be a mapping of conditions")
        when_raw = {}
    when = compile_when(when_raw, f"{place}.when", tools, problems)
    unless_raw = raw.get("unless", {}) or {}
    if not isinstance(unless_raw, Mapping):
        problems.append(f"{place}.unless: must be a mapping of conditions")
        unless_raw = {}
    unless = compile_unless(unless_raw, f"{place}.unless", tools, problems)
    remembered = when.remembered | unless.remembered
    if effect is None:
        return None, remembered
    text = reason if isinstance(reason, str) and reason else f"rule {name} matched"
    approvers = _approvers(raw["approvers"], f"{place}.approvers", problems) if "approvers" in raw else None
    if approvers is not None and effect is not Effect.REQUIRE_APPROVAL:
        problems.append(f"{place}.approvers: only a require_approval rule holds calls for approvers")
    rule = Rule(name, effect, text, place, when.tools, when.conditions, unless.conditions, add_tags, "rules", approvers)
    return rule, remembered


def _approvers(raw: Any, place: str, problems: list[str]) -> tuple[str, ...]:
    names = as_str_list(raw, place, problems)
    if not names:
        problems.append(f"{place}: name at least one approver (globs on the names of admin keys)")
    return tuple(names)


def _parse_approvals(raw: Any, problems: list[str]) -> tuple[tuple[str, ...] | None, int]:
    """``approvals: {approvers: [...], ttl_seconds: N}``: who may approve held calls, and how long they wait."""
    if raw is None:
        return None, DEFAULT_APPROVAL_TTL
    if not isinstance(raw, Mapping):
        problems.append("policies.approvals: must be a mapping with approvers and/or ttl_seconds")
        return None, DEFAULT_APPROVAL_TTL
    for key in sorted(set(raw) - _APPROVAL_KEYS):
        problems.append(f"policies.approvals: unknown field {key!r} (one of {', '.join(sorted(_APPROVAL_KEYS))})")
    approvers = _approvers(raw["approvers"], "policies.approvals.approvers", problems) if "approvers" in raw else None
    ttl = raw.get("ttl_seconds", DEFAULT_APPROVAL_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= 86_400:
        problems.append(f"policies.approvals.ttl_seconds: a whole number of seconds from 1 to 86400, not {ttl!r}")
        ttl = DEFAULT_APPROVAL_TTL
    return approvers, ttl


def _original_rules(tool: str, static: Mapping[str, str], forbidden_tags: Mapping[str, set[str]], block_second: Mapping[str, set[str]]) -> tuple[list[Rule], list[Rule]]:
    """The original rules for one tool: the ones before the named rules and the static ALLOW after them."""
    before: list[Rule] = []
    if static.get(tool) == "DENY":
        before.append(Rule(f"staticRules.{tool}", Effect.DENY, f"{tool} is denied by a static rule", f"policies.staticRules.{tool}", source="staticRules"))
    for first in sorted(block_second.get(tool, ())):
        marker = USED_TAG + first

        def used(call: ToolCall, facts: SessionFacts, now: datetime, _f: str = first, _m: str = marker) -> bool:
            return _f in facts.history or _m in facts.tags

        before.append(Rule(
            f"BLOCK_SECOND:{first}->{tool}", Effect.DENY, f"{tool} is blocked because {first} was used earlier in this session",
            "policies.taintRules", when=(Condition(f"{first} was used earlier", used),), source="taintRules",
        ))
    forbidden = frozenset(forbidden_tags.get(tool, ()))
    if forbidden:

        def tainted(call: ToolCall, facts: SessionFacts, now: datetime, _t: frozenset[str] = forbidden) -> bool:
            return not _t.isdisjoint(facts.tags)

        def reason(call: ToolCall, facts: SessionFacts, _t: frozenset[str] = forbidden, _n: str = tool) -> str:
            return f"{_n} is blocked while the session carries taint: {', '.join(sorted(_t & facts.tags))}"

        before.append(Rule(f"CHECK_TAINT:{tool}", Effect.DENY, reason, "policies.taintRules",
                           when=(Condition(f"session carries one of {sorted(forbidden)}", tainted),), source="taintRules"))
    after: list[Rule] = []
    if static.get(tool) == "ALLOW":
        after.append(Rule(f"staticRules.{tool}", Effect.ALLOW, f"{tool} is allowed by a static rule", f"policies.staticRules.{tool}", source="staticRules"))
    return before, after


def compile_policy(policies: Mapping[str, Any] | None, tools: Sequence[Mapping[str, Any]] | None) -> CompiledPolicy:
    problems: list[str] = []
    if policies is not None and not isinstance(policies, Mapping):
        raise PolicyError(["policies: must be a mapping (staticRules, taintRules, rules, default)"])
    policies = policies or {}
    problems.extend(json_value_problems(policies, "policies"))
    if tools is not None:
        problems.extend(json_value_problems(tools, "tools"))
    tool_names, classes = _parse_tools(tools, problems)
    static, adds, forbidden_tags, block_second = _parse_original(policies, problems)
    all_tools = frozenset(tool_names | set(static))
    defined = DefinedTools(all_tools, classes)

    default_raw = policies.get("default", "deny")
    default_effect = _EFFECTS.get(str(default_raw).lower())
    if default_effect is None:
        problems.append(f"policies.default: must be allow, deny or require_approval, not {default_raw!r}")
        default_effect = Effect.DENY
    default_reason = "no rule allows this call" if default_effect is Effect.DENY else f"the policy default is {default_effect.value}"
    default = Rule("default", default_effect, default_reason, "policies.default", source="default")

    named: list[Rule] = []
    sticky: set[str] = {first for firsts in block_second.values() for first in firsts}
    raw_rules = policies.get("rules", []) or []
    if not isinstance(raw_rules, Sequence) or isinstance(raw_rules, str):
        problems.append("policies.rules: must be a list of rules")
        raw_rules = []
    approvers, approval_ttl = _parse_approvals(policies.get("approvals"), problems)
    limits = parse_limits(policies.get("limits"), problems)
    breakglass = parse_breakglass(policies.get("breakglass"), problems)
    names: set[str] = set()
    for index, raw in enumerate(raw_rules):
        rule, more = _parse_rule(raw, index, defined, names, problems)
        sticky |= more
        if rule is not None:
            named.append(rule)
    if problems:
        raise PolicyError(problems)

    by_tool: dict[str, tuple[Rule, ...]] = {}
    for tool in all_tools:
        before, after = _original_rules(tool, static, forbidden_tags, block_second)
        mine = [r for r in named if r.tools is None or tool in r.tools]
        by_tool[tool] = (*before, *mine, *after)
    # A tool without a class is treated as an untrusted source: fail closed.
    untrusted = frozenset(t for t in all_tools if classes.get(t) in (SecurityClass.UNTRUSTED_READ, None) or t in adds)
    trusted = frozenset(t for t in all_tools if classes.get(t) in (SecurityClass.SAFE_READ, SecurityClass.SENSITIVE_READ) and t not in untrusted)
    return CompiledPolicy(
        tools=all_tools,
        classes=classes,
        static=static,
        adds={k: frozenset(v) for k, v in adds.items()},
        forbidden_tags={k: frozenset(v) for k, v in forbidden_tags.items()},
        block_second={k: frozenset(v) for k, v in block_second.items()},
        rules=tuple(named),
        by_tool=by_tool,
        default=default,
        sticky=frozenset(sticky),
        untrusted=untrusted,
        trusted=trusted,
        tracks_values=any(c.reads_values for r in named for c in (*r.when, *r.unless)),
        approvers=approvers,
        approval_ttl=approval_ttl,
        limits=limits,
        breakglass=breakglass,
    )
