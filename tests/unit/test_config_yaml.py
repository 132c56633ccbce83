"""The YAML config store: the shape of docs/architecture.md ("Config store shape"), reloads on change, safe rewrites."""

from __future__ import annotations

import builtins
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from interceptor.config import ConfigStoreError, YamlConfigStore, api_key_sha256

DESIGN_SHAPE = f"""\
# Sentinel projects, edited by hand.
projects:
  - name: demo
    api_key_sha256: {api_key_sha256("sk-demo")}
    tools:
      - {{name: read_inbox, description: Read mail, input_schema: {{type: object}}, class: UNTRUSTED_READ}}
    policies:
      staticRules: {{read_inbox: ALLOW, send_email: ALLOW, delete_file: DENY}}
      taintRules:
        - {{type: ADD_TAINT, tool: read_inbox, tag: untrusted}}   # mail is untrusted
        - {{type: CHECK_TAINT, tool: send_email, forbidden_tags: [untrusted]}}
        - {{type: BLOCK_SECOND, first: read_file, second: send_email}}
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "sentinel.yaml"
    p.write_text(DESIGN_SHAPE)
    return p


async def test_the_design_shape_reads_as_a_project(path: Path) -> None:
    demo = await YamlConfigStore(path).find_by_key_hash(api_key_sha256("sk-demo"))
    assert demo is not None and demo.name == "demo" and demo.policy_version == 0
    assert demo.tools == ({"name": "read_inbox", "description": "Read mail", "input_schema": {"type": "object"}, "class": "UNTRUSTED_READ"},)
    assert demo.policies["staticRules"]["delete_file"] == "DENY"
    assert demo.policies["taintRules"][2] == {"type": "BLOCK_SECOND", "first": "read_file", "second": "send_email"}


async def test_an_edit_by_hand_is_seen_on_the_next_read(path: Path) -> None:
    store = YamlConfigStore(path)
    assert await store.get_project("demo") is not None
    path.write_text(DESIGN_SHAPE.replace("name: demo", "name: renamed"))
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert await store.get_project("demo") is None
    assert await store.get_project("renamed") is not None


async def test_an_unchanged_file_is_not_parsed_again(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = YamlConfigStore(path)
    await store.list_projects()
    calls = []
    monkeypatch.setattr(store, "_load_file", lambda: calls.append(1))
    for _ in range(10):
        await store.list_projects()
    assert calls == []


async def test_a_write_keeps_comments_order_and_flow_style(path: Path) -> None:
    store = YamlConfigStore(path)
    await store.push_policy("demo", {"staticRules": {"read_inbox": "ALLOW"}}, "alice")
    await store.create_project("beta", api_key_sha256("sk-beta"))
    text = path.read_text()
    assert text.startswith("# Sentinel projects, edited by hand.\nprojects:\n  - name: demo\n")
    assert "- {name: read_inbox, description: Read mail" in text
    assert text.index("name: demo") < text.index("name: beta")
    parsed = yaml.safe_load(text)["projects"]
    assert [p["name"] for p in parsed] == ["demo", "beta"]
    assert parsed[0]["policy_version"] == 1 and parsed[0]["policy_history"][0]["author"] == "alice"


async def test_a_write_replaces_the_file_whole_and_leaves_no_temp_file(path: Path) -> None:
    inode = path.stat().st_ino
    await YamlConfigStore(path).push_tools("demo", [{"name": "x"}])
    assert path.stat().st_ino != inode  # a new file moved into place, not an in-place rewrite
    assert sorted(p.name for p in path.parent.iterdir()) == ["sentinel.yaml"]


async def test_a_refused_write_leaves_the_file_untouched(path: Path) -> None:
    before = path.read_bytes()
    with pytest.raises(ConfigStoreError) as caught:
        await YamlConfigStore(path).rollback("demo", 3, "alice")
    assert caught.value.code == "version_not_found"
    assert path.read_bytes() == before


async def test_the_file_keeps_its_permissions_across_writes(path: Path) -> None:
    path.chmod(0o640)
    await YamlConfigStore(path).set_api_key("demo", api_key_sha256("sk-new"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


async def test_a_missing_file_is_unavailable_until_a_project_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    store = YamlConfigStore(path)
    with pytest.raises(ConfigStoreError) as caught:
        await store.list_projects()
    assert caught.value.code == "config_unavailable"
    await store.create_project("first", api_key_sha256("sk-first"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text()) == {
        "projects": [{"name": "first", "api_key_sha256": api_key_sha256("sk-first"), "tools": [], "policies": {}}]
    }


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("projects: [\n", "line"),
        ("- just a list\n", "'projects' list"),
        ("projects:\n  - name: a\n  - name: a\n", "appears twice"),
        ("projects:\n  - name: a\n    api_key_sha256: sk-plaintext\n", "projects[0].api_key_sha256"),
        ("projects:\n  - name: a\n    tools: {read: 1}\n", "projects[0].tools"),
        ("projects:\n  - name: a\n    policies: [1]\n", "projects[0].policies"),
        ("projects:\n  - name: a\n    policy_history: [{version: 0}]\n", "policy_history[0].version"),
        (f"projects:\n  - {{name: a, api_key_sha256: {'a' * 64}}}\n  - {{name: b, api_key_sha256: {'a' * 64}}}\n", "same key"),
    ],
)
async def test_a_malformed_file_is_config_invalid_with_its_place(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigStoreError) as caught:
        await YamlConfigStore(path).list_projects()
    assert caught.value.code == "config_invalid"
    assert where in caught.value.message


async def test_a_malformed_file_is_never_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("projects:\n  - name: a\n  - name: a\n")
    with pytest.raises(ConfigStoreError):
        await YamlConfigStore(path).create_project("b", api_key_sha256("sk-b"))
    assert path.read_text() == "projects:\n  - name: a\n  - name: a\n"


async def test_an_empty_file_has_no_projects(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    store = YamlConfigStore(path)
    assert await store.list_projects() == []
    await store.create_project("a", api_key_sha256("sk-a"))
    assert path.read_text().startswith("# nothing yet\n")
    assert [p.name for p in await store.list_projects()] == ["a"]


async def test_without_ruamel_writes_still_work(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_ruamel(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("ruamel"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ruamel)
    store = YamlConfigStore(path)
    assert await store.push_policy("demo", {"staticRules": {}}, "alice") == 1
    assert (await store.get_project("demo")).policies == {"staticRules": {}}
