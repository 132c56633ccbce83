"""The results of a run as data: one ``ScenarioResult`` per scenario and policy, gathered in a ``RunReport``.

The same objects feed the terminal table, the HTML report and the JSON file
(``RunReport.to_json()``; ``format: "sentinel-experiments/1"``). Tool outputs
are clipped in the JSON; API keys are never part of a result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sentinel_agent.agents import CallRecord
from sentinel_agent.experiments._policies import PolicyUnderTest
from sentinel_agent.experiments._scenario import Scenario, Verdict

__all__ = ["FORMAT", "PolicySummary", "RunReport", "ScenarioResult"]

FORMAT = "sentinel-experiments/1"
_CLIP = 600


@dataclass(slots=True)
class ScenarioResult:
    scenario: str
    policy: str
    verdict: Verdict
    calls: list[CallRecord] = field(default_factory=list)
    answer: str = ""
    seconds: float = 0.0
    error: str | None = None  # the scenario could not run (the LLM endpoint failed, the stack died)
    outbox: int = 0
    ledger: int = 0

    def count(self, decision: str) -> int:
        return sum(1 for call in self.calls if call.decision == decision)

    @property
    def blocked(self) -> int:
        return self.count("deny")

    @property
    def allowed(self) -> int:
        return self.count("allow")

    @property
    def held(self) -> int:
        return self.count("approval")

    def stopping_rules(self) -> list[str]:
        """The rules that denied or held a call, in order, each once."""
        seen: list[str] = []
        for call in self.calls:
            if call.decision in ("deny", "approval") and call.rule not in seen:
                seen.append(call.rule)
        return seen

    def to_dict(self) -> dict[str, Any]:
        calls = []
        for call in self.calls:
            item = call.to_dict()
            item["output"] = item["output"][:_CLIP]
            calls.append(item)
        return {
            "scenario": self.scenario,
            "policy": self.policy,
            "passed": self.verdict.passed,
            "outcome": self.verdict.summary,
            "task_done": self.verdict.task_done,
            "harm_done": self.verdict.harm_done,
            "calls": {"allowed": self.allowed, "blocked": self.blocked, "held": self.held, "errors": self.count("error")},
            "stopping_rules": self.stopping_rules(),
            "answer": self.answer[:_CLIP],
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "tool_server": {"outbox": self.outbox, "ledger": self.ledger},
            "trace": calls,
        }


@dataclass(frozen=True, slots=True)
class PolicySummary:
    policy: str
    role: str
    attacks: int
    attacks_stopped: int
    approvals: int
    approvals_held: int
    tasks: int
    tasks_completed: int
    allowed: int
    blocked: int
    held: int
    errors: int

    @property
    def failures(self) -> int:
        return (self.attacks - self.attacks_stopped) + (self.approvals - self.approvals_held) + (self.tasks - self.tasks_completed) + self.errors


@dataclass(slots=True)
class RunReport:
    agent: str
    policies: list[PolicyUnderTest]
    scenarios: list[Scenario]
    results: list[ScenarioResult] = field(default_factory=list)
    started_at: str = ""
    seconds: float = 0.0
    state_store: str = "memory"
    model: str | None = None

    def result(self, scenario: str, policy: str) -> ScenarioResult | None:
        for result in self.results:
            if result.scenario == scenario and result.policy == policy:
                return result
        return None

    def for_policy(self, policy: str) -> Iterable[ScenarioResult]:
        return (result for result in self.results if result.policy == policy)

    def summary(self, policy: PolicyUnderTest) -> PolicySummary:
        kinds = {scenario.id: scenario for scenario in self.scenarios}
        results = list(self.for_policy(policy.name))
        # A user task counts wherever a scenario has one (an attack scenario may too); an
        # approval scenario's "task" is the hold itself, counted under approvals.
        attacks = [r for r in results if kinds[r.scenario].kind == "attack"]
        approvals = [r for r in results if kinds[r.scenario].kind == "approval"]
        tasks = [r for r in results if kinds[r.scenario].task is not None and kinds[r.scenario].kind != "approval"]
        return PolicySummary(
            policy=policy.name,
            role=policy.role,
            attacks=len(attacks),
            attacks_stopped=sum(1 for r in attacks if r.verdict.harm_done is False and not r.error),
            approvals=len(approvals),
            approvals_held=sum(1 for r in approvals if r.verdict.passed),
            tasks=len(tasks),
            tasks_completed=sum(1 for r in tasks if r.verdict.task_done and not r.error),
            allowed=sum(r.allowed for r in results),
            blocked=sum(r.blocked for r in results),
            held=sum(r.held for r in results),
            errors=sum(1 for r in results if r.error or r.verdict.summary == "unexplained execution"),
        )

    def failures(self) -> list[ScenarioResult]:
        """Failed results under enforced policies: these make the run fail."""
        enforced = {policy.name for policy in self.policies if policy.role == "enforced"}
        return [result for result in self.results if result.policy in enforced and not result.verdict.passed]

    def untested_attacks(self) -> list[str]:
        """Scenarios whose harm did not happen even without protection: they prove nothing."""
        unprotected = [policy.name for policy in self.policies if policy.role == "unprotected"]
        found = []
        for scenario in self.scenarios:
            for name in unprotected:
                result = self.result(scenario.id, name)
                if scenario.harm is not None and result is not None and not result.error and result.verdict.harm_done is False:
                    found.append(scenario.id)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "agent": self.agent,
            "model": self.model,
            "state_store": self.state_store,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 2),
            "passed": not self.failures(),
            "policies": [
                {"name": p.name, "role": p.role, "source": p.source, "description": p.description} for p in self.policies
            ],
            "summary": [asdict(self.summary(p)) for p in self.policies],
            "scenarios": [
                {
                    "id": s.id,
                    "title": s.title,
                    "kind": s.kind,
                    "goal": s.goal.text,
                    "injected": s.environment.injected,
                    "task": s.task.text if s.task else None,
                    "harm": s.harm.text if s.harm else None,
                    "defence": s.defence,
                }
                for s in self.scenarios
            ],
            "untested_attacks": self.untested_attacks(),
            "results": [result.to_dict() for result in self.results],
        }
