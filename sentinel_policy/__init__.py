"""The policy engine: pure decision logic, no I/O.

It must never import asyncio, redis, httpx or a database driver, and never read
the clock: callers gather the facts (session state, time) and pass them in.
A decision is data (effect, deciding rule, reason, the state change it causes);
the same object feeds the HTTP answer, the audit record, `policy explain` and
`policy simulate`.

Lifecycle of one call, identical in the live interceptor and the simulator:

    policy = compile_policy(project_policies, project_tools)     # once per config
    decision = evaluate(policy, call, facts, now)                # pure
    if decision.effect is Effect.ALLOW:
        facts = apply_delta(facts, decision.delta)               # committed atomically
        output = <execute>
        facts = apply_delta(facts, observe(policy, call, output))
"""

from interceptor.policy._compile import CLASSES, CompiledPolicy, PolicyError, Rule, compile_policy
from interceptor.policy._evaluate import evaluate, observe
from interceptor.policy._explain import Explanation, explain
from interceptor.policy._lint import diff_policies, lint_policy
from interceptor.policy._model import (
    Decision,
    Effect,
    SessionFacts,
    StateDelta,
    ToolCall,
    apply_delta,
)
from interceptor.policy._simulate import replay, simulate_trace
from interceptor.policy._values import RuleEvalError, strings

__all__ = [
    "CLASSES",
    "CompiledPolicy",
    "Decision",
    "Effect",
    "Explanation",
    "PolicyError",
    "Rule",
    "RuleEvalError",
    "SessionFacts",
    "StateDelta",
    "ToolCall",
    "apply_delta",
    "compile_policy",
    "diff_policies",
    "evaluate",
    "explain",
    "lint_policy",
    "observe",
    "replay",
    "simulate_trace",
    "strings",
]
