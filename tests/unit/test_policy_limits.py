"""Rate limits in the policy: parsed strictly, and counted per the scope they name, never colliding."""

from __future__ import annotations

from typing import Any

import pytest

from sentinel_policy import PolicyError, compile_policy, counters

TOOLS = [{"name": "send_email", "class": "CONSEQUENTIAL_WRITE"}, {"name": "read_inbox", "class": "UNTRUSTED_READ"}]


def limits(*items: dict[str, Any]) -> Any:
    return compile_policy({"limits": list(items)}, TOOLS).limits


def test_a_limit_counts_only_what_it_names() -> None:
    policy = limits({"name": "mail", "per": "session", "calls": 5, "seconds": 60, "tool": "send_*"},
                    {"name": "starts", "per": "key", "sessions": 10, "seconds": 60})
    mail = counters(policy, 125.0, project="p", key_hash="k", agent=None, sid="s1", tool="send_email")
    assert [(c.limit.name, c.resets_at) for c in mail] == [("mail", 180)]
    assert counters(policy, 125.0, project="p", key_hash="k", agent=None, sid="s1", tool="read_inbox") == []
    start = counters(policy, 125.0, project="p", key_hash="k", agent=None)
    assert [c.limit.name for c in start] == ["starts"]


@pytest.mark.parametrize(("a", "b"), [
    ({"project": "p1"}, {"project": "p2"}),  # the same limit name in two projects
    ({"agent": "bot"}, {"agent": None}),
    ({"agent": "a:b"}, {"agent": "a", "project": "b"}),  # a name that spells another scope
    ({"sid": "s1"}, {"sid": "s2"}),
])
def test_counters_of_different_scopes_never_share_a_key(a: dict[str, Any], b: dict[str, Any]) -> None:
    policy = limits({"name": "x", "per": "agent", "calls": 1, "seconds": 60},
                    {"name": "y", "per": "session", "calls": 1, "seconds": 60})
    base = {"project": "p", "key_hash": "k", "agent": "bot", "sid": "s", "tool": "send_email"}
    keys_a = {c.key for c in counters(policy, 0, **{**base, **a})}
    keys_b = {c.key for c in counters(policy, 0, **{**base, **b})}
    assert keys_a != keys_b


@pytest.mark.parametrize("item", [
    {"name": "x", "per": "session", "calls": 0, "seconds": 60},
    {"name": "x", "per": "session", "calls": 5},
    {"name": "x", "per": "everyone", "calls": 5, "seconds": 60},
    {"name": "x", "per": "session", "sessions": 5, "seconds": 60},  # sessions are not counted per session
    {"name": "x", "per": "key", "calls": 5, "sessions": 5, "seconds": 60},
    {"name": "x", "per": "key", "sessions": 5, "seconds": 60, "tool": "send_email"},
    {"name": "x y", "per": "key", "calls": 5, "seconds": 60},
    {"name": "x", "per": "key", "calls": True, "seconds": 60},
    {"name": "x", "per": "key", "calls": 5, "seconds": 60, "burst": 3},
])
def test_a_malformed_limit_is_a_policy_error(item: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        limits(item)
