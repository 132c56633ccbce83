"""Data-flow taint: values from untrusted outputs followed into later calls' arguments."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from sentinel_policy import Effect, SessionFacts, ToolCall, compile_policy, observe, replay
from sentinel_policy._dataflow import MAX_DEPTH, RuleEvalError, digest, strings
from sentinel_policy._values import addresses, extract

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
    ("account number printed in groups", {"kinds": ["number"]},
     [("read_mail", {}, MAIL), ("send", {"iban": "DE89 3704 0044 0532 0130 00"}, "")], "tainted"),
    ("account number lower case", {"kinds": ["number"]}, [("read_mail", {}, MAIL), ("send", {"iban": "de89370400440532013000"}, "")], "tainted"),
    ("grouped in the output, followed by a word", {"kinds": ["number"]},
     [("read_mail", {}, "pay DE89 3704 0044 0532 0130 00 to me"), ("send", {"iban": "DE89370400440532013000"}, "")], "tainted"),
    ("grouped in the output, a 4-letter word after it", {"kinds": ["number"]},
     [("read_mail", {}, "pay xx13 evil 0000 6666 6666 from now on"), ("send", {"body": "sent to XX13 EVIL 0000 6666 6666 done"}, "")], "tainted"),
    ("another account at the same bank", {"kinds": ["number"]},
     [("read_mail", {}, "pay DE89 3704 0044 0532 0130 00"), ("send", {"iban": "DE89 3704 0044 9999 9999 99"}, "")], "rest"),
    ("the shortest IBAN, printed", {"kinds": ["number"]},
     [("read_mail", {}, "pay NO93 8601 1117 947 to me"), ("send", {"iban": "no9386011117947"}, "")], "tainted"),
    ("address with an ideographic full stop", {"kinds": ["email"]},
     [("read_mail", {}, "write to partner@ext\u3002io"), ("send", {"to": "PARTNER@ext.io"}, "")], "tainted"),
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
    ("except domains covers links", {"except_domains": ["ext.io"]},
     [("read_mail", {}, MAIL), ("send", {"body": "see https://ext.io/upload"}, "")], "rest"),
    ("except domains, link elsewhere", {"except_domains": ["ext.io"]},
     [("read_mail", {}, "see https://evil.io/x"), ("send", {"body": "see https://evil.io/x"}, "")], "tainted"),
    ("only named arguments", {"args": ["to"]}, [("read_mail", {}, MAIL), ("send", {"to": "x@y.org", "body": "partner@ext.io"}, "")], "rest"),
    ("unclassified tool is a source", {}, [("mystery", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")], "tainted"),
    ("field, context any", {}, [("read_mail", {}, MAIL), ("send", {"to": "boss@corp.com"}, "")], "tainted"),
    ("field, context text", {"context": "text"}, [("read_mail", {}, MAIL), ("send", {"to": "boss@corp.com"}, "")], "rest"),
    ("running text, context text", {"context": "text"}, [("read_mail", {}, MAIL), ("send", {"to": "partner@ext.io"}, "")], "tainted"),
    ("lists of recipients", {}, [("read_mail", {}, MAIL), ("send", {"to": ["a@corp.com", "partner@ext.io"]}, "")], "tainted"),
    ("a trusted lookup that echoes its query vouches for nothing", {},
     [("read_mail", {}, MAIL), ("contacts", {"query": "partner@ext.io"}, "No contacts found with email partner@ext.io"),
      ("send", {"to": "partner@ext.io"}, "")], "tainted"),
    ("an echo is recognised as values are compared", {},
     [("read_mail", {}, MAIL), ("contacts", {"query": ["PARTNER@ext\u3002io"]}, "no match for partner@ext.io"),
      ("send", {"to": "partner@ext.io"}, "")], "tainted"),
    ("an echoed account number vouches for nothing", {"kinds": ["number"]},
     [("read_mail", {}, MAIL), ("notes", {"q": "DE89 3704 0044 0532 0130 00"}, "nothing about DE89370400440532013000"),
      ("send", {"iban": "DE89370400440532013000"}, "")], "tainted"),
    ("a lookup by name vouches for the address it returns", {},
     [("read_mail", {}, MAIL), ("contacts", {"query": "Partner"}, "Partner Inc: partner@ext.io"), ("send", {"to": "partner@ext.io"}, "")], "rest"),
    ("an echo of one value does not hide another", {},
     [("read_mail", {}, MAIL), ("contacts", {"query": "x@ext.io"}, "x@ext.io: see partner@ext.io"), ("send", {"to": "partner@ext.io"}, "")], "rest"),
    ("an account number as a JSON float", {"kinds": ["number"]},
     [("read_mail", {}, "pay account 98765432"), ("send", {"account": 98765432.0}, "")], "tainted"),
    ("an account number in exponent notation", {"kinds": ["number"]},
     [("read_mail", {}, "pay account 98765432"), ("send", {"account": 9.8765432e7}, "")], "tainted"),
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


def nest(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


def test_a_trusted_output_that_echoes_the_arguments_records_only_what_is_new() -> None:
    call = ToolCall("contacts", {"query": "Partner@Ext.io", "page": {"n": [463820.0]}})
    delta = observe(flow_policy(), call, "no contact partner@ext.io on page 463820\nsee also boss@corp.com")
    assert delta.add_values == {"t:" + digest("email", "boss@corp.com")}


def test_a_trusted_output_of_a_call_too_deep_to_read_vouches_for_nothing() -> None:
    call = ToolCall("contacts", {"query": nest("x", MAX_DEPTH + 1)})
    assert observe(flow_policy(), call, "partner@ext.io").is_empty


def test_an_allowed_call_too_deep_to_read_is_allowed_and_vouches_for_nothing() -> None:
    decisions, _ = replay(flow_policy(), [{"tool": "send", "args": {"to": "a@corp.com", "x": nest("b@corp.com", MAX_DEPTH + 1)}}], NOW)
    assert decisions[-1].rule == "tainted" and decisions[-1].effect is Effect.DENY  # the data-flow rule cannot read it: fail closed
    policy = compile_policy({"rules": [{"name": "flow", "effect": "deny", "when": {"tool": "contacts", "flows_from_untrusted": True}},
                                       {"name": "rest", "effect": "allow"}]}, TOOLS)
    decision = replay(policy, [{"tool": "send", "args": {"to": "a@corp.com", "x": nest("b@corp.com", MAX_DEPTH + 1)}}], NOW)[0][-1]
    assert decision.effect is Effect.ALLOW and not decision.delta.add_values


@pytest.mark.parametrize(("value", "texts"), [
    (98765432.0, ["98765432"]),
    (-5.0, ["-5"]),
    (1.5, ["1.5"]),
    (1e20, ["1e+20"]),  # past 2**63: as Python prints it
    (float("nan"), ["nan"]),
    (float("inf"), ["inf"]),
    (12, ["12"]),
    (True, []),
    (None, []),
    ({"a": ["x", {"b": 2.0}]}, ["x", "2"]),
    (nest("deep", 64), ["deep"]),  # as deep as the canonical JSON goes: still read
])
def test_strings_inside_an_argument_value(value: Any, texts: list[str]) -> None:
    assert list(strings(value)) == texts


@pytest.mark.parametrize("value", [nest("deep", MAX_DEPTH + 1), {"a": nest({"b": "deep"}, MAX_DEPTH)}])
def test_strings_refuses_a_value_nested_deeper_than_the_bound(value: Any) -> None:
    with pytest.raises(RuleEvalError, match="nested deeper than 64"):
        list(strings(value))


def test_policies_without_data_flow_rules_keep_the_original_state() -> None:
    policy = compile_policy({"staticRules": {"read_mail": "ALLOW"}}, TOOLS)
    assert observe(policy, ToolCall("read_mail", {}), MAIL).is_empty


@pytest.mark.parametrize(("text", "found"), [
    ("mail a.b@c.co", {("email", "a.b@c.co")}),
    ("see www.site.com/x.", {("url", "www.site.com/x"), ("host", "www.site.com")}),
    ("open report.docx", set()),
    ("on 2024-05-20 at 10:00", set()),
    ("code 463820", {("number", "463820")}),
    ("pay to account 98765432.", {("number", "98765432")}),  # the end of a sentence is not a decimal point
    ("account 98765432-", {("number", "98765432")}),
    ("version 1234567.5, id 123456:78", set()),
    ("host 192.168.100.100", {("host", "192.168.100.100")}),
    ("iban de89370400440532013000", {("number", "DE89370400440532013000")}),
    ("iban DE89 3704 0044 0532 0130 00.", {("number", n) for n in ("DE89370400440532", "DE893704004405320130",
                                                                    "DE89370400440532013000")}),
    ("iban DE89  3704 0044 0532", set()),  # not printed as an IBAN is: not an account number
    ("A@Corp\uff0ecom", {("email", "a@corp.com")}),
    # as a browser reads it (evil.io), and as a Markdown reader does (\@ is @: corp.com, with evil.io as its user)
    ("see http://evil.io\\@corp.com/x", {("url", "evil.io\\@corp.com/x"), ("host", "evil.io"), ("url", "corp.com/x"),
                                          ("host", "corp.com"), ("email", "evil.io@corp.com")}),
])
def test_extraction(text: str, found: set[tuple[str, str]]) -> None:
    assert set(extract(text)) == found


def test_decision_is_a_deny_not_an_error_for_huge_arguments() -> None:
    decisions, _ = replay(flow_policy(), [{"tool": "read_mail", "output": MAIL}, {"tool": "send", "args": {"body": "x" * 2_000_000}}], NOW)
    assert decisions[-1].effect is Effect.DENY


@pytest.mark.parametrize("text", [
    "de12 " * 200_000, "a@" * 300_000, "x" * 600_000 + "@", "http://" * 100_000, "ab12" + "c" * 600_000, "+1 " * 300_000,
])
def test_extraction_stays_linear_on_long_adversarial_text(text: str) -> None:
    # Generous bound: a quadratic pattern takes minutes on these; linear scanning takes well under a second.
    started = time.perf_counter()
    list(extract(text))
    addresses(text, "email"), addresses(text, "host")
    assert time.perf_counter() - started < 5
