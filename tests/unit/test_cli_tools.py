"""`sentinel tools classify` and `sentinel tools draft`: rule_maker's commands under the CLI, alias included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sentinel_cli import main

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "benchmarks" / "agentdojo" / "tools_slack.json"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_classify_one_tool_prints_its_class(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "tools", "classify", "send_email", "Sends an email to the recipient", "--offline")
    assert code == 0
    tool = json.loads(out)
    assert tool["name"] == "send_email" and tool["class"] == "CONSEQUENTIAL_WRITE" and tool["classified_by"] == "offline"


def test_classify_a_catalogue_then_draft_a_policy_the_engine_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    classified, policy = tmp_path / "classified.json", tmp_path / "policy.yaml"
    code, out, err = _run(capsys, "tools", "classify", "--tools", str(CATALOGUE), "--offline", "--out", str(classified))
    assert code == 0 and out == ""
    tools = json.loads(classified.read_text())
    assert len(tools) == len(json.loads(CATALOGUE.read_text())) and all("class" in t for t in tools)
    assert err.startswith(f"classified {len(tools)} tools: ")

    code, _, _ = _run(capsys, "tools", "draft", "--tools", str(classified), "--out", str(policy))
    assert code == 0
    assert "policies" in yaml.safe_load(policy.read_text())
    code, out, _ = _run(capsys, "policy", "validate", str(policy), "--tools", str(classified))
    assert code == 0 and "valid" in out


def test_draft_strict_uses_static_and_taint_rules_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    classified = tmp_path / "classified.json"
    assert _run(capsys, "tools", "classify", "--tools", str(CATALOGUE), "--offline", "--out", str(classified))[0] == 0
    code, out, _ = _run(capsys, "tools", "draft", "--tools", str(classified), "--mode", "strict")
    assert code == 0
    policies = yaml.safe_load(out)["policies"]
    assert {"staticRules", "taintRules"} <= set(policies) and not policies.get("rules")


@pytest.mark.parametrize("argv", [
    ["classify"],  # neither a tool nor a catalogue
    ["classify", "send_email", "Sends mail", "--tools", str(CATALOGUE)],  # both
    ["classify", "--tools", "no-such-file.json", "--offline"],
    ["draft", "--tools", "no-such-file.json"],
])
def test_a_mistake_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = _run(capsys, "tools", *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"sentinel tools {argv[0]}: ") and err.count("\n") == 1


def test_python_m_rule_maker_stays_an_alias_with_the_same_output(tmp_path: Path) -> None:
    def run(*argv: str) -> str:
        proc = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
        return proc.stdout

    classified = run("-m", "sentinel_cli", "tools", "classify", "--tools", str(CATALOGUE), "--offline")
    assert classified == run("-m", "rule_maker", "classify", "--tools", str(CATALOGUE), "--offline")
    (tmp_path / "classified.json").write_text(classified)
    classified_file = tmp_path / "classified.json"
    assert run("-m", "sentinel_cli", "tools", "draft", "--tools", str(classified_file)) == \
        run("-m", "rule_maker", "policy", "--tools", str(classified_file))
