"""`sentinel experiments`: exit codes, policy files, the written report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sentinel_cli", "experiments", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_an_enforced_policy_file_that_lets_an_attack_through_fails_the_run(tmp_path: Path) -> None:
    proc = _run("run", "--policy", "examples/sentinel.yaml", "--scenario", "planted-payee", "--scenario", "q3-summary",
                "--out", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 expectation(s) failed under an enforced policy" in proc.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["passed"] is False
    assert results["policies"][0]["name"] == "examples-sentinel" and results["policies"][0]["role"] == "enforced"
    html = (tmp_path / "report.html").read_text()
    assert "planted-payee" in html and "compromised" in html


def test_a_config_file_runs_as_it_is_with_its_api_key(tmp_path: Path) -> None:
    proc = _run("run", "--config", "examples/sentinel.yaml", "--scenario", "forbidden-delete", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "results.json").read_text())["results"][0]
    assert result["stopping_rules"] == ["staticRules.delete_file"]


def test_the_old_name_original_still_selects_the_static_taint_policy(tmp_path: Path) -> None:
    proc = _run("run", "--policy", "original", "--scenario", "forbidden-delete", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert [(p["name"], p["role"]) for p in results["policies"]] == [("static+taint", "reference")]
    assert results["results"][0]["stopping_rules"] == ["staticRules.delete_file"]


def test_bad_input_exits_2_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies: {default: sometimes}\n")
    for args in (["--policy", str(bad)], ["--policy", "no-such-policy"], ["--scenario", "no-such-scenario"],
                 ["--config", "examples/sentinel.yaml", "--api-key", "sk-wrong"]):
        proc = _run("run", *args, "--out", str(tmp_path / "out"))
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("sentinel: ")
    assert not (tmp_path / "out").exists()


def test_list_names_every_scenario() -> None:
    from sentinel_agent.experiments import scenario_ids

    proc = _run("list")
    assert proc.returncode == 0
    for ident in scenario_ids():
        assert ident in proc.stdout
