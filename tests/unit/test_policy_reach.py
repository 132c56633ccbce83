"""``could_allow``: a tool is hidden from a caller's tool list only when every session state denies it."""

from __future__ import annotations

from typing import Any

import pytest

from sentinel_policy import compile_policy, could_allow

TOOLS = [
    {"name": "read_inbox", "class": "UNTRUSTED_READ"},
    {"name": "send_email", "class": "CONSEQUENTIAL_WRITE"},
    {"name": "deploy", "class": "CONSEQUENTIAL_WRITE"},
    {"name": "delete_file", "class": "CONSEQUENTIAL_WRITE"},
    {"name": "write_note", "class": "INTERNAL_WRITE"},
]
POLICIES: dict[str, Any] = {
    "staticRules": {"read_inbox": "ALLOW", "send_email": "ALLOW", "delete_file": "DENY"},
    "taintRules": [{"type": "CHECK_TAINT", "tool": "send_email", "forbidden_tags": ["untrusted"]}],
    "rules": [
        {"name": "interns-never-deploy", "effect": "deny", "when": {"tool": "deploy", "agent": "intern-*"}},
        {"name": "release-deploys", "effect": "allow", "when": {"tool": "deploy", "agent": "release-*"},
         "unless": {"agent": "release-frozen"}},
        {"name": "hold-notes", "effect": "require_approval", "when": {"tool": "write_note"}},
    ],
}
POLICY = compile_policy(POLICIES, TOOLS)


@pytest.mark.parametrize(("tool", "agent", "expected"), [
    ("read_inbox", None, True),  # static allow
    ("delete_file", "release-1", False),  # static deny: for everyone
    ("send_email", None, True),  # denied only once the session is tainted: still offered
    ("deploy", "intern-3", False),  # an agent rule denies it whatever the state
    ("deploy", "release-2", True),
    ("deploy", "release-frozen", False),  # exempted from the allow, then the default denies
    ("deploy", None, False),  # no rule allows an undeclared agent: the default denies
    ("write_note", "anyone", True),  # held for approval is not denied
    ("not_a_tool", None, False),
])
def test_could_allow(tool: str, agent: str | None, expected: bool) -> None:
    assert could_allow(POLICY, tool, project="p", agent=agent) is expected


def test_a_deny_that_depends_on_the_session_hides_nothing_a_later_rule_allows() -> None:
    policy = compile_policy({"rules": [
        {"name": "no-send-when-tainted", "effect": "deny", "when": {"tool": "send_email", "taint": ["untrusted"]}},
        {"name": "send", "effect": "allow", "when": {"tool": "send_email"}},
    ]}, TOOLS)
    assert could_allow(policy, "send_email", project="p", agent=None)
