"""The written outputs of a run: a self-contained HTML report, the JSON for machines, the chart alone.

``write_outputs(report, out_dir)`` writes ``report.html`` (inline CSS and SVG,
no external asset, readable offline), ``results.json`` and ``chart.svg``.
Every text that came from a scenario, a tool or a model is HTML-escaped: tool
outputs hold injected text, and the report must never run it.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from sentinel_agent.experiments._chart import render_chart
from sentinel_agent.experiments._results import RunReport, ScenarioResult

__all__ = ["render_html", "write_outputs"]

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#212121;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
.meta{color:#616161;font-size:13px}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #e0e0e0;border-radius:6px;padding:10px 14px;min-width:210px;font-size:13px}
.card b{font-size:15px}.role{color:#757575;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin:8px 0}
th,td{border-bottom:1px solid #eeeeee;padding:5px 6px;text-align:left;vertical-align:top}th{background:#fafafa}
.pass{color:#2e7d32;font-weight:bold}.fail{color:#c62828;font-weight:bold}
.allow{color:#2e7d32}.deny{color:#c62828}.approval{color:#b28704}.error{color:#6a1b9a}
.rule{color:#616161;font-size:11.5px}code{font-size:11.5px;background:#f5f5f5;padding:1px 3px;border-radius:3px;word-break:break-all}
details{margin:6px 0}summary{cursor:pointer}.chart{overflow-x:auto;border:1px solid #eeeeee;border-radius:6px}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:bold}
.ok{background:#e8f5e9;color:#1b5e20}.bad{background:#ffebee;color:#b71c1c}
"""


def _cell(result: ScenarioResult | None) -> str:
    if result is None:
        return "<td>-</td>"
    mark = '<span class="pass">✓</span>' if result.verdict.passed else '<span class="fail">✗</span>'
    rules = ", ".join(escape(rule) for rule in result.stopping_rules())
    counts = f"{result.allowed} allowed · {result.blocked} blocked · {result.held} held"
    extra = f'<br><span class="error">{escape(result.error)}</span>' if result.error else ""
    return f'<td>{mark} {escape(result.verdict.summary)}<br><span class="rule">{counts}</span>' + (
        f'<br><span class="rule">{rules}</span>' if rules else "") + f"{extra}</td>"


def _trace(result: ScenarioResult) -> str:
    rows = []
    for index, call in enumerate(result.calls, 1):
        args = json.dumps(call.arguments, ensure_ascii=False)
        args = args if len(args) <= 160 else args[:160] + "…"
        ran = "yes" if call.executed else "no"
        rows.append(
            f"<tr><td>{index}</td><td>{escape(call.source)}</td><td>{escape(call.tool)}</td><td><code>{escape(args)}</code></td>"
            f'<td class="{escape(call.decision)}">{escape(call.decision)}</td><td class="rule">{escape(call.rule)}<br>{escape(call.reason)}</td>'
            f"<td>{ran}</td></tr>"
        )
    if not rows:
        return "<p class='meta'>no tool calls</p>"
    return ("<table><tr><th>#</th><th>asked by</th><th>tool</th><th>arguments</th><th>decision</th><th>rule · reason</th>"
            "<th>ran on the tool server</th></tr>" + "".join(rows) + "</table>")


def render_html(report: RunReport) -> str:
    policies = report.policies
    failures = report.failures()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Sentinel experiments</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Sentinel experiments</h1>",
        f"<p class='meta'>{escape(report.started_at)} · agent <b>{escape(report.agent)}</b>"
        + (f" ({escape(report.model)})" if report.model else "")
        + f" · state store {escape(report.state_store)} · {len(report.scenarios)} scenarios × {len(policies)} policies"
        f" · {report.seconds:.1f} s. Every outcome is judged on the tool server's side: outbox, ledger, files and"
        " its execution log.</p>",
    ]
    if failures:
        parts.append(f"<div class='banner bad'>{len(failures)} expectation(s) failed under an enforced policy: "
                     + ", ".join(escape(f"{r.scenario} ({r.policy})") for r in failures) + "</div>")
    else:
        parts.append("<div class='banner ok'>Every enforced policy stopped every attack and completed every task.</div>")
    untested = report.untested_attacks()
    if untested:
        parts.append(f"<div class='banner bad'>Attacks that did not work even without protection (they prove nothing): "
                     f"{escape(', '.join(untested))}</div>")
    parts.append("<div class='cards'>")
    for policy in policies:
        s = report.summary(policy)
        parts.append(
            f"<div class='card'><b>{escape(policy.name)}</b> <span class='role'>{escape(policy.role)}</span><br>"
            f"<span class='role'>{escape(policy.description)}</span><br>"
            f"attacks stopped: <b>{s.attacks_stopped}/{s.attacks}</b><br>"
            f"held for approval: <b>{s.approvals_held}/{s.approvals}</b><br>tasks completed: <b>{s.tasks_completed}/{s.tasks}</b><br>"
            f"calls: {s.allowed} allowed · {s.blocked} blocked · {s.held} held</div>"
        )
    parts.append("</div><h2>Calls per scenario and policy</h2><div class='chart'>")
    parts.append(render_chart(report))
    parts.append("</div><h2>Outcomes</h2><table><tr><th>scenario</th><th>kind</th>")
    parts.extend(f"<th>{escape(policy.name)}</th>" for policy in policies)
    parts.append("</tr>")
    for scenario in report.scenarios:
        parts.append(f"<tr><td><b>{escape(scenario.id)}</b><br><span class='rule'>{escape(scenario.title)}</span></td>"
                     f"<td>{escape(scenario.kind)}{' · injected' if scenario.environment.injected else ''}</td>")
        parts.extend(_cell(report.result(scenario.id, policy.name)) for policy in policies)
        parts.append("</tr>")
    parts.append("</table><h2>Scenarios in detail</h2>")
    for scenario in report.scenarios:
        checks = []
        if scenario.task:
            checks.append(f"task done when: {escape(scenario.task.text)}")
        if scenario.harm:
            checks.append(f"harm when: {escape(scenario.harm.text)}")
        parts.append(f"<details><summary><b>{escape(scenario.id)}</b>: {escape(scenario.title)}</summary>"
                     f"<p>User: “{escape(scenario.goal.text)}”<br><span class='meta'>{' · '.join(checks)}"
                     + (f"<br>meant to stop it: {escape(scenario.defence)}" if scenario.defence else "") + "</span></p>")
        for policy in policies:
            result = report.result(scenario.id, policy.name)
            if result is not None:
                parts.append(f"<p><b>{escape(policy.name)}</b>: {escape(result.verdict.summary)}</p>{_trace(result)}")
        parts.append("</details>")
    parts.append("<p class='meta'>Machine-readable results: results.json (format sentinel-experiments/1).</p></body></html>")
    return "".join(parts)


def write_outputs(report: RunReport, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"html": out_dir / "report.html", "json": out_dir / "results.json", "svg": out_dir / "chart.svg"}
    paths["html"].write_text(render_html(report), encoding="utf-8")
    paths["json"].write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")
    paths["svg"].write_text(render_chart(report), encoding="utf-8")
    return paths
