"""Agent-bound keys in the config records: their shape, the constant-time index over every key, the YAML file."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
import yaml

from interceptor.config import ConfigStoreError, KeyHolder, Project, YamlConfigStore, _records, api_key_sha256
from interceptor.routes import _AGENT

ACME = api_key_sha256("sk-acme")
TRIAGE = api_key_sha256("sk-triage")
DEPLOY = api_key_sha256("sk-deploy")


def test_the_agent_name_rule_is_the_one_sessions_declare() -> None:
    assert _records.AGENT_NAME.pattern == _AGENT.pattern


@pytest.mark.parametrize(("value", "expected"), [
    (None, {}),
    ({}, {}),
    ({TRIAGE.upper(): "triage", DEPLOY: "deploy-bot@ops"}, {TRIAGE: "triage", DEPLOY: "deploy-bot@ops"}),
])
def test_agent_keys_read_as_lower_case_hashes_to_names(value: object, expected: dict[str, str]) -> None:
    assert _records.check_agent_keys(value) == expected


@pytest.mark.parametrize(("value", "problem"), [
    ([TRIAGE], "must be a mapping"),
    ({"sk-plain-key": "triage"}, "64-character hex SHA-256"),
    ({TRIAGE: "no spaces"}, "an agent name"),
    ({TRIAGE: ""}, "an agent name"),
    ({TRIAGE: 7}, "an agent name"),
    ({TRIAGE: "a", TRIAGE.upper(): "b"}, "appears twice"),
])
def test_malformed_agent_keys_are_refused_with_their_place(value: object, problem: str) -> None:
    with pytest.raises(ConfigStoreError) as caught:
        _records.check_agent_keys(value, "projects[0].agent_keys")
    assert caught.value.code == "invalid_argument" and problem in caught.value.message
    assert "projects[0].agent_keys" in caught.value.message


def test_a_row_whose_project_key_is_also_an_agents_is_invalid() -> None:
    with pytest.raises(ConfigStoreError) as caught:
        _records.project_from_row({"name": "acme", "api_key_sha256": ACME, "agent_keys": {ACME: "triage"}}, "p")
    assert caught.value.code == "config_invalid" and ACME not in caught.value.message


def _acme() -> Project:
    return Project(name="acme", api_key_sha256=ACME, agent_keys={TRIAGE: "triage", DEPLOY: "deploy-bot"})


@pytest.mark.parametrize(("key_hash", "agent"), [(ACME, None), (TRIAGE, "triage"), (DEPLOY, "deploy-bot")])
def test_the_index_finds_each_keys_holder(key_hash: str, agent: str | None) -> None:
    acme = _acme()
    holder = _records.KeyIndex([Project(name="beta", api_key_sha256=api_key_sha256("sk-beta")), acme]).find(key_hash)
    assert holder == KeyHolder(acme, agent, key_hash)
    assert key_hash not in repr(holder)


def test_an_agent_key_is_never_found_as_the_project_key() -> None:
    index = _records.KeyIndex([_acme()])
    assert index.project_of(TRIAGE) is None and index.project_of(ACME) == _acme()
    assert _records.find_by_key_hash([_acme()], DEPLOY) is None


def test_every_key_of_every_project_is_compared_whatever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    projects = [_acme(), Project(name="draft", api_key_sha256="", agent_keys={api_key_sha256("sk-d"): "d"})]
    index = _records.KeyIndex(projects)
    seen: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        seen.append(a)
        return real(a, b)

    monkeypatch.setattr(_records.hmac, "compare_digest", counting)
    counts = []
    for probe in (ACME, DEPLOY, api_key_sha256("sk-d"), api_key_sha256("sk-wrong"), TRIAGE[:10], ""):
        seen.clear()
        index.find(probe)
        counts.append(len(seen))
    assert counts == [5] * 6  # 3 keys of acme, the keyless draft's slot and its agent key


def test_a_hash_held_twice_opens_nothing() -> None:
    # Only a store that skipped its checks could hold this; whose key it is cannot be known.
    twice = [_acme(), Project(name="beta", api_key_sha256=api_key_sha256("sk-beta"), agent_keys={TRIAGE: "intruder"})]
    index = _records.KeyIndex(twice)
    assert index.find(TRIAGE) is None
    assert index.find(DEPLOY).agent == "deploy-bot"
    assert index.find(api_key_sha256("sk-beta")).project.name == "beta"


# -- the YAML file -------------------------------------------------------------------------

SHAPE = f"""\
# edited by hand
projects:
  - name: acme
    api_key_sha256: {ACME}
    agent_keys:
      {TRIAGE}: triage   # the triage bot
    policies: {{}}
"""


async def test_yaml_round_trip_keeps_the_file_and_adds_and_revokes_keys(tmp_path: Path) -> None:
    path = tmp_path / "sentinel.yaml"
    path.write_text(SHAPE)
    store = YamlConfigStore(path)
    assert (await store.get_project("acme")).agent_keys == {TRIAGE: "triage"}
    await store.add_agent_key("acme", "off", DEPLOY)  # a name YAML 1.1 would read as a boolean
    text = path.read_text()
    assert "# the triage bot" in text and "sk-deploy" not in text
    assert yaml.safe_load(text)["projects"][0]["agent_keys"] == {TRIAGE: "triage", DEPLOY: "off"}
    assert (await YamlConfigStore(path).find_key(DEPLOY)).agent == "off"
    assert await store.revoke_agent_keys("acme", "triage") == 1
    assert await store.revoke_agent_keys("acme", "off") == 1
    assert "agent_keys" not in yaml.safe_load(path.read_text())["projects"][0]


@pytest.mark.parametrize("second", [
    f"  - name: beta\n    api_key_sha256: {TRIAGE}\n",
    f"  - name: beta\n    api_key_sha256: {api_key_sha256('sk-beta')}\n    agent_keys: {{{TRIAGE}: other}}\n",
])
async def test_a_file_where_two_keys_share_a_hash_is_invalid(tmp_path: Path, second: str) -> None:
    path = tmp_path / "sentinel.yaml"
    path.write_text(SHAPE + second)
    with pytest.raises(ConfigStoreError) as caught:
        await YamlConfigStore(path).find_key(TRIAGE)
    assert caught.value.code == "config_invalid" and "projects[1]" in caught.value.message
    assert TRIAGE not in caught.value.message
