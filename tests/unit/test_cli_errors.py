"""Every CLI mistake the review found is a one-line error and a non-zero exit, never a traceback or a silent success."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from interceptor.config import YamlConfigStore, api_key_sha256
from sentinel_cli import main

POLICY = {"tools": [{"name": "set_mode", "class": "INTERNAL_WRITE"}], "policies": {"default": "allow"}}
CALL = json.dumps({"tool": "set_mode", "arguments": {"mode": "off"}})


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("SENTINEL_DATABASE_URL", "SUPABASE_PROJECT_URL", "SUPABASE_SERVICE_ROLE_KEY", "SENTINEL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # the default config: not there
    (tmp_path / "policy.json").write_text(json.dumps(POLICY))
    traces = {
        "list.jsonl": "[1, 2]\n",
        "number.jsonl": "7\n",
        "no-calls.jsonl": '{"id": "t"}\n',
        "calls-text.jsonl": '{"id": "t", "calls": "abc"}\n',
        "calls-object.jsonl": '{"id": "t", "calls": {"tool": "set_mode"}}\n',
        "call-number.jsonl": '{"id": "t", "calls": [1]}\n',
        "call-no-tool.jsonl": '{"id": "t", "calls": [{"args": {}}]}\n',
        "args-text.jsonl": '{"id": "t", "calls": [{"tool": "set_mode", "args": "off"}]}\n',
        "good-then-bad.jsonl": '{"id": "a", "calls": []}\n{"id": "b"}\n',
    }
    for name, text in traces.items():
        (tmp_path / name).write_text(text)
    return tmp_path


EXPLAIN = ["policy", "explain", "--policy", "policy.json", "--call", CALL]
SIMULATE = ["policy", "simulate", "--policy", "policy.json", "--trace"]


@pytest.mark.parametrize(("argv", "message"), [
    ([*EXPLAIN, "--history", "@missing.json"], "--history @missing.json: No such file or directory"),
    ([*EXPLAIN, "--history", "[1]"], "--history[0]: a call is an object"),
    ([*EXPLAIN, "--history", '[{"tool": "set_mode", "arguments": [1]}]'], "--history[0].arguments: must be an object"),
    ([*EXPLAIN, "--history", "{not json"], "--history: not valid JSON"),
    (["policy", "explain", "--policy", "policy.json", "--format", "json", "--call", '{"tool": "set_mode", "arguments": [1]}'],
     "--call: arguments must be an object, not a list"),
    (["policy", "explain", "--policy", "policy.json", "--call", '{"tool": "set_mode", "arguments": "off"}'],
     "--call: arguments must be an object, not text"),
    (["policy", "explain", "--policy", "policy.json", "--call", "{oops"], "--call: not valid JSON"),
    ([*EXPLAIN, "--now", "yesterday"], "--now: 'yesterday' is not an ISO 8601 time"),
    ([*SIMULATE, "no-calls.jsonl", "--now", "yesterday"], "--now: 'yesterday' is not an ISO 8601 time"),
    ([*SIMULATE, "list.jsonl"], "list.jsonl:1: a trace is an object {id, calls: [...]}, not a list"),
    ([*SIMULATE, "number.jsonl"], "number.jsonl:1: a trace is an object"),
    ([*SIMULATE, "no-calls.jsonl"], "no-calls.jsonl:1: the trace has no `calls` list"),
    ([*SIMULATE, "calls-text.jsonl"], "calls-text.jsonl:1: calls: must be a list of calls, not text"),
    ([*SIMULATE, "calls-object.jsonl"], "calls-object.jsonl:1: calls: must be a list of calls, not an object"),
    ([*SIMULATE, "call-number.jsonl"], "call-number.jsonl:1: calls[0]: a call is an object"),
    ([*SIMULATE, "call-no-tool.jsonl"], "call-no-tool.jsonl:1: calls[0].tool: must be the tool's name"),
    ([*SIMULATE, "args-text.jsonl"], "args-text.jsonl:1: calls[0].args: must be an object, not text"),
    ([*SIMULATE, "good-then-bad.jsonl"], "good-then-bad.jsonl:2: the trace has no `calls` list"),
    ([*SIMULATE, "missing.jsonl"], "missing.jsonl: No such file or directory"),
    (["keys", "create", "--project", "p", "--config", "/nonexistent/dir/x.yaml"], "/nonexistent/dir: no such directory"),
    (["up", "--config", "/missing.yaml"], "sentinel up: not starting: /missing.yaml: no such config file"),
    (["demo", "--config", "/missing.yaml"], "sentinel demo: not starting: /missing.yaml: no such config file"),
    # no config at all (issue 17): every command that needs one says how to make it
    (["up"], "no such config file (the default, as SENTINEL_CONFIG is unset); run `sentinel init`"),
    (["policy", "history", "demo"], "no such config file (the default, as SENTINEL_CONFIG is unset); run `sentinel init`"),
    (["policy", "push", "demo", "policy.json"], "run `sentinel init` to make one there"),
    (["tools", "push", "--project", "demo", "--tools", "policy.json"], "run `sentinel init` to make one there"),
    (["keys", "create", "--project", "p"], "`sentinel init` makes a config"),
])
def test_a_mistake_is_one_line_and_a_non_zero_exit(
    work: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code != 0, out
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    if argv[0] == "keys":
        assert out == ""  # refused before a key was printed


def test_up_refuses_an_invalid_config_with_the_reason(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "bad.yaml").write_text("projects:\n  - name: a\n    name: b\n")
    assert main(["up", "--config", "bad.yaml", "--port", "1", "--mcp-port", "1"]) == 2
    assert "duplicate key 'name'" in capsys.readouterr().err


@pytest.mark.postgres
def test_a_database_schema_that_does_not_exist_is_a_clear_error(
    work: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import POSTGRES_DSN

    monkeypatch.setenv("SENTINEL_DATABASE_URL", POSTGRES_DSN)
    monkeypatch.setenv("SENTINEL_DATABASE_SCHEMA", "sentinel_no_such_schema_3f000")
    for argv in (["policy", "pull", "p"], ["keys", "create", "--project", "p"]):
        assert main(argv) != 0
        out, err = capsys.readouterr()
        assert "PostgreSQL schema 'sentinel_no_such_schema_3f000' does not exist" in err
        assert err.count("\n") == 1 and out == ""


# -- policy push and config files with projects ---------------------------------------------


@pytest.fixture
def store_file(work: Path) -> Path:
    config = work / "store.yaml"
    asyncio.run(YamlConfigStore(config).create_project("p", api_key_sha256("sk-p")))
    (work / "multi.yaml").write_text(
        "projects:\n  - name: a\n    policies: {default: deny}\n  - name: b\n    policies: {default: allow}\n"
    )
    (work / "other.yaml").write_text("projects:\n  - name: other\n    policies: {default: allow}\n")
    (work / "mine.yaml").write_text("projects:\n  - name: p\n    policies: {default: require_approval}\n")
    return config


@pytest.mark.parametrize(("file", "message"), [
    ("other.yaml", "other.yaml: no project named 'p' (the file has: other; choose one with --project)"),
    ("multi.yaml", "multi.yaml: no project named 'p' (the file has: a, b; choose one with --project)"),
])
def test_push_never_takes_another_projects_policy_silently(
    store_file: Path, capsys: pytest.CaptureFixture[str], file: str, message: str
) -> None:
    before = store_file.read_text()
    assert main(["policy", "push", "p", file, "--config", str(store_file)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert store_file.read_text() == before


def test_push_takes_the_project_named_by_project_or_by_its_own_name(store_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = YamlConfigStore(store_file)
    assert main(["policy", "push", "p", "multi.yaml", "--project", "b", "--config", str(store_file)]) == 0
    assert asyncio.run(store.get_project("p")).policies == {"default": "allow"}
    assert main(["policy", "push", "p", "multi.yaml", "--project", "a", "--config", str(store_file)]) == 0
    assert asyncio.run(YamlConfigStore(store_file).get_project("p")).policies == {"default": "deny"}
    assert main(["policy", "push", "p", "mine.yaml", "--config", str(store_file)]) == 0
    assert asyncio.run(YamlConfigStore(store_file).get_project("p")).policies == {"default": "require_approval"}
    assert main(["policy", "push", "p", "multi.yaml", "--project", "zz", "--config", str(store_file)]) == 2
    assert "no project named 'zz'" in capsys.readouterr().err
