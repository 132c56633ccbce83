"""Policies and tools are JSON values only: what validates is what every store keeps.

A value a store cannot keep (Infinity, NaN, a date, a 24-digit integer, a
non-text key) is a validation problem with its place, so `policy validate`,
`policy push` and the interceptor agree on it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from interceptor.config import YamlConfigStore, api_key_sha256
from sentinel_cli import main
from sentinel_policy import PolicyError, compile_policy
from sentinel_policy._json_values import MAX_INT, json_value_problems


def _rule(args: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [{"name": "cap", "effect": "deny", "when": {"tool": "pay", "args": args}}]}


TOOLS = [{"name": "pay", "class": "CONSEQUENTIAL_WRITE"}]


@pytest.mark.parametrize(("args", "problem"), [
    ({"amount": {"lt": float("inf")}}, "policies.rules[0].when.args.amount.lt: not a JSON value (Infinity)"),
    ({"amount": {"gt": float("-inf")}}, "policies.rules[0].when.args.amount.gt: not a JSON value (-Infinity)"),
    ({"amount": {"gt": float("nan")}}, "policies.rules[0].when.args.amount.gt: not a JSON value (NaN)"),
    ({"amount": {"gt": 10**23}}, "policies.rules[0].when.args.amount.gt: not a JSON value (an integer of 24 digits"),
    ({"amount": {"gt": MAX_INT}}, "policies.rules[0].when.args.amount.gt: not a JSON value (an integer"),
    ({"amount": {"gt": -MAX_INT}}, "policies.rules[0].when.args.amount.gt: not a JSON value (an integer"),
    ({"day": {"in": ["2026-12-25", date(2026, 12, 24)]}}, "policies.rules[0].when.args.day.in[1]: not a JSON value (a date"),
    ({"at": {"eq": datetime(2026, 1, 1, tzinfo=UTC)}}, "policies.rules[0].when.args.at.eq: not a JSON value (a timestamp"),
    ({"blob": {"eq": b"\x00"}}, "policies.rules[0].when.args.blob.eq: not a JSON value (binary data"),
    ({"tag": {"in": {"a", "b"}}}, "policies.rules[0].when.args.tag.in: not a JSON value (a set"),
])
def test_a_value_that_is_not_json_is_a_problem_with_its_place(args: dict[str, Any], problem: str) -> None:
    with pytest.raises(PolicyError) as caught:
        compile_policy(_rule(args), TOOLS)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_a_key_that_is_not_text_is_a_problem() -> None:
    with pytest.raises(PolicyError) as caught:
        compile_policy({"staticRules": {1: "ALLOW", False: "DENY"}}, TOOLS)
    assert [p for p in caught.value.problems if "not a JSON value" in p] == [
        "policies.staticRules: not a JSON value (the key 1 is a number, not text; quote it)",
        "policies.staticRules: not a JSON value (the key False is a boolean, not text; quote it)",
    ]


def test_tool_schemas_are_json_values_too() -> None:
    tools = [{"name": "pay", "input_schema": {"properties": {"day": {"default": date(2026, 1, 1)}, "n": {"maximum": float("inf")}}}}]
    with pytest.raises(PolicyError) as caught:
        compile_policy({}, tools)
    assert caught.value.problems == [
        "tools[0].input_schema.properties.day.default: not a JSON value (a date; quote it to make it text)",
        "tools[0].input_schema.properties.n.maximum: not a JSON value (Infinity)",
    ]


@pytest.mark.parametrize("value", [MAX_INT - 1, -(MAX_INT - 1), 0, 1.5, -0.0, 1e308, "x", True, None, [1, "a"], (1, 2), {"k": [{}]}])
def test_json_values_at_the_bounds_compile(value: Any) -> None:
    assert json_value_problems({"v": value}, "p") == []
    compile_policy(_rule({"amount": {"in": [value]}}) if not isinstance(value, dict) else {}, TOOLS)


def test_a_deep_document_is_a_problem_list_not_a_crash() -> None:
    deep: Any = float("inf")
    for _ in range(5000):
        deep = [deep]
    assert json_value_problems(deep, "p") == ["p" + "[0]" * 5000 + ": not a JSON value (Infinity)"]


@pytest.mark.parametrize(("name", "content", "problem"), [
    ("inf.json", '{"policies": {"rules": [{"name": "u", "effect": "allow", "when": {"tool": "pay", "args": {"amount": {"lt": Infinity}}}}]}}',
     "policies.rules[0].when.args.amount.lt: not a JSON value (Infinity)"),
    ("big.json", '{"policies": {"rules": [{"name": "c", "effect": "deny", "when": {"tool": "pay", "args": {"amount": {"gt": 100000000000000000000000}}}}]}}',
     "policies.rules[0].when.args.amount.gt: not a JSON value (an integer of 24 digits"),
    ("date.yaml", "policies:\n  rules:\n    - {name: b, effect: deny, when: {tool: pay, args: {day: {in: [2026-12-24]}}}}\n",
     "policies.rules[0].when.args.day.in[0]: not a JSON value (a date"),
])
def test_validate_and_push_refuse_the_same_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, problem: str
) -> None:
    policy = tmp_path / name
    policy.write_text(content)
    assert main(["policy", "validate", str(policy), "--tools", _tools(tmp_path)]) == 1
    assert problem in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    assert main(["keys", "create", "--project", "p", "--config", str(config)]) == 0
    before = config.read_text()
    capsys.readouterr()
    assert main(["policy", "push", "p", str(policy), "--config", str(config)]) == 1
    assert problem in capsys.readouterr().err
    assert config.read_text() == before


async def test_a_hand_edited_date_fails_the_project_closed_in_the_interceptor(tmp_path: Path) -> None:
    # What validate refuses, the interceptor refuses too: the project's calls fail closed (policy_invalid).
    from interceptor.testing import running_interceptor

    config = tmp_path / "c.yaml"
    config.write_text(
        f"projects:\n  - name: p\n    api_key_sha256: {api_key_sha256('sk-p')}\n    tools: []\n"
        "    policies: {default: allow, rules: [{name: b, effect: deny, when: {tool: pay, args: {day: {in: [2026-12-24]}}}}]}\n"
    )
    assert (await YamlConfigStore(config).get_project("p")) is not None  # the file itself is readable
    async with running_interceptor(None, config_path=config, audit_log=tmp_path / "a.jsonl") as harness:  # type: ignore[arg-type]
        response = await harness.client.post("/session/start", headers={"X-Sentinel-Key": "sk-p"})
        assert response.status_code == 503 and response.json()["error"]["code"] == "policy_invalid"


def _tools(tmp_path: Path) -> str:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(TOOLS))
    return str(path)
