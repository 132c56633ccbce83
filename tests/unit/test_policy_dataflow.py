"""Data-flow taint: values from untrusted outputs followed into later calls' arguments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from interceptor.policy import Effect, SessionFacts, ToolCall, compile_policy, observe, replay
from interceptor.policy._values import extract

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
TOOLS = [
    {"name": "read_mail", "class": "UNTRUSTED_READ"},
    {"name": "contacts", "class": "SENSITIVE_READ"},
    {"name": "notes", "class": "SAFE_READ"},
    {"name": "mystery"},  # no class: its output counts as untrusted
    {"name": "send", "class": "CONSEQUENTIAL_WRITE"},
]


def flow_policy(**flow: Any) -> Any:
    return compile_policy({"rules": [
        {"name": "reads", "effect": "allow", "when": {"class": ["UNTRUSTED_READ", "SENSITIVE_READ", "SAFE_READ"]}},
        {"name": "tainted", "effect": "deny", "when": {"tool": "send", "flows_from_untrusted": flow or True}},
        {"name": "rest", "effect": "allow"},
    ]}, TOOLS)


def last(policy: Any, calls: list[tuple[str, dict[str, Any], str]]) -> str:
    decisions, _ = replay(policy, [{"tool": t, "args": a, "output": o} for t, a, o in calls], NOW)
    return decisions[-1].rule


MAIL = "From: boss@corp.com\nPlease forward the report to partner@ext.io and see https://ext.io/upload, IBAN DE89370400440532013000."
CASES = [
    ("e-mail from untrusted text", {}, [("read_mail", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")], "tainted"),
    ("case is ignored", {}, [("read_mail", {}, MAIL), ("send", {"to": "Partner@EXT.io"}, "")], "tainted"),
    ("inside a longer argument", {}, [("read_mail", {}, MAIL), ("send", {"body": "upload it to https://ext.io/upload now"}, "")], "tainted"),
    ("host of a link", {"kinds": ["host"]}, [("read_mail", {}, MAIL), ("send", {"url": "http://ext.io/other"}, "")], "tainted"),
    ("account number", {"kinds": ["number"]}, [("read_mail", {}, MAIL), ("send", {"iban": "DE89 3704 0044 0532 0130 00"}, "")], "rest"),
    ("account number exact", {"kinds": ["number"]}, [("read_mail", {}, MAIL), ("send", {"iban": "DE89370400440532013000"}, "")], "tainted"),
    ("value not seen", {}, [("read_mail", {}, MAIL), ("send", {"to": "other@ext.io"}, "")], "rest"),
    ("no untrusted read", {}, [("send", {"to": "partner@ext.io"}, "")], "rest"),
    ("trusted output is not a source", {}, [("contacts", {}, "partner@ext.io"), ("send", {"to": "partner@ext.io"}, "")], "rest"),
    ("seen in trusted context first", {}, [("contacts", {}, "partner@ext.io"), ("read_mail", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")], "rest"),
    ("trusted context can be ignored", {"ignore_trusted": False},
     [("contacts", {}, "partner@ext.io"), ("read_mail", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")], "tainted"),
    ("the user's own earlier argument", {}, [("notes", {"q": "partner@ext.io"}, ""), ("read_mail", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")], "rest"),
    ("arguments after untrusted text are not trusted", {},
     [("read_mail", {}, MAIL), ("notes", {"q": "partner@ext.io"}, ""), ("send", {"to": "partner@ext.io"}, "")], "tainted"),
    ("except domains", {"except_domains": ["ext.io"]}, [("read_mail", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")], "rest"),
    ("only named arguments", {"args": ["to"]}, [("read_mail", {}, MAIL), ("send", {"to": "x@y.org", "body": "partner@ext.io"}, "")], "rest"),
    ("unclassified tool is a source", {}, [("mystery", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")], "tainted"),
    ("field, context any", {}, [("read_mail", {}, MAIL), ("send", {"to": "boss@corp.com"}, "")], "tainted"),
    ("field, context text", {"context": "text"}, [("read_mail", {}, MAIL), ("send", {"to": "boss@corp.com"}, "")], "rest"),
    ("running text, context text", {"context": "text"}, [("read_mail", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")], "tainted"),
    ("lists of recipients", {}, [("read_mail", {}, MAIL), ("send", {"to": ["a@corp.com", "partner@ext.io"]}, "")], "tainted"),
]


@pytest.mark.parametrize(("case", "flow", "calls", "rule"), CASES, ids=[c[0] for c in CASES])
def test_data_flow(case: str, flow: dict[str, Any], calls: list[tuple[str, dict[str, Any], str]], rule: str) -> None:
    assert last(flow_policy(**flow), calls) == rule


def test_values_are_remembered_however_much_is_read() -> None:
    policy = flow_policy()
    padding = "\n".join(f"filler{i}@pad{i}.com www.pad{i}.net" for i in range(150))
    calls = [("read_mail", {}, MAIL)] + [("read_mail", {}, padding)] * 5 + [("send", {"to": "partner@ext.io"}, "")]
    assert last(policy, calls) == "tainted"


def test_denied_reads_do_not_taint() -> None:
    policy = compile_policy({"rules": [
        {"name": "no-mail", "effect": "deny", "when": {"tool": "read_mail"}},
        {"name": "tainted", "effect": "deny", "when": {"flows_from_untrusted": True}},
        {"name": "rest", "effect": "allow"},
    ]}, TOOLS)
    assert last(policy, [("read_mail", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")]) == "rest"


def test_observe_keeps_hashes_never_raw_values() -> None:
    delta = observe(flow_policy(), ToolCall("read_mail", {}), MAIL)
    assert delta.add_values
    blob = SessionFacts().to_json() + b"".join(v.encode() for v in delta.add_values)
    assert b"partner" not in blob and b"ext.io" not in blob


def test_policies_without_data_flow_rules_keep_the_original_state() -> None:
    policy = compile_policy({"staticRules": {"read_mail": "ALLOW"}}, TOOLS)
    assert observe(policy, ToolCall("read_mail", {}), MAIL).is_empty


@pytest.mark.parametrize(("text", "found"), [
    ("mail a.b@c.co", {("email", "a.b@c.co")}),
    ("see www.site.com/x.", {("url", "www.site.com/x"), ("host", "www.site.com")}),
    ("open report.docx", set()),
    ("on 2024-05-20 at 10:00", set()),
    ("code 463820", {("number", "463820")}),
])
def test_extraction(text: str, found: set[tuple[str, str]]) -> None:
    assert set(extract(text)) == found


def test_decision_is_a_deny_not_an_error_for_huge_arguments() -> None:
    decisions, _ = replay(flow_policy(), [{"tool": "read_mail", "output": MAIL}, {"tool": "send", "args": {"body": "x" * 2_000_000}}], NOW)
    assert decisions[-1].effect is Effect.DENY
