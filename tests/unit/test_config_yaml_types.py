"""The YAML store writes what the interceptor reads back: YAML 1.1 scalars, floats, duplicate keys.

The interceptor reads the file with PyYAML (YAML 1.1), the store writes it with
ruamel.yaml (YAML 1.2 by default); every test here pushes or rewrites and reads
back with the interceptor's reader.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from interceptor.config import ConfigStoreError, YamlConfigStore, api_key_sha256, load_yaml
from sentinel_cli import main
from sentinel_policy import SessionFacts, ToolCall, compile_policy, evaluate

# Plain strings that a YAML 1.1 reader turns into something else unless they are quoted.
AMBIGUOUS = [
    "yes", "no", "on", "off", "y", "n", "Y", "N", "Yes", "NO", "Off", "ON", "true", "false", "True", "FALSE",
    "~", "null", "Null", "NULL", "", "1:20", "10:30", "-1:20", "190:20:30.15", "0x1F", "0o17", "0b101", "012",
    "1_000", "+1", "-1", "1", "1.5", "1e3", "1.0e3", "1.0e+3", ".inf", "-.inf", ".nan", ".NaN",
    "2026-12-24", "2026-12-24 10:00:00", "2001-12-14t21:59:43.10-05:00", "<<", "=", " leading", "trailing ",
    "a: b", "#hash", "@at", "`tick", "- dash", "[x]", "{x}", "*alias", "&anchor", "!tag", "%pct", "|", ">", "'", '"',
    "multi\nline", "tab\there", "é", "12:00-13:00",
]
NUMBERS = [0, 1, -1, 2**62, -(2**62), 0.1, 1.0, -2.5, 1e20, 1e-7, 5e-324, 1.7976931348623157e308, 1e16, 123456789012345.6, -0.0]
TOOLS = [
    {
        "name": "set_mode",
        "class": "INTERNAL_WRITE",
        "input_schema": {"type": "object", "properties": {"mode": {"type": "string", "enum": AMBIGUOUS, "default": "off"}}},
    },
]
POLICY = {
    "default": "allow",
    "rules": [
        {"name": "no-off", "effect": "deny", "when": {"tool": "set_mode", "args": {"mode": {"in": AMBIGUOUS}}}},
        {"name": "numbers", "effect": "deny", "when": {"tool": "set_mode", "args": {"level": {"in": NUMBERS}}}},
    ],
    "staticRules": {"off": "ALLOW", "1:20": "ALLOW", "yes": "DENY"},
}


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same JSON types all the way down (True is not 1, 1 is not 1.0)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and (a == b or (a != a and b != b))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "sentinel.yaml"
    p.write_text(f"projects:\n  - name: p\n    api_key_sha256: {api_key_sha256('sk-p')}\n    tools: []\n    policies: {{}}\n")
    return p


async def test_ambiguous_strings_and_numbers_read_back_as_pushed(path: Path) -> None:
    store = YamlConfigStore(path)
    await store.push_tools("p", TOOLS)
    await store.push_policy("p", POLICY, "alice")
    fresh = await YamlConfigStore(path).get_project("p")
    assert fresh is not None
    assert _same(dict(fresh.policies), POLICY)
    assert _same(list(fresh.tools), TOOLS)
    # And exactly so with the interceptor's reader on the raw text, history included.
    raw = yaml.safe_load(path.read_text())["projects"][0]
    assert _same(raw["policies"], POLICY) and _same(raw["policy_history"][0]["policies"], POLICY)
    assert _same(raw["tools"], TOOLS)


async def test_each_ambiguous_string_is_still_decided_as_a_string_after_a_push(path: Path) -> None:
    before = compile_policy(POLICY, TOOLS)
    store = YamlConfigStore(path)
    await store.push_tools("p", TOOLS)
    await store.push_policy("p", POLICY, "alice")
    project = await YamlConfigStore(path).get_project("p")
    assert project is not None
    after = compile_policy(project.policies, project.tools)
    now = datetime(2026, 1, 7, 12, tzinfo=UTC)
    for value in [*AMBIGUOUS, False, True, None, 80, "x"]:
        call = ToolCall("set_mode", {"mode": value})
        assert evaluate(before, call, SessionFacts(), now).rule == evaluate(after, call, SessionFacts(), now).rule, value


def test_explain_decides_the_same_before_and_after_a_push(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The reviewer's case: a deny list of "off", "no", "yes", ... stopped matching once pushed.
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"tools": TOOLS, "policies": POLICY}))
    config = tmp_path / "c.yaml"
    assert main(["keys", "create", "--project", "p", "--config", str(config)]) == 0
    asyncio.run(YamlConfigStore(config).push_tools("p", TOOLS))
    assert main(["policy", "push", "p", str(policy), "--config", str(config)]) == 0
    capsys.readouterr()
    for mode in ["off", "no", "yes", "on", "1:20", "y", "null", "~", "012", "2026-12-24", "x"]:
        call = json.dumps({"tool": "set_mode", "arguments": {"mode": mode}})
        assert main(["policy", "explain", "--policy", str(policy), "--call", call, "--format", "json"]) == 0
        wanted = json.loads(capsys.readouterr().out)
        assert main(["policy", "explain", "--policy", str(config), "--project", "p", "--call", call, "--format", "json"]) == 0
        got = json.loads(capsys.readouterr().out)
        assert (got["decision"], got["rule"]) == (wanted["decision"], wanted["rule"]), mode
        assert wanted["decision"] == ("allow" if mode == "x" else "deny")


async def test_an_unrelated_write_keeps_what_the_file_meant(tmp_path: Path) -> None:
    # Quoted text stays text and plain 1.1 scalars stay what they were, when another project is written.
    path = tmp_path / "s.yaml"
    path.write_text(
        "# hand-written\n"
        "projects:\n"
        "  - name: a\n"
        "    policies:\n"
        "      rules:\n"
        "        - {name: r, effect: deny, when: {tool: t, args: {m: {in: ['off', \"yes\", '1:20', '012', off, 1:20, 012, y, 1e3, ~]}}}}\n"
        "  - name: b\n"
        f"    api_key_sha256: {api_key_sha256('sk-b')}\n"
    )
    meant = yaml.safe_load(path.read_text())
    assert meant["projects"][0]["policies"]["rules"][0]["when"]["args"]["m"]["in"] == [
        "off", "yes", "1:20", "012", False, 80, 10, "y", "1e3", None,
    ]
    store = YamlConfigStore(path)
    await store.set_api_key("b", api_key_sha256("sk-b2"))
    await store.push_policy("b", {"default": "allow"}, "alice")
    after = yaml.safe_load(path.read_text())
    assert _same(after["projects"][0], meant["projects"][0])
    assert path.read_text().startswith("# hand-written\n")


async def test_rollback_restores_the_version_as_the_interceptor_read_it(path: Path) -> None:
    text = path.read_text().replace(
        "    policies: {}\n",
        "    policies: {}\n"
        "    policy_history:\n"
        "      - version: 1\n"
        "        created_at: '2026-01-01T00:00:00+00:00'\n"
        "        policies: {rules: [{name: r, effect: deny, when: {tool: t, args: {m: {in: [off, 'off', 1:20]}}}}]}\n",
    )
    path.write_text(text)
    store = YamlConfigStore(path)
    [v1] = await store.policy_history("p")
    await store.rollback("p", 1, "bob")
    project = await YamlConfigStore(path).get_project("p")
    assert project is not None and _same(dict(project.policies), dict(v1.policies))
    assert project.policies["rules"][0]["when"]["args"]["m"]["in"] == [False, "off", 80]


# -- duplicate keys ------------------------------------------------------------------------

DUPLICATED = f"""\
projects:
  - name: a
    api_key_sha256: {api_key_sha256("sk-a")}
    tools: []
    policies:
      staticRules: {{x: DENY, x: ALLOW}}
"""


async def test_a_duplicate_key_makes_the_file_invalid_with_the_key_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(DUPLICATED)
    with pytest.raises(ConfigStoreError) as caught:
        await YamlConfigStore(path).find_by_key_hash(api_key_sha256("sk-a"))
    assert caught.value.code == "config_invalid"
    assert "duplicate key 'x'" in caught.value.message and "line 6" in caught.value.message


@pytest.mark.parametrize("text", [
    "projects: []\nprojects: []\n",
    "projects:\n  - name: a\n    name: b\n",
    "projects:\n  - name: a\n    policies: {rules: [{name: r, effect: deny, effect: allow}]}\n",
    "projects:\n  - name: a\n    policies: {staticRules: {1: DENY, 1: ALLOW}}\n",
    "projects:\n  - name: a\n    policies: {staticRules: {off: DENY, no: ALLOW}}\n",  # both read as False
])
def test_a_key_named_twice_anywhere_is_refused(text: str) -> None:
    with pytest.raises(yaml.YAMLError, match="duplicate key"):
        load_yaml(text)


def test_a_merge_key_may_still_be_overridden() -> None:
    doc = load_yaml("base: &b {effect: deny, name: r}\nrule: {<<: *b, effect: allow}\n")
    assert doc["rule"] == {"effect": "allow", "name": "r"}


async def test_a_write_to_a_file_with_a_duplicate_key_is_refused_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(DUPLICATED)
    with pytest.raises(ConfigStoreError) as caught:
        await YamlConfigStore(path).set_api_key("a", api_key_sha256("sk-new"))
    assert caught.value.code == "config_invalid" and "duplicate key 'x'" in caught.value.message
    assert path.read_text() == DUPLICATED


@pytest.mark.parametrize(("name", "content"), [
    ("c.yaml", DUPLICATED),
    ("p.json", '{"policies": {"staticRules": {"x": "DENY", "x": "ALLOW"}}}'),
])
def test_validate_prints_the_duplicate_key_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert main(["policy", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "duplicate key 'x'" in err and "Traceback" not in err and err.count("\n") == 1
    if name.endswith(".yaml"):
        assert "line 6" in err
