"""`sentinel demo`: one scenario of the experiments, on the shipped example config, as a readable table.

It runs the ``workday-injection`` scenario (``sentinel_agent.experiments``)
through the experiments' runner with the scripted agent, on a stack this
command starts (``run_stack``): the user's honest task first, then everything
an injected mail in the inbox asks for. The table shows each call, the
decision and the rule that made it. A second, shorter table shows the same
policy reached by a stock MCP client at ``/mcp`` (``_demo_mcp.py``).

This module must never weaken a default to make the demo pass: the demo shows
the example policy doing its job, judged on the tool server's side (outbox,
ledger, files) by the scenario itself, and exits 1 if an honest step was not
allowed or anything the injection asked for got through.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from sentinel_cli.run import DEMO_API_KEY, DEMO_CONFIG

SCENARIO = "workday-injection"


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser("demo", help="start the stack, run a scripted agent session, print the decisions")
    demo.add_argument("--config", default=str(DEMO_CONFIG), help="YAML config whose project accepts the demo API key")
    demo.add_argument("--keep", action="store_true", help="keep the temporary folder with the audit logs")
    demo.set_defaults(handler=_demo)


def _problems(result: Any, writes: set[str]) -> list[str]:
    """What went wrong: the scenario's verdict on the tool server's side, and every decision the demo promises."""
    problems = [f"honest call {c.tool} was {c.decision}: {c.reason}" for c in result.calls
                if c.source == "user" and c.decision != "allow"]
    problems += [f"the injected {c.tool} was allowed" for c in result.calls
                 if c.source == "injection" and c.tool in writes and c.decision == "allow"]
    if result.error:
        problems.append(f"the session failed: {result.error}")
    if not result.verdict.passed:
        problems.append(f"judged on the tool server's side: {result.verdict.summary}")
    return problems


def _mcp_part(config: str, tmp: Path) -> list[str]:
    """The same policy through a stock MCP client at /mcp: its own short session, printed as a table."""
    from rich.console import Console
    from rich.table import Table

    from sentinel_cli._demo_mcp import run_mcp_session
    from sentinel_cli.run import run_stack

    var_dir = tmp / "mcp-client"
    with run_stack(config=config, var_dir=var_dir) as stack:
        rows, problems = run_mcp_session(stack.interceptor_url, DEMO_API_KEY, var_dir)
    print()
    table = Table(title="The same policy, from a stock MCP client (the official mcp SDK) at /mcp")
    for column in ("#", "who asked", "tool", "decision", "rule"):
        table.add_column(column)
    for index, row in enumerate(rows, 1):
        colour = {"allow": "green", "deny": "red"}.get(row.decision, "yellow")
        table.add_row(str(index), row.asked_by, row.tool, f"[{colour}]{row.decision}[/]", row.rule)
    Console(width=160).print(table)
    return problems


def _demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from mcp_server.demo import tool_definitions
    from sentinel_agent._errors import AgentError
    from sentinel_agent.agents import ScriptedAgent
    from sentinel_agent.experiments import (
        SCENARIOS,
        policy_from_config,
        run_experiments,
    )
    from sentinel_agent.experiments._terminal import print_calls
    from sentinel_cli.run import config_problem, run_stack

    problem = config_problem(args.config)
    if problem is not None:
        print(f"sentinel demo: not starting: {problem}", file=sys.stderr)
        return 2
    scenario = next(s for s in SCENARIOS if s.id == SCENARIO)
    tmp = Path(tempfile.mkdtemp(prefix="sentinel-demo-"))
    print(f"Starting the tool server and the interceptor (state and audit logs in {tmp}) ...")
    try:
        policy = policy_from_config(args.config, DEMO_API_KEY)
        report = run_experiments([policy], [scenario], ScriptedAgent(), tmp, launch=run_stack)
    except AgentError as exc:
        print(f"sentinel demo: {exc.message}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        return 2
    result = report.results[0]
    print_calls(result, Console(width=160), title=f"Sentinel demo: one agent session ({scenario.id}, {policy.source})")

    writes = {t["name"] for t in tool_definitions() if str(t.get("class", "")).endswith("_WRITE")}
    honest = [c for c in result.calls if c.source == "user"]
    injected = [c for c in result.calls if c.source == "injection"]
    injected_writes = [c for c in injected if c.tool in writes]
    print(f"\nHonest steps allowed: {sum(c.decision == 'allow' for c in honest)}/{len(honest)}; "
          f"injected steps blocked: {sum(c.decision != 'allow' for c in injected)}/{len(injected)} (every injected write: "
          f"{'blocked' if all(c.decision != 'allow' for c in injected_writes) else 'NOT blocked'}).")
    problems = _problems(result, writes)
    problems += _mcp_part(args.config, tmp)
    if problems:
        print("\nThe demo found problems:\n- " + "\n- ".join(problems), file=sys.stderr)
    stack = tmp / "stacks" / policy.name
    if args.keep or problems:
        print(f"Audit trails: {stack / 'interceptor-audit.jsonl'} (decisions) and {stack / 'mcp-audit.jsonl'} (executions), "
              "joined by jti.")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if problems else 0
