"""`sentinel tools push` never drops tools silently, and `policy validate` checks the policy against the catalogue (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sentinel_cli import main

ROOT = Path(__file__).resolve().parents[2]
NEW_TOOLS = [
    {"name": "read_inbox", "description": "Read the latest emails.", "class": "UNTRUSTED_READ"},
    {"name": "send_email", "description": "Send an email.", "class": "CONSEQUENTIAL_WRITE"},
]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    config = tmp_path / "sentinel.yaml"
    config.write_text((ROOT / "examples" / "sentinel.yaml").read_text())
    (tmp_path / "tools.json").write_text(json.dumps(NEW_TOOLS))
    return config


def _tools(config: Path) -> list[str]:
    return [t["name"] for t in yaml.safe_load(config.read_text())["projects"][0]["tools"]]


def test_a_push_that_would_remove_tools_is_refused_and_names_them(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = demo.read_bytes()
    code = main(["tools", "push", "--project", "demo", "--tools", str(demo.parent / "tools.json"), "--config", str(demo)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "would remove 6 tool(s)" in err and "get_current_time" in err and "delete_file" in err and "--replace" in err
    assert demo.read_bytes() == before


def test_replace_removes_them_says_which_and_warns_about_the_policy(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tools", "push", "--project", "demo", "--tools", str(demo.parent / "tools.json"), "--config", str(demo), "--replace"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "pushed 2 tools to project 'demo': added 0, changed 2 (read_inbox, send_email), removed 6 (" in err
    assert "the project's policy names tools the catalogue no longer has" in err and "'delete_file'" in err
    assert _tools(demo) == ["read_inbox", "send_email"]
    # and validate, which said "valid" before, now reports each rule naming a removed tool
    code = main(["policy", "validate", str(demo), "--project", "demo"])
    out, err = capsys.readouterr()
    assert code == 1, out
    assert "policies.staticRules.transfer_funds: tool 'transfer_funds' is not in the catalogue" in err
    assert "policies.taintRules[1].tool: tool 'fetch_url' is not in the catalogue" in err
    assert "policies.taintRules[4].first: tool 'read_file' is not in the catalogue" in err


def test_a_push_that_keeps_every_tool_needs_no_replace(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mcp_server.demo import tool_definitions

    tools = [*tool_definitions(), {"name": "search_web", "description": "Search the web.", "class": "UNTRUSTED_READ"}]
    (demo.parent / "more.json").write_text(json.dumps(tools))
    assert main(["tools", "push", "--project", "demo", "--tools", str(demo.parent / "more.json"), "--config", str(demo)]) == 0
    err = capsys.readouterr().err
    assert "added 1 (search_web), changed 0, removed 0" in err and "no longer has" not in err
    assert _tools(demo)[-1] == "search_web"


def test_validate_reports_a_rule_naming_a_tool_outside_the_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(NEW_TOOLS))
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "policies:\n"
        "  default: deny\n"
        "  staticRules: {read_inbox: ALLOW}\n"
        "  rules:\n"
        "    - name: mail\n"
        "      effect: allow\n"
        "      when: {tool: send_mail}\n"          # a typo: send_email
        "    - name: payments\n"
        "      effect: deny\n"
        "      when: {tool: ['pay_*', send_email], history: {any: [read_inbox, fetch_url], last: 'fetch_*'}}\n"
        "      unless: {history: {count: {tool: read_file, gte: 1}}}\n"
    )
    code = main(["policy", "validate", str(policy), "--tools", str(tools)])
    err = capsys.readouterr().err
    assert code == 1
    assert "3 problem(s)" in err
    assert f"{policy}:7: policies.rules[0] (mail).when.tool: tool 'send_mail' is not in the catalogue" in err
    assert "policies.rules[1] (payments).when.history.any: tool 'fetch_url' is not in the catalogue" in err
    assert "policies.rules[1] (payments).unless.history.count.tool: tool 'read_file' is not in the catalogue" in err
    assert "pay_*" not in err and "fetch_*" not in err  # a glob is a pattern, not a name: lint's business
    # without a catalogue the names cannot be checked, and validate says so
    assert main(["policy", "validate", str(policy)]) == 0
    assert "tool names not checked: no catalogue" in capsys.readouterr().out


def test_the_rule_maker_alias_takes_replace_too(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rule_maker._cli import main as rule_maker

    argv = ["push", "--project", "demo", "--tools", str(demo.parent / "tools.json"), "--config", str(demo)]
    assert rule_maker(argv) == 2 and "would_remove" in capsys.readouterr().err
    assert rule_maker([*argv, "--replace"]) == 0
    assert _tools(demo) == ["read_inbox", "send_email"]


@pytest.mark.parametrize("suite", ["slack", "workspace"])
def test_the_shipped_agentdojo_policies_name_only_tools_of_their_catalogue(suite: str, capsys: pytest.CaptureFixture[str]) -> None:
    examples = ROOT / "examples" / "agentdojo"
    assert main(["policy", "validate", str(examples / f"{suite}.yaml"), "--tools", str(examples / f"tools_{suite}.json")]) == 0
    assert "every tool it names is in the catalogue" in capsys.readouterr().out
