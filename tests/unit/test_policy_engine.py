"""The policy engine: original staticRules/taintRules semantics, named rules, effects, defaults, errors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from sentinel_policy import (
    Effect,
    PolicyError,
    SessionFacts,
    StateDelta,
    ToolCall,
    apply_delta,
    compile_policy,
    evaluate,
    observe,
    replay,
)
from sentinel_policy._conditions import Condition

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
TOOLS = [
    {"name": "read_inbox", "class": "UNTRUSTED_READ"},
    {"name": "read_file", "class": "SENSITIVE_READ"},
    {"name": "get_time", "class": "SAFE_READ"},
    {"name": "send_email", "class": "CONSEQUENTIAL_WRITE"},
    {"name": "transfer_funds", "class": "CONSEQUENTIAL_WRITE"},
    {"name": "delete_file", "class": "CONSEQUENTIAL_WRITE"},
    {"name": "write_note", "class": "INTERNAL_WRITE"},
]
ORIGINAL = {
    "staticRules": {"read_inbox": "ALLOW", "read_file": "ALLOW", "send_email": "ALLOW", "delete_file": "DENY", "get_time": "ALLOW"},
    "taintRules": [
        {"type": "ADD_TAINT", "tool": "read_inbox", "tag": "untrusted"},
        {"type": "CHECK_TAINT", "tool": "send_email", "forbidden_tags": ["untrusted"]},
        {"type": "BLOCK_SECOND", "first": "read_file", "second": "send_email"},
    ],
}


def decide(policies: dict[str, Any], tool: str, args: dict[str, Any] | None = None, facts: SessionFacts | None = None,
           now: datetime = NOW, agent: str | None = None, project: str = "demo") -> Any:
    policy = compile_policy(policies, TOOLS)
    return evaluate(policy, ToolCall(tool, args or {}, project, agent), facts or SessionFacts(), now)


def run(policies: dict[str, Any], calls: list[tuple[str, dict[str, Any], str]]) -> list[str]:
    policy = compile_policy(policies, TOOLS)
    decisions, _ = replay(policy, [{"tool": t, "args": a, "output": o} for t, a, o in calls], NOW)
    return [f"{d.effect.value}:{d.rule}" for d in decisions]


# --------------------------------------------------------------------------- the original semantics

@pytest.mark.parametrize(
    ("tool", "facts", "effect", "rule"),
    [
        ("nope", SessionFacts(), Effect.DENY, "unknown_tool"),
        ("delete_file", SessionFacts(), Effect.DENY, "staticRules.delete_file"),
        ("send_email", SessionFacts(), Effect.ALLOW, "staticRules.send_email"),
        ("send_email", SessionFacts(tags=frozenset({"untrusted"})), Effect.DENY, "CHECK_TAINT:send_email"),
        ("send_email", SessionFacts(history=("read_file",)), Effect.DENY, "BLOCK_SECOND:read_file->send_email"),
        # BLOCK_SECOND is checked before CHECK_TAINT
        ("send_email", SessionFacts(tags=frozenset({"untrusted"}), history=("read_file",)), Effect.DENY, "BLOCK_SECOND:read_file->send_email"),
        ("transfer_funds", SessionFacts(), Effect.DENY, "default"),  # defined but no static rule
    ],
)
def test_original_rules_decide_in_their_documented_order(tool: str, facts: SessionFacts, effect: Effect, rule: str) -> None:
    decision = decide(ORIGINAL, tool, facts=facts)
    assert (decision.effect, decision.rule) == (effect, rule)
    assert decision.reason


def test_add_taint_is_added_when_the_call_is_allowed_before_it_executes() -> None:
    decision = decide(ORIGINAL, "read_inbox")
    assert decision.delta == StateDelta(add_tags=frozenset({"untrusted"}), record_call="read_inbox")


def test_denied_calls_change_nothing_and_history_records_allowed_calls_only() -> None:
    assert run(ORIGINAL, [("delete_file", {}, ""), ("send_email", {}, ""), ("read_inbox", {}, ""), ("send_email", {}, "")]) == [
        "deny:staticRules.delete_file", "allow:staticRules.send_email", "allow:staticRules.read_inbox", "deny:CHECK_TAINT:send_email",
    ]


def test_block_second_never_forgets_the_first_tool_even_past_the_history_bound() -> None:
    calls = [("read_file", {}, "")] + [("get_time", {}, "")] * 40 + [("send_email", {}, "")]
    assert run(ORIGINAL, calls)[-1] == "deny:BLOCK_SECOND:read_file->send_email"


def test_a_static_rule_for_an_undefined_tool_defines_it() -> None:
    assert decide({"staticRules": {"ghost": "ALLOW"}}, "ghost").effect is Effect.ALLOW


def test_apply_delta_bumps_the_version_only_when_something_changes() -> None:
    facts = SessionFacts()
    assert apply_delta(facts, StateDelta()) is facts
    after = apply_delta(facts, StateDelta(add_tags=frozenset({"x"}), record_call="t"))
    assert after.version == 1 and after.tags == {"x"} and after.history == ("t",)
    assert apply_delta(after, StateDelta(add_tags=frozenset({"x"}))) is after


def test_session_facts_round_trip_and_stay_small() -> None:
    policy = compile_policy({"rules": [{"name": "r", "effect": "deny", "when": {"flows_from_untrusted": True}}]}, TOOLS)
    facts = SessionFacts()
    page = " ".join(f"user{i}@example{i}.com http://site{i}.org/p" for i in range(400))
    for _ in range(40):
        facts = apply_delta(facts, StateDelta(add_tags=frozenset({"untrusted"}), record_call="read_inbox"))
        facts = apply_delta(facts, observe(policy, ToolCall("read_inbox", {}), page))
    blob = facts.to_json()
    assert len(blob) <= 2048
    again = SessionFacts.from_json(blob, facts.version)
    assert again == facts


# --------------------------------------------------------------------------- named rules: effects and order

def rules(*items: dict[str, Any], default: str | None = None, **extra: Any) -> dict[str, Any]:
    policies: dict[str, Any] = {"rules": list(items), **extra}
    if default is not None:
        policies["default"] = default
    return policies


@pytest.mark.parametrize("effect", [Effect.ALLOW, Effect.DENY, Effect.REQUIRE_APPROVAL])
def test_each_effect_is_returned_with_its_rule_and_reason(effect: Effect) -> None:
    decision = decide(rules({"name": "r1", "effect": effect.value, "reason": "because", "when": {"tool": "send_email"}}), "send_email")
    assert (decision.effect, decision.rule, decision.reason) == (effect, "r1", "because")


def test_first_match_wins() -> None:
    policies = rules(
        {"name": "hold-writes", "effect": "require_approval", "when": {"class": "CONSEQUENTIAL_WRITE"}},
        {"name": "allow-all", "effect": "allow"},
    )
    assert decide(policies, "send_email").rule == "hold-writes"
    assert decide(policies, "read_file").rule == "allow-all"


@pytest.mark.parametrize(("default", "effect"), [(None, Effect.DENY), ("deny", Effect.DENY), ("allow", Effect.ALLOW), ("require_approval", Effect.REQUIRE_APPROVAL)])
def test_default_applies_when_no_rule_matches(default: str | None, effect: Effect) -> None:
    decision = decide(rules({"name": "x", "effect": "allow", "when": {"tool": "get_time"}}, default=default), "send_email")
    assert (decision.effect, decision.rule) == (effect, "default")


def test_original_guards_come_before_named_rules_and_static_allow_after() -> None:
    policies = dict(ORIGINAL, rules=[
        {"name": "allow-everything", "effect": "allow", "when": {"tool": ["delete_file", "send_email"]}},
        {"name": "hold-inbox", "effect": "require_approval", "when": {"tool": "read_inbox"}},
    ])
    assert decide(policies, "delete_file").rule == "staticRules.delete_file"  # a static DENY cannot be overridden
    assert decide(policies, "send_email", facts=SessionFacts(tags=frozenset({"untrusted"}))).rule == "CHECK_TAINT:send_email"
    assert decide(policies, "read_inbox").effect is Effect.REQUIRE_APPROVAL  # a named rule refines a static ALLOW


def test_add_taint_applies_to_calls_allowed_by_named_rules_too() -> None:
    policies = {"taintRules": [{"type": "ADD_TAINT", "tool": "read_inbox", "tag": "web"}],
                "rules": [{"name": "reads", "effect": "allow", "when": {"class": "UNTRUSTED_READ"}, "add_tags": ["read"]}]}
    assert decide(policies, "read_inbox").delta.add_tags == {"web", "read"}


# --------------------------------------------------------------------------- conditions, table-driven

CONDITION_CASES: list[tuple[str, dict[str, Any], str, dict[str, Any], bool]] = [
    # (case, when, tool, arguments, matches)
    ("tool glob", {"tool": "send_*"}, "send_email", {}, True),
    ("tool glob miss", {"tool": "send_*"}, "read_file", {}, False),
    ("tool list", {"tool": ["get_time", "read_file"]}, "read_file", {}, True),
    ("class", {"class": "INTERNAL_WRITE"}, "write_note", {}, True),
    ("class miss", {"class": ["SAFE_READ"]}, "write_note", {}, False),
    ("tool and class intersect", {"tool": "send_*", "class": "SAFE_READ"}, "send_email", {}, False),
    ("equals", {"args": {"to": {"equals": "a@b.c"}}}, "send_email", {"to": "a@b.c"}, True),
    ("equals miss", {"args": {"to": {"equals": "a@b.c"}}}, "send_email", {"to": "x@b.c"}, False),
    ("not_equals", {"args": {"to": {"not_equals": "a@b.c"}}}, "send_email", {"to": "x@b.c"}, True),
    ("in", {"args": {"mode": {"in": ["r", "w"]}}}, "send_email", {"mode": "r"}, True),
    ("in list value: every element", {"args": {"to": {"in": ["a", "b"]}}}, "send_email", {"to": ["a", "c"]}, False),
    ("not_in", {"args": {"mode": {"not_in": ["x"]}}}, "send_email", {"mode": "r"}, True),
    ("not_in list value: any element", {"args": {"to": {"not_in": ["c"]}}}, "send_email", {"to": ["a", "c"]}, False),
    ("not_in missing", {"args": {"mode": {"not_in": ["x"]}}}, "send_email", {}, True),
    ("regex", {"args": {"path": {"regex": r"^secrets/"}}}, "send_email", {"path": "secrets/k"}, True),
    ("regex miss", {"args": {"path": {"regex": r"^secrets/"}}}, "send_email", {"path": "docs/k"}, False),
    ("contains", {"args": {"body": {"contains": "key"}}}, "send_email", {"body": "the key"}, True),
    ("gt", {"args": {"amount": {"gt": 100}}}, "transfer_funds", {"amount": 101}, True),
    ("gt edge", {"args": {"amount": {"gt": 100}}}, "transfer_funds", {"amount": 100}, False),
    ("gte edge", {"args": {"amount": {"gte": 100}}}, "transfer_funds", {"amount": 100}, True),
    ("lt", {"args": {"amount": {"lt": 10}}}, "transfer_funds", {"amount": 9.5}, True),
    ("lte edge", {"args": {"amount": {"lte": 10}}}, "transfer_funds", {"amount": 10}, True),
    ("range", {"args": {"amount": {"gte": 10, "lt": 20}}}, "transfer_funds", {"amount": 20}, False),
    ("numeric string", {"args": {"amount": {"gt": 100}}}, "transfer_funds", {"amount": "250"}, True),
    ("range missing arg", {"args": {"amount": {"gt": 100}}}, "transfer_funds", {}, False),
    ("exists", {"args": {"cc": {"exists": True}}}, "send_email", {"cc": "x"}, True),
    ("exists false", {"args": {"cc": {"exists": False}}}, "send_email", {}, True),
    ("domain_in", {"args": {"to": {"domain_in": ["corp.com"]}}}, "send_email", {"to": ["a@corp.com", "b@eu.corp.com"]}, True),
    ("domain_in one outside", {"args": {"to": {"domain_in": ["corp.com"]}}}, "send_email", {"to": ["a@corp.com", "b@evil.com"]}, False),
    ("domain_in lookalike", {"args": {"to": {"domain_in": ["corp.com"]}}}, "send_email", {"to": "a@evilcorp.com"}, False),
    ("domain_not_in", {"args": {"to": {"domain_not_in": ["corp.com"]}}}, "send_email", {"to": ["a@corp.com", "b@evil.com"]}, True),
    ("host_in", {"args": {"url": {"host_in": ["example.com"]}}}, "send_email", {"url": "https://docs.example.com/x"}, True),
    ("host_not_in", {"args": {"url": {"host_not_in": ["example.com"]}}}, "send_email", {"url": "https://example.com.evil.io/x"}, True),
    ("domain_in upper case", {"args": {"to": {"domain_in": ["corp.com"]}}}, "send_email", {"to": "A@CORP.COM"}, True),
    ("domain_in ideographic dot", {"args": {"to": {"domain_in": ["corp.com"]}}}, "send_email", {"to": "a@corp\u3002com"}, True),
    ("domain_in address literal", {"args": {"to": {"domain_in": ["corp.com"]}}}, "send_email", {"to": "a@[203.0.113.7]"}, False),
    ("domain_in with an unreadable second address", {"args": {"to": {"domain_in": ["corp.com"]}}}, "send_email",
     {"to": "a@corp.com, x@[203.0.113.7]"}, False),
    ("domain_in a domain that goes on", {"args": {"to": {"domain_in": ["corp.com"]}}}, "send_email", {"to": "a@corp.com_evil.io"}, False),
    ("domain_in a lone word", {"args": {"to": {"domain_in": ["corp.com"]}}}, "send_email", {"to": "attacker"}, False),
    ("domain_not_in address literal", {"args": {"to": {"domain_not_in": ["corp.com"]}}}, "send_email", {"to": "x@[203.0.113.7]"}, True),
    ("domain_not_in dotless domain", {"args": {"to": {"domain_not_in": ["corp.com"]}}}, "send_email", {"to": "x@localhost"}, True),
    ("domain_not_in fullwidth dot", {"args": {"to": {"domain_not_in": ["corp.com"]}}}, "send_email", {"to": "x@evil\uff0eio"}, True),
    ("domain_not_in inside", {"args": {"to": {"domain_not_in": ["corp.com"]}}}, "send_email", {"to": ["a@corp.com", "b@eu.corp.com"]}, False),
    ("domain_not_in no address in prose", {"args": {"body": {"domain_not_in": ["corp.com"]}}}, "send_email", {"body": "see you soon"}, False),
    ("domain_not_in missing", {"args": {"to": {"domain_not_in": ["corp.com"]}}}, "send_email", {}, False),
    ("host_in upper case", {"args": {"url": {"host_in": ["example.com"]}}}, "send_email", {"url": "HTTPS://EXAMPLE.COM/x"}, True),
    ("host_in backslash trick", {"args": {"url": {"host_in": ["example.com"]}}}, "send_email", {"url": "https://evil.io\\@example.com/"}, False),
    ("host_in redirect inside", {"args": {"url": {"host_in": ["example.com"]}}}, "send_email",
     {"url": "https://example.com/?next=http://localhost/"}, False),
    ("host_not_in dotless host", {"args": {"url": {"host_not_in": ["example.com"]}}}, "send_email", {"url": "http://localhost:8080/x"}, True),
    ("host_not_in IPv6 literal", {"args": {"url": {"host_not_in": ["example.com"]}}}, "send_email", {"url": "http://[::1]/x"}, True),
    ("host_not_in inside", {"args": {"url": {"host_not_in": ["example.com"]}}}, "send_email", {"url": "see https://a.example.com/x"}, False),
    ("host_not_in no link in prose", {"args": {"body": {"host_not_in": ["example.com"]}}}, "send_email", {"body": "no links here"}, False),
    ("agent", {"agent": "billing-*"}, "send_email", {}, False),  # the call below has agent support-bot
    ("agent match", {"agent": ["support-*"]}, "send_email", {}, True),
    ("project", {"project": "demo"}, "send_email", {}, True),
    ("project miss", {"project": "other"}, "send_email", {}, False),
]


@pytest.mark.parametrize(("case", "when", "tool", "arguments", "expected"), CONDITION_CASES, ids=[c[0] for c in CONDITION_CASES])
def test_condition(case: str, when: dict[str, Any], tool: str, arguments: dict[str, Any], expected: bool) -> None:
    decision = decide(rules({"name": "r", "effect": "require_approval", "when": when}, default="allow"), tool, arguments, agent="support-bot")
    assert (decision.rule == "r") is expected, decision


TAINT_CASES = [
    ("any hit", ["web"], {"web"}, True),
    ("any miss", ["web"], {"mail"}, False),
    ("all", {"all": ["a", "b"]}, {"a", "b", "c"}, True),
    ("all miss", {"all": ["a", "b"]}, {"a"}, False),
    ("none", {"none": ["a"]}, {"b"}, True),
    ("none hit", {"none": ["a"]}, {"a"}, False),
]


@pytest.mark.parametrize(("case", "taint", "tags", "expected"), TAINT_CASES, ids=[c[0] for c in TAINT_CASES])
def test_taint_condition(case: str, taint: Any, tags: set[str], expected: bool) -> None:
    decision = decide(rules({"name": "r", "effect": "deny", "when": {"taint": taint}}, default="allow"), "send_email",
                      facts=SessionFacts(tags=frozenset(tags)))
    assert (decision.rule == "r") is expected


HISTORY_CASES = [
    ("any", ["read_*"], ("read_file",), True),
    ("any miss", ["read_*"], ("get_time",), False),
    ("none", {"none": ["read_inbox"]}, ("read_file",), True),
    ("none hit", {"none": ["read_inbox"]}, ("read_inbox",), False),
    ("last", {"last": "read_file"}, ("read_inbox", "read_file"), True),
    ("last miss", {"last": "read_file"}, ("read_file", "get_time"), False),
    ("count", {"count": {"tool": "send_*", "gte": 3}}, ("send_email",) * 3, True),
    ("count under", {"count": {"tool": "send_*", "gte": 3}}, ("send_email",) * 2, False),
    ("count lte", {"count": {"tool": "send_*", "lte": 1}}, ("send_email",) * 2, False),
]


@pytest.mark.parametrize(("case", "history", "earlier", "expected"), HISTORY_CASES, ids=[c[0] for c in HISTORY_CASES])
def test_history_condition(case: str, history: Any, earlier: tuple[str, ...], expected: bool) -> None:
    decision = decide(rules({"name": "r", "effect": "deny", "when": {"history": history}}, default="allow"), "send_email",
                      facts=SessionFacts(history=earlier))
    assert (decision.rule == "r") is expected


def test_history_condition_remembers_named_tools_past_the_bound() -> None:
    policies = rules({"name": "no-send-after-inbox", "effect": "deny", "when": {"tool": "send_email", "history": ["read_inbox"]}}, default="allow")
    calls = [("read_inbox", {}, "")] + [("get_time", {}, "")] * 40 + [("send_email", {}, "")]
    assert run(policies, calls)[-1] == "deny:no-send-after-inbox"


def test_unless_exempts_a_call() -> None:
    policies = rules({"name": "hold-external", "effect": "require_approval", "when": {"tool": "send_email"},
                      "unless": {"args": {"to": {"domain_in": ["corp.com"]}}}}, default="allow")
    assert decide(policies, "send_email", {"to": "a@corp.com"}).rule == "default"
    assert decide(policies, "send_email", {"to": "a@x.com"}).rule == "hold-external"


# --------------------------------------------------------------------------- evaluation errors

def test_a_rule_that_errors_is_skipped_and_recorded_but_never_becomes_a_silent_allow() -> None:
    policies = rules(
        {"name": "big-transfers", "effect": "require_approval", "when": {"args": {"amount": {"gt": 1000}}}},
        {"name": "allow-rest", "effect": "allow"},
    )
    decision = decide(policies, "transfer_funds", {"amount": "a lot"})
    assert decision.effect is Effect.REQUIRE_APPROVAL
    assert decision.rule == "big-transfers"
    assert "could not be evaluated" in decision.reason and "held for approval" in decision.reason
    assert decision.errors and "not a number" in decision.errors[0]


# Rules in order: "E<n>:<effect>" errors at evaluation, "M:<effect>" matches, "N:<effect>" is never reached.
# The decision is the most restrictive (deny > require_approval > allow) of the deciding rule (or the default)
# and every rule skipped on the way to it; it is credited to whichever of them set that effect (first wins).
LATTICE = [
    (["E1:deny", "M:allow"], "allow", ("deny", "E1")),
    (["E1:deny", "M:require_approval"], "allow", ("deny", "E1")),
    (["E1:deny", "M:deny"], "allow", ("deny", "M")),
    (["E1:require_approval", "M:allow"], "allow", ("require_approval", "E1")),
    (["E1:require_approval", "M:require_approval"], "allow", ("require_approval", "M")),
    (["E1:require_approval", "M:deny"], "allow", ("deny", "M")),
    (["E1:allow", "M:allow"], "deny", ("allow", "M")),
    (["E1:allow", "M:require_approval"], "allow", ("require_approval", "M")),
    (["E1:require_approval", "E2:deny", "M:allow"], "allow", ("deny", "E2")),
    (["E1:deny", "E2:require_approval", "M:allow"], "allow", ("deny", "E1")),
    (["E1:require_approval", "E2:require_approval", "M:allow"], "allow", ("require_approval", "E1")),
    (["E1:deny"], "allow", ("deny", "E1")),
    (["E1:require_approval"], "allow", ("require_approval", "E1")),
    (["E1:require_approval"], "deny", ("deny", "default")),
    (["E1:allow"], "require_approval", ("require_approval", "default")),
    (["M:allow", "N:deny"], "deny", ("allow", "M")),
]


@pytest.mark.parametrize(("order", "default", "expected"), LATTICE, ids=[" ".join(o) + f" default:{d}" for o, d, _ in LATTICE])
def test_an_errored_rule_never_lowers_the_decision_below_its_own_effect(order: list[str], default: str, expected: tuple[str, str]) -> None:
    conditions = {"E": {"args": {"amount": {"gt": 0}}}, "M": {}, "N": {}}
    listed = [{"name": name.split(":")[0], "effect": name.split(":")[1], "when": {"tool": "transfer_funds", **conditions[name[0]]}}
              for name in order]
    decision = decide({"default": default, "rules": listed}, "transfer_funds", {"amount": "a lot"})
    assert (decision.effect.value, decision.rule) == expected
    assert len(decision.errors) == sum(name.startswith("E") for name in order)


def test_an_allow_rule_that_errors_is_skipped_and_the_next_rule_decides() -> None:
    policies = rules(
        {"name": "small-ok", "effect": "allow", "when": {"args": {"amount": {"lt": 10}}}},
        {"name": "hold", "effect": "require_approval"},
    )
    decision = decide(policies, "transfer_funds", {"amount": ["not", "a", "number"]})
    assert (decision.effect, decision.rule) == (Effect.REQUIRE_APPROVAL, "hold")
    assert decision.errors


@pytest.mark.parametrize(("value", "why"), [
    ("SECRET-4111111111111111", "argument amount is not a number (a string)"),
    (["SECRET-4111111111111111"], "argument amount is not a number (an array)"),
    ({"SECRET-4111111111111111": 1}, "argument amount is not a number (an object)"),
    (True, "argument amount is not a number (a boolean)"),
    (None, "argument amount is not a number (null)"),
    ("NaN", "argument amount is not a finite number (a string)"),
    (float("inf"), "argument amount is not a finite number (a number)"),
])
def test_an_evaluation_error_names_the_argument_and_its_json_type_never_its_value(value: Any, why: str) -> None:
    decision = decide(rules({"name": "cap", "effect": "deny", "when": {"args": {"amount": {"gt": 1000}}}}, default="allow"),
                      "transfer_funds", {"amount": value})
    assert decision.errors == (f"cap: {why}",)
    assert decision.reason == f"rule cap could not be evaluated (cap: {why}); denied rather than skipping a restriction"


def test_an_unexpected_exception_in_a_condition_is_reported_by_its_type_only() -> None:
    policy = compile_policy(rules({"name": "r", "effect": "deny", "when": {"tool": "send_email"}}, default="allow"), TOOLS)

    def fails(call: ToolCall, facts: SessionFacts, now: datetime) -> bool:
        raise KeyError(f"no contact {call.arguments['to']}")

    rule = dataclasses.replace(policy.by_tool["send_email"][0], when=(Condition("fails", fails),))
    policy = dataclasses.replace(policy, by_tool={**policy.by_tool, "send_email": (rule,)})
    decision = evaluate(policy, ToolCall("send_email", {"to": "SECRET-4111111111111111"}), SessionFacts(), NOW)
    assert (decision.effect, decision.rule, decision.errors) == (Effect.DENY, "r", ("r: internal error (KeyError)",))
    assert "SECRET" not in decision.reason


def test_regex_on_non_text_is_an_error_not_a_match() -> None:
    policies = rules({"name": "r", "effect": "deny", "when": {"args": {"path": {"regex": "x"}}}}, default="allow")
    decision = decide(policies, "send_email", {"path": {"nested": 1}})
    assert decision.effect is Effect.DENY and decision.errors


# --------------------------------------------------------------------------- malformed policies

MALFORMED: list[tuple[str, Any, str]] = [
    ("static verdict", {"staticRules": {"x": "MAYBE"}}, "policies.staticRules.x: must be ALLOW or DENY"),
    ("static shape", {"staticRules": ["x"]}, "policies.staticRules: must be a mapping"),
    ("taint type", {"taintRules": [{"type": "NOPE"}]}, "policies.taintRules[0]: unknown type"),
    ("taint fields", {"taintRules": [{"type": "ADD_TAINT", "tool": "x"}]}, "ADD_TAINT needs tool and tag"),
    ("check tags", {"taintRules": [{"type": "CHECK_TAINT", "tool": "x", "forbidden_tags": "web"}]}, "forbidden_tags (a list)"),
    ("block fields", {"taintRules": [{"type": "BLOCK_SECOND", "first": "x"}]}, "BLOCK_SECOND needs first and second"),
    ("rules shape", {"rules": {"a": 1}}, "policies.rules: must be a list"),
    ("rule shape", {"rules": ["allow"]}, "policies.rules[0]: must be a mapping"),
    ("no name", {"rules": [{"effect": "allow"}]}, "every rule needs a name"),
    ("dup name", {"rules": [{"name": "a", "effect": "allow"}, {"name": "a", "effect": "deny"}]}, "names must be unique"),
    ("effect", {"rules": [{"name": "a", "effect": "permit"}]}, "must be allow, deny or require_approval"),
    ("unknown field", {"rules": [{"name": "a", "effect": "deny", "whenn": {}}]}, "unknown field 'whenn'"),
    ("unknown condition", {"rules": [{"name": "a", "effect": "deny", "when": {"tools": "x"}}]}, "unknown condition 'tools'"),
    ("class", {"rules": [{"name": "a", "effect": "deny", "when": {"class": "WRITE"}}]}, "'WRITE' is not a security class"),
    ("regex", {"rules": [{"name": "a", "effect": "deny", "when": {"args": {"p": {"regex": "("}}}}]}, "invalid regex"),
    ("arg test", {"rules": [{"name": "a", "effect": "deny", "when": {"args": {"p": {"like": "x"}}}}]}, "unknown test 'like'"),
    ("range type", {"rules": [{"name": "a", "effect": "deny", "when": {"args": {"p": {"gt": "5"}}}}]}, "gt must be a number"),
    ("tz", {"rules": [{"name": "a", "effect": "deny", "when": {"time": {"tz": "Mars/Base"}}}]}, "unknown time zone"),
    ("hours", {"rules": [{"name": "a", "effect": "deny", "when": {"time": {"hours": "9-17"}}}]}, "is not a time of day"),
    ("days", {"rules": [{"name": "a", "effect": "deny", "when": {"time": {"days": ["funday"]}}}]}, "unknown day"),
    ("flow kinds", {"rules": [{"name": "a", "effect": "deny", "when": {"flows_from_untrusted": {"kinds": ["ssn"]}}}]}, "unknown kind"),
    ("default", {"default": "maybe"}, "policies.default: must be allow, deny or require_approval"),
    ("policies not a mapping", ["x"], "policies: must be a mapping"),
]


@pytest.mark.parametrize(("case", "policies", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_policy_is_refused_with_its_place(case: str, policies: Any, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        compile_policy(policies, TOOLS)
    assert any(message in p for p in info.value.problems), info.value.problems
    assert info.value.code == "invalid_policy"


def test_every_problem_is_reported_not_just_the_first() -> None:
    policies = {"staticRules": {"a": "X"}, "taintRules": [{"type": "?"}], "rules": [{"name": "r", "effect": "?"}, {"effect": "allow"}]}
    with pytest.raises(PolicyError) as info:
        compile_policy(policies, [{"class": "SAFE_READ"}])
    assert len(info.value.problems) == 5


def test_bad_tool_definitions_are_problems() -> None:
    with pytest.raises(PolicyError) as info:
        compile_policy({}, [{"name": "a", "class": "WRITE"}, {"name": "a"}, "b"])
    assert len(info.value.problems) == 3
