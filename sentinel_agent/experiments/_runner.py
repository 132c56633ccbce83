"""Run scenarios under policies: one real stack per policy, one fresh session per scenario.

For each policy the tool server and the interceptor start as real processes,
through the ``StackLauncher`` the caller passes in (fresh identity key, the
policy's config, a var folder under ``out/stacks/<policy>``, optionally Redis;
``sentinel experiments run`` passes the CLI's). For each scenario the
data folder is reset and the scenario's environment written, the agent runs
through the SDK in a new session, and the judge reads what the tool server did.

It must never judge from decisions alone (``observe`` reads the tool server's
side), never share a session between scenarios, and never delete Redis keys
outside the prefix it made for this run.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sentinel_agent._errors import AgentError, ExperimentError
from sentinel_agent._stack import StackLauncher
from sentinel_agent.agents import Goal, ToolSession
from sentinel_agent.experiments._policies import PolicyUnderTest
from sentinel_agent.experiments._results import RunReport, ScenarioResult
from sentinel_agent.experiments._scenario import Scenario, Verdict
from sentinel_agent.experiments._world import audit_size, observe
from sentinel_redis import delete_prefix

__all__ = ["Agent", "run_experiments"]

OnResult = Callable[[PolicyUnderTest, Scenario, ScenarioResult], None]


class Agent(Protocol):
    name: str

    async def run(self, goal: Goal, session: ToolSession) -> str: ...


async def _run_scenario(scenario: Scenario, policy: PolicyUnderTest, agent: Agent, base_url: str, var_dir: Path) -> ScenarioResult:
    from sentinel_sdk import SentinelClient, SentinelError

    data_dir, mcp_audit = var_dir / "mcp-data", var_dir / "mcp-audit.jsonl"
    scenario.environment.prepare(data_dir)
    offset = audit_size(mcp_audit)
    started = time.perf_counter()
    session: ToolSession | None = None
    answer, error = "", None
    try:
        async with SentinelClient(api_key=policy.api_key, base_url=base_url) as client:
            session = ToolSession(client)
            answer = await agent.run(scenario.goal, session)
    except (AgentError, SentinelError) as exc:
        error = f"{exc.code}: {exc}"
    seconds = time.perf_counter() - started
    calls = session.calls if session is not None else []
    world = observe(data_dir, mcp_audit, offset, session.session_id if session else "", calls, answer)
    verdict = scenario.judge(world)
    if error is not None:
        verdict = Verdict(False, verdict.task_done, verdict.harm_done, "error")
    return ScenarioResult(
        scenario.id, policy.name, verdict, calls, answer, seconds, error, outbox=len(world.outbox), ledger=len(world.ledger)
    )


def run_experiments(
    policies: Sequence[PolicyUnderTest],
    scenarios: Sequence[Scenario],
    agent: Agent,
    out_dir: Path,
    *,
    launch: StackLauncher,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
    on_result: OnResult | None = None,
    model: str | None = None,
) -> RunReport:
    """Every scenario under every policy; the stacks start one after another (the machine may be small).

    ``launch`` starts one stack per policy. With ``redis_url`` the state lives in
    Redis under ``redis_prefix`` (default: a new one per run), and every key
    under that prefix is deleted afterwards.
    """
    if not policies or not scenarios:
        raise ExperimentError("nothing to run: no policy or no scenario selected")
    report = RunReport(
        agent=agent.name,
        policies=list(policies),
        scenarios=list(scenarios),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        state_store="redis" if redis_url else "memory",
        model=model,
    )
    started = time.perf_counter()
    run_prefix = redis_prefix or f"sentinel-experiments:{uuid.uuid4().hex[:10]}:"
    try:
        for policy in policies:
            var_dir = out_dir / "stacks" / policy.name
            shutil.rmtree(var_dir, ignore_errors=True)  # a previous run's logs would mix with this one's
            config = policy.write_config(out_dir / "configs")
            try:
                with launch(config=str(config), var_dir=var_dir, redis_url=redis_url, redis_prefix=f"{run_prefix}{policy.name}:") as stack:
                    asyncio.run(_run_policy(policy, scenarios, agent, stack.interceptor_url, var_dir, report, on_result))
            except RuntimeError as exc:  # the launcher: a process died or never became healthy
                raise ExperimentError(f"the stack for policy {policy.name!r} did not start: {exc}") from exc
    finally:
        if redis_url:
            delete_prefix(redis_url, run_prefix)
    report.seconds = time.perf_counter() - started
    return report


async def _run_policy(
    policy: PolicyUnderTest,
    scenarios: Sequence[Scenario],
    agent: Agent,
    base_url: str,
    var_dir: Path,
    report: RunReport,
    on_result: OnResult | None,
) -> None:
    for scenario in scenarios:
        result = await _run_scenario(scenario, policy, agent, base_url, var_dir)
        report.results.append(result)
        if on_result is not None:
            on_result(policy, scenario, result)
