"""The experiment suite: scenarios over the demo tool server, run under policies, judged on the tool server's side.

    policies = [resolve_policy(name) for name in DEFAULT_POLICIES]
    report = run_experiments(policies, SCENARIOS, ScriptedAgent(), Path("var/experiments"), launch=launcher)
    write_outputs(report, Path("var/experiments"))      # report.html, results.json, chart.svg

``launcher`` is a ``sentinel_agent.StackLauncher``: what starts the tool server
and the interceptor. Nothing here weakens a policy or judges by decisions
alone; `sentinel experiments run` and `sentinel demo` are its command-line faces.
"""

from sentinel_agent.experiments._catalogue import SCENARIOS, scenario_ids
from sentinel_agent.experiments._policies import (
    BUILTIN_POLICIES,
    DEFAULT_POLICIES,
    PolicyUnderTest,
    policy_from_config,
    resolve_policy,
)
from sentinel_agent.experiments._results import FORMAT, PolicySummary, RunReport, ScenarioResult
from sentinel_agent.experiments._runner import Agent, run_experiments
from sentinel_agent.experiments._scenario import Check, Environment, Scenario, Verdict
from sentinel_agent.experiments._world import World, observe

__all__ = [
    "BUILTIN_POLICIES",
    "DEFAULT_POLICIES",
    "FORMAT",
    "SCENARIOS",
    "Agent",
    "Check",
    "Environment",
    "PolicySummary",
    "PolicyUnderTest",
    "RunReport",
    "Scenario",
    "ScenarioResult",
    "Verdict",
    "World",
    "observe",
    "policy_from_config",
    "resolve_policy",
    "run_experiments",
    "scenario_ids",
]
