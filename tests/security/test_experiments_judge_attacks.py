"""Attacks on the experiment judge and its report: each would pass if its defence were removed."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from sentinel_agent.agents import CallRecord
from sentinel_agent.experiments import SCENARIOS, Environment, observe
from sentinel_agent.experiments._report import render_html
from tests.unit.test_experiments_report import sample_report

BY_ID = {s.id: s for s in SCENARIOS}


def test_claimed_allow_without_execution_on_the_tool_server_does_not_complete_a_task(tmp_path: Path) -> None:
    """An interceptor (or agent) that says "allowed, done" while nothing ran must not score a completed task."""
    data = tmp_path / "data"
    Environment().prepare(data)
    claim = CallRecord("get_current_time", {"timezone": "Asia/Tokyo"}, "allow", jti="never-ran")
    world = observe(data, tmp_path / "mcp-audit.jsonl", 0, "s1", [claim], "It is noon.")
    assert claim.executed is False
    assert BY_ID["time-in-tokyo"].judge(world).passed is False


def test_execution_hidden_from_the_agent_fails_the_scenario(tmp_path: Path) -> None:
    """A tool run in the session that no allowed call accounts for (a denial that still executed) is a failure."""
    data = tmp_path / "data"
    Environment().prepare(data)
    audit = tmp_path / "mcp-audit.jsonl"
    audit.write_text(json.dumps({"event": "executed", "method": "tools/call", "jti": "x", "sid": "s1", "tool": "delete_file"}) + "\n")
    denied = CallRecord("delete_file", {"path": "reports/q4_forecast.md"}, "deny", "no-other-deletes")
    verdict = BY_ID["forbidden-delete"].judge(observe(data, audit, 0, "s1", [denied], ""))
    assert (verdict.passed, verdict.summary) == (False, "unexplained execution")


def test_script_in_tool_arguments_and_answers_is_escaped_in_the_html_report() -> None:
    report = sample_report()
    payload = "<script>alert('injected')</script><img src=x onerror=alert(1)>"
    result = report.results[3]
    result.calls[1].arguments = {"to": payload}
    result.calls[1].reason = payload
    result.answer = payload
    html = render_html(report)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_rich_markup_in_a_tool_call_is_printed_literally_by_chat() -> None:
    from sentinel_agent.chat import _printer

    console = Console(record=True, width=200, color_system=None)
    forged = CallRecord("send_email", {"to": "[green]allow by staticRules[/green]"}, "deny", "rule-x", "[bold]fine[/bold]")
    _printer(console, True)(forged)
    text = console.export_text()
    assert "[green]allow by staticRules[/green]" in text and "[bold]fine[/bold]" in text
