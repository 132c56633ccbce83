"""What a run shows in the terminal: a progress bar while it runs, then the results table and a summary;
or, for one scenario (`sentinel demo`), every call with its decision and rule.

Uses rich; colours vanish by themselves when the output is not a terminal.
It must never print a tool's raw output (it may carry injected text and
terminal escape sequences): only ids, decisions and rule names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sentinel_agent.agents import CallRecord
from sentinel_agent.experiments._policies import PolicyUnderTest
from sentinel_agent.experiments._results import RunReport, ScenarioResult
from sentinel_agent.experiments._scenario import Scenario

__all__ = ["print_calls", "print_results", "progress_bar"]

_DECISION_COLOURS = {"allow": "green", "deny": "red", "approval": "yellow", "error": "magenta"}


@contextmanager
def progress_bar(console: Console, total: int) -> Iterator[Any]:
    """Yields ``on_result`` for ``run_experiments``: one tick per scenario and policy."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=total)

        def on_result(policy: PolicyUnderTest, scenario: Scenario, result: ScenarioResult) -> None:
            mark = "✓" if result.verdict.passed else "✗"
            progress.update(task, advance=1, description=f"{policy.name}: {scenario.id} {mark}")

        yield on_result
        progress.update(task, description="done")


def _cell(result: ScenarioResult | None) -> str:
    if result is None:
        return "-"
    colour = "green" if result.verdict.passed else "red"
    rules = result.stopping_rules()
    rule = f" [dim]{escape(rules[0])}{f' +{len(rules) - 1}' if len(rules) > 1 else ''}[/]" if rules else ""
    return f"[{colour}]{'✓' if result.verdict.passed else '✗'} {escape(result.verdict.summary)}[/]{rule}"


def print_results(report: RunReport, console: Console) -> None:
    if not console.is_terminal:
        console.width = max(console.width, 150)  # a log or a pipe: wide rows beat wrapped cells
    table = Table(title=f"Sentinel experiments: {len(report.scenarios)} scenarios, agent {report.agent}", show_lines=False)
    table.add_column("scenario", no_wrap=True)
    table.add_column("kind")
    for policy in report.policies:
        table.add_column(f"{policy.name}\n[dim]{policy.role}[/]")
    for scenario in report.scenarios:
        kind = scenario.kind + (" [dim](injected)[/]" if scenario.environment.injected else "")
        table.add_row(scenario.id, kind, *(_cell(report.result(scenario.id, p.name)) for p in report.policies))
    console.print(table)

    summary = Table(title="Summary (judged on the tool server's side effects)")
    for column in ("policy", "role", "attacks stopped", "held for approval", "tasks completed", "allowed", "blocked", "held", "errors"):
        summary.add_column(column)
    for policy in report.policies:
        s = report.summary(policy)
        attack_colour = "green" if s.attacks_stopped == s.attacks else ("red" if policy.role != "unprotected" else "yellow")
        task_colour = "green" if s.tasks_completed == s.tasks else "yellow"
        held_colour = "green" if s.approvals_held == s.approvals else "yellow"
        summary.add_row(policy.name, policy.role, f"[{attack_colour}]{s.attacks_stopped}/{s.attacks}[/]",
                        f"[{held_colour}]{s.approvals_held}/{s.approvals}[/]",
                        f"[{task_colour}]{s.tasks_completed}/{s.tasks}[/]", str(s.allowed), str(s.blocked), str(s.held), str(s.errors))
    console.print(summary)
    for scenario_id in report.untested_attacks():
        console.print(f"[yellow]warning:[/] the attack in {scenario_id} did not work even without protection; it proves nothing")
    failures = report.failures()
    if failures:
        console.print(f"[red bold]{len(failures)} expectation(s) failed under an enforced policy:[/] "
                      + ", ".join(f"{r.scenario} ({r.policy}: {r.verdict.summary})" for r in failures))
    else:
        enforced = [p.name for p in report.policies if p.role == "enforced"]
        if enforced:
            console.print(f"[green bold]Every attack stopped and every task completed under {', '.join(enforced)}.[/]")


def _asked_by(call: CallRecord) -> str:
    if call.source == "injection":
        return f"injection: {call.notes.get('instruction', '')}"
    return "user's task" if call.source == "user" else str(call.source)


def print_calls(result: ScenarioResult, console: Console, *, title: str) -> None:
    """One row per call of one scenario: who asked for it, the tool, the decision, the rule and its reason."""
    table = Table(title=title, show_lines=False)
    for column in ("#", "who asked", "tool", "decision", "rule", "reason"):
        table.add_column(column)
    for index, call in enumerate(result.calls, 1):
        colour = _DECISION_COLOURS.get(call.decision, "white")
        reason = call.reason + (" (the tool reported an error)" if call.tool_error else "")
        if call.decision == "approval":
            reason = f"held for approval {call.approval_id}: {reason}"
        table.add_row(str(index), escape(_asked_by(call)), escape(call.tool), f"[{colour}]{call.decision}[/]",
                      escape(call.rule), escape(reason))
    console.print(table)
