"""`policy lint`: the warning for restricting rules that one more list element in an argument defeats."""

from __future__ import annotations

from typing import Any

import pytest

from sentinel_policy import lint_policy

TOOLS = [{"name": "share", "class": "CONSEQUENTIAL_WRITE"}]


def warnings_for(effect: str, when_args: dict[str, Any] | None = None, unless_args: dict[str, Any] | None = None) -> list[str]:
    rule: dict[str, Any] = {"name": "r", "effect": effect, "when": {"tool": "share", **({"args": when_args} if when_args else {})}}
    if unless_args:
        rule["unless"] = {"args": unless_args}
    return [w for w in lint_policy({"default": "allow", "rules": [rule]}, TOOLS) if "one more element" in w]


@pytest.mark.parametrize("effect", ["deny", "require_approval"])
@pytest.mark.parametrize("test", [
    {"in": ["x@evil.io"]}, {"not_in": ["a@corp.com"]}, {"regex": "^/etc/"}, {"equals": "x@evil.io"},
    {"domain_in": ["evil.io"]}, {"host_in": ["evil.io"]},
])
def test_a_restriction_that_an_extra_list_element_defeats_is_flagged(effect: str, test: dict[str, Any]) -> None:
    found = warnings_for(effect, when_args={"to": test})
    assert len(found) == 1
    assert found[0].startswith(f"policies.rules[0] (r).when.args.to.{next(iter(test))}: if to is a list, one more element stops matching")


@pytest.mark.parametrize("test", [{"contains": "corp.com"}, {"domain_not_in": ["corp.com"]}, {"not_equals": "a"}])
def test_an_exemption_that_an_extra_list_element_satisfies_is_flagged(test: dict[str, Any]) -> None:
    found = warnings_for("deny", unless_args={"to": test})
    assert len(found) == 1 and ".unless.args.to." in found[0] and "exempts the call" in found[0]


@pytest.mark.parametrize(("effect", "when_args", "unless_args"), [
    ("allow", {"to": {"in": ["a@corp.com"]}}, None),  # an allow rule that needs every element is the safe direction
    ("deny", {"to": {"domain_not_in": ["corp.com"]}}, None),
    ("deny", {"to": {"contains": "evil.io"}}, None),
    ("deny", {"amount": {"gt": 1000}}, None),
    ("deny", None, {"to": {"not_in": ["x@evil.io"]}}),
    ("deny", None, {"to": {"in": ["a@corp.com"]}}),
    ("deny", None, {"to": {"domain_in": ["corp.com"]}}),
])
def test_tests_an_extra_element_cannot_defeat_are_not_flagged(effect: str, when_args: Any, unless_args: Any) -> None:
    assert warnings_for(effect, when_args, unless_args) == []
