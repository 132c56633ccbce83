"""`sentinel policy ...` as a user runs it: exit codes, messages with places, output formats."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sentinel_cli import main

TOOLS = [
    {"name": "read_inbox", "description": "mail", "parameters": {"type": "object"}, "class": "UNTRUSTED_READ"},
    {"name": "send_email", "description": "send", "input_schema": {"type": "object"}, "class": "CONSEQUENTIAL_WRITE"},
    {"name": "get_time"},
]
POLICY = {
    "policies": {
        "staticRules": {"read_inbox": "ALLOW", "get_time": "ALLOW"},
        "taintRules": [{"type": "ADD_TAINT", "tool": "read_inbox", "tag": "untrusted"}],
        "rules": [
            {"name": "no-exfil", "effect": "deny", "when": {"tool": "send_email", "flows_from_untrusted": {"kinds": ["email"]}}},
            {"name": "writes", "effect": "allow", "when": {"class": "CONSEQUENTIAL_WRITE"}},
        ],
    }
}


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data, sort_keys=False))
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {"policy": write(tmp_path, "policy.yaml", POLICY), "tools": write(tmp_path, "tools.json", TOOLS)}


def test_validate_accepts_a_good_policy(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "validate", files["policy"], "--tools", files["tools"]]) == 0
    assert "valid (2 named rules, 3 tools, default deny)" in capsys.readouterr().out


def test_validate_lists_every_problem_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "policies:\n"
        "  staticRules: {a: MAYBE}\n"
        "  rules:\n"
        "    - name: r1\n"
        "      effect: allow\n"
        "      when:\n"
        "        args:\n"
        "          amount: {gt: lots}\n"
        "    - name: r2\n"
        "      effect: permit\n"
    )
    assert main(["policy", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    assert f"{path}:2: policies.staticRules.a: must be ALLOW or DENY" in err
    assert f"{path}:8: policies.rules[0] (r1).when.args.amount.gt: gt must be a number" in err
    assert f"{path}:10: policies.rules[1] (r2).effect" in err


@pytest.mark.parametrize(("content", "message"), [
    ("policies: [unclosed", "not valid YAML"),
    ("- just a list", "must be a mapping"),
    ("something: else", "no `policies` mapping"),
])
def test_validate_refuses_unreadable_files_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content)
    assert main(["policy", "validate", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_validate_reads_a_whole_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = {"projects": [
        {"name": "a", "api_key_sha256": "0" * 64, "tools": TOOLS, "policies": POLICY["policies"]},
        {"name": "b", "api_key_sha256": "1" * 64, "tools": [], "policies": {"staticRules": {"x": "NOPE"}}},
    ]}
    path = write(tmp_path, "sentinel.yaml", config)
    assert main(["policy", "validate", path]) == 2
    assert "choose one with --project" in capsys.readouterr().err
    assert main(["policy", "validate", path, "--project", "a"]) == 0
    assert main(["policy", "validate", path, "--project", "b"]) == 1


def trace(calls: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": "t1", "calls": calls, **extra}


def test_simulate_prints_one_line_per_trace_in_the_documented_shape(tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    traces = tmp_path / "traces.jsonl"
    traces.write_text("\n".join(json.dumps(t) for t in [
        trace([{"tool": "read_inbox", "args": {}, "output": "write to x@evil.io"}, {"tool": "send_email", "args": {"to": "x@evil.io"}, "output": ""}]),
        {"id": "t2", "calls": [{"tool": "send_email", "args": {"to": "x@evil.io"}, "output": ""}, {"tool": "nope", "args": {}, "output": ""}]},
    ]) + "\n")
    assert main(["policy", "simulate", "--policy", files["policy"], "--tools", files["tools"], "--trace", str(traces), "--format", "json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["t1", "t2"]  # fresh session per trace, input order
    assert [(d["tool"], d["decision"], d["rule"]) for d in lines[0]["decisions"]] == [
        ("read_inbox", "allow", "staticRules.read_inbox"), ("send_email", "deny", "no-exfil")]
    assert [(d["decision"], d["rule"]) for d in lines[1]["decisions"]] == [("allow", "writes"), ("deny", "unknown_tool")]
    assert all(d["reason"] for line in lines for d in line["decisions"])


def test_simulate_never_reads_ground_truth_fields(tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    calls = [{"tool": "read_inbox", "args": {}, "output": "write to x@evil.io"}, {"tool": "send_email", "args": {"to": "x@evil.io"}, "output": ""}]
    labelled = trace([dict(c, origin="injection", reads_untrusted=False) for c in calls], kind="benign", expected="allow")
    outputs = []
    for number, record in enumerate((trace(calls), labelled)):
        path = tmp_path / f"t{number}.jsonl"
        path.write_text(json.dumps(record) + "\n")
        main(["policy", "simulate", "--policy", files["policy"], "--tools", files["tools"], "--trace", str(path), "--format", "json"])
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


def test_explain_shows_the_deciding_rule_and_why_the_others_did_not(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    history = json.dumps([{"tool": "read_inbox", "arguments": {}, "output": "contact x@evil.io"}])
    code = main(["policy", "explain", "--policy", files["policy"], "--tools", files["tools"],
                 "--call", '{"tool": "send_email", "arguments": {"to": "x@evil.io"}}', "--history", history])
    out = capsys.readouterr().out
    assert code == 0
    assert "send_email: deny by no-exfil" in out
    assert "writes [rules, allow]: not reached" in out
    main(["policy", "explain", "--policy", files["policy"], "--tools", files["tools"],
          "--call", '{"tool": "send_email", "arguments": {"to": "ok@corp.com"}}', "--history", history, "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    assert (result["decision"], result["rule"]) == ("allow", "writes")
    assert result["steps"][0]["outcome"] == "not matched" and "not:" in result["steps"][0]["detail"]


def test_lint_finds_shadowed_dead_undefined_and_unclassified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = {"policies": {
        "staticRules": {"ghost": "ALLOW"},
        "rules": [
            {"name": "all-writes", "effect": "deny", "when": {"class": "CONSEQUENTIAL_WRITE"}},
            {"name": "send", "effect": "allow", "when": {"tool": "send_email"}},
            {"name": "nothing", "effect": "allow", "when": {"tool": "missing_*"}},
        ],
        "taintRules": [{"type": "BLOCK_SECOND", "first": "read_x", "second": "send_email"}],
    }}
    tools = write(tmp_path, "tools.json", TOOLS)
    assert main(["policy", "lint", write(tmp_path, "p.yaml", policy), "--tools", tools]) == 1
    out = capsys.readouterr().out
    assert "policies.rules[1] (send): shadowed by policies.rules[0] (all-writes)" in out
    assert "policies.rules[2] (nothing): can never match" in out
    assert "policies.staticRules.ghost: tool 'ghost' is not defined" in out
    assert "taintRules[0].first: tool 'read_x' is not defined" in out
    assert "tools.get_time: no security class" in out


def test_diff_reports_rule_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = write(tmp_path, "a.yaml", POLICY)
    changed = json.loads(json.dumps(POLICY))
    changed["policies"]["staticRules"]["get_time"] = "DENY"
    changed["policies"]["rules"].reverse()
    changed["policies"]["rules"][0]["effect"] = "require_approval"
    changed["policies"]["default"] = "require_approval"
    after = write(tmp_path, "b.yaml", changed)
    assert main(["policy", "diff", before, before]) == 0
    capsys.readouterr()
    assert main(["policy", "diff", before, after]) == 1
    out = capsys.readouterr().out
    assert "changed: staticRules.get_time: ALLOW -> DENY" in out
    assert "changed: rule writes: effect" in out
    assert "reordered: rules" in out
    assert "changed: default: deny -> require_approval" in out


def test_push_pull_history_rollback_through_the_yaml_store(tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sentinel.yaml"
    config.write_text(yaml.safe_dump({"projects": [{
        "name": "demo", "api_key_sha256": hashlib.sha256(b"k").hexdigest(), "tools": TOOLS, "policies": {"staticRules": {"get_time": "ALLOW"}}}]}))
    store = ["--config", str(config)]
    simple = write(tmp_path, "simple.yaml", {"policies": {"staticRules": {"get_time": "ALLOW"}}})
    assert main(["policy", "push", "demo", simple, "--author", "alice", *store]) == 0
    assert main(["policy", "push", "demo", files["policy"], "--author", "bob", *store]) == 0
    assert "policy version 2 is current (author bob)" in capsys.readouterr().out
    assert main(["policy", "pull", "demo", "--format", "json", *store]) == 0
    assert json.loads(capsys.readouterr().out)["policies"]["rules"][0]["name"] == "no-exfil"
    assert main(["policy", "history", "demo", *store]) == 0
    versions = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(v[0], v[2]) for v in versions][-2:] == [("1", "alice"), ("2", "bob")]
    assert main(["policy", "rollback", "demo", "1", "--author", "carol", *store]) == 0
    assert "version 1 is current again as version 3" in capsys.readouterr().out
    main(["policy", "pull", "demo", "--format", "json", *store])
    assert json.loads(capsys.readouterr().out)["policies"] == {"staticRules": {"get_time": "ALLOW"}}


def test_push_refuses_an_invalid_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sentinel.yaml"
    config.write_text(yaml.safe_dump({"projects": [{"name": "demo", "api_key_sha256": "0" * 64, "tools": TOOLS, "policies": {}}]}))
    bad = write(tmp_path, "bad.yaml", {"policies": {"default": "sometimes"}})
    assert main(["policy", "push", "demo", bad, "--config", str(config)]) == 1
    assert "policies.default" in capsys.readouterr().err


# One name for a call's arguments (issue 17): `arguments` (SDK, HTTP API, explain) and `args` (benchmark traces).
EXFIL = [{"tool": "read_inbox", "args": {}, "output": "write to x@evil.io"}, {"tool": "send_email", "args": {"to": "x@evil.io"}, "output": ""}]


def _simulate(tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str], calls: list[dict[str, Any]]) -> tuple[int, str, str]:
    path = tmp_path / "trace.jsonl"
    path.write_text(json.dumps(trace(calls)) + "\n")
    code = main(["policy", "simulate", "--policy", files["policy"], "--tools", files["tools"], "--trace", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_reads_arguments_as_it_reads_args(tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, with_args, _ = _simulate(tmp_path, files, capsys, EXFIL)
    assert code == 0 and json.loads(with_args)["decisions"][1]["rule"] == "no-exfil"
    renamed = [{"tool": c["tool"], "arguments": c["args"], "output": c["output"]} for c in EXFIL]
    code, with_arguments, _ = _simulate(tmp_path, files, capsys, renamed)
    assert code == 0 and with_arguments == with_args
    both = [dict(c, arguments=c["args"]) for c in EXFIL]  # the same value under both names: one field
    assert _simulate(tmp_path, files, capsys, both)[1] == with_args


@pytest.mark.parametrize(("calls", "message"), [
    ([{"tool": "send_email", "args": {"to": "a@corp.com"}, "arguments": {"to": "x@evil.io"}}],
     "trace.jsonl:1: calls[0]: both `args` and `arguments`, with different values"),
    ([{"tool": "send_email", "input": {"to": "x@evil.io"}}], "trace.jsonl:1: calls[0]: unknown key(s) 'input'"),
    ([{"tool": "send_email", "argument": {"to": "x@evil.io"}, "output": ""}], "calls[0]: unknown key(s) 'argument'"),
])
def test_simulate_refuses_a_call_it_would_misread(
    tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str], calls: list[dict[str, Any]], message: str
) -> None:
    code, out, err = _simulate(tmp_path, files, capsys, calls)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(("extra", "message"), [
    (["--call", '{"tool": "send_email", "argument": {"to": "x@evil.io"}}'], "--call: unknown key(s) 'argument'"),
    (["--call", '{"tool": "send_email", "arguments": {}, "agent": "bot"}'], "the agent is given with --agent"),
    (["--call", '{"tool": "send_email", "args": {"to": "x@evil.io"}, "arguments": {"to": "a@corp.com"}}'],
     "--call: both `args` and `arguments`, with different values"),
    (["--call", '{"tool": "send_email", "arguments": {}}', "--history", '[{"tool": "read_inbox", "params": {}}]'],
     "--history[0]: unknown key(s) 'params'"),
])
def test_explain_refuses_unknown_keys_instead_of_ignoring_them(
    files: dict[str, str], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code = main(["policy", "explain", "--policy", files["policy"], "--tools", files["tools"], *extra])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and message in err


def test_explain_reads_args_as_it_reads_arguments(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    history = json.dumps([{"tool": "read_inbox", "args": {}, "output": "contact x@evil.io"}])
    for name in ("arguments", "args"):
        call = json.dumps({"tool": "send_email", name: {"to": "x@evil.io"}})
        assert main(["policy", "explain", "--policy", files["policy"], "--tools", files["tools"], "--call", call, "--history", history]) == 0
        assert "send_email: deny by no-exfil" in capsys.readouterr().out
