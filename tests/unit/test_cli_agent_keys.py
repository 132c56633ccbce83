"""`sentinel keys create --agent`, `keys list` and `keys revoke` on a YAML file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from interceptor.config import YamlConfigStore, api_key_sha256
from sentinel_cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "sentinel.yaml"
    assert _run(capsys, "keys", "create", "--project", "acme", "--config", str(path))[0] == 0
    return path


def test_an_agent_key_is_printed_once_and_opens_only_as_its_agent(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "keys", "create", "--project", "acme", "--agent", "triage", "--config", str(config))
    key = out.strip()
    assert code == 0 and out == key + "\n" and key.startswith("sk-sentinel-") and "agent 'triage'" in err
    assert key not in config.read_text() and api_key_sha256(key) in config.read_text()
    holder = asyncio.run(YamlConfigStore(config).find_key(api_key_sha256(key)))
    assert holder is not None and (holder.project.name, holder.agent) == ("acme", "triage")


def test_an_agent_key_never_creates_a_project(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "keys", "create", "--project", "acmee", "--agent", "triage", "--config", str(config))
    assert (code, out) == (1, "") and "no project named 'acmee'" in err and "known projects: acme" in err
    code, out, err = _run(capsys, "keys", "create", "--project", "acme", "--agent", "not a name", "--config", str(config))
    assert (code, out) == (1, "") and "--agent" in err
    assert [p.name for p in asyncio.run(YamlConfigStore(config).list_projects())] == ["acme"]


def test_list_shows_fingerprints_and_agents_never_whole_hashes(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = {}
    for agent in ("triage", "deploy", "triage"):
        _, out, _ = _run(capsys, "keys", "create", "--project", "acme", "--agent", agent, "--config", str(config))
        keys.setdefault(agent, []).append(out.strip())
    code, out, _ = _run(capsys, "keys", "list", "--project", "acme", "--config", str(config))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("project key: any agent, every session of the project")
    assert sorted(lines[1:]) == sorted(f"{api_key_sha256(k)[:8]}  agent {a}" for a, ks in keys.items() for k in ks)
    assert all(len(line.split()[0]) == 8 for line in lines)


def test_revoke_removes_that_agents_keys_only(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, triage, _ = _run(capsys, "keys", "create", "--project", "acme", "--agent", "triage", "--config", str(config))
    _, deploy, _ = _run(capsys, "keys", "create", "--project", "acme", "--agent", "deploy", "--config", str(config))
    code, out, err = _run(capsys, "keys", "revoke", "--project", "acme", "--agent", "triage", "--config", str(config))
    assert (code, out) == (0, "") and "revoked 1 key(s) of agent 'triage'" in err
    store = YamlConfigStore(config)
    assert asyncio.run(store.find_key(api_key_sha256(triage.strip()))) is None
    assert asyncio.run(store.find_key(api_key_sha256(deploy.strip()))).agent == "deploy"
    code, _, err = _run(capsys, "keys", "revoke", "--project", "acme", "--agent", "triage", "--config", str(config))
    assert code == 1 and "no key bound to agent 'triage'" in err


def test_rotating_an_agents_key_replaces_its_keys(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, first, _ = _run(capsys, "keys", "create", "--project", "acme", "--agent", "triage", "--config", str(config))
    code, second, _ = _run(capsys, "keys", "create", "--project", "acme", "--agent", "triage", "--rotate",
                           "--config", str(config))
    assert code == 0
    store = YamlConfigStore(config)
    assert asyncio.run(store.find_key(api_key_sha256(first.strip()))) is None
    assert asyncio.run(store.find_key(api_key_sha256(second.strip()))).agent == "triage"
