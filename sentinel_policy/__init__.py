"""The policy engine: pure decision logic, no I/O.

It must never import asyncio, redis, httpx, a database driver or another Sentinel
package (the interceptor, rule_maker and the CLI import it, never the reverse),
and never read the clock: callers gather the facts (session state, time) and
pass them in. Its one draw of chance is the secret key of a new ``SessionFacts``
(its fingerprints are keyed with it; a caller may pass its own).
A decision is data (effect, deciding rule, reason, the state change it causes);
the same object feeds the HTTP answer, the audit record, `policy explain` and
`policy simulate`.

Lifecycle of one call, identical in the live interceptor and the simulator:

    policy = compile_policy(project_policies, project_tools)     # once per config
    facts = SessionFacts()                                       # once per session: draws its fingerprint key
    decision = evaluate(policy, call, facts, now)                # pure
    if decision.effect is Effect.ALLOW:
        facts = apply_delta(facts, decision.delta)               # committed atomically
        output = <execute>
        facts = apply_delta(facts, observe(policy, call, output))
"""

from sentinel_policy._breakglass import REASON_CODES, BreakGlassRules
from sentinel_policy._classes import CLASS_DEFINITIONS, SecurityClass
from sentinel_policy._compile import CompiledPolicy, PolicyError, Rule, compile_policy
from sentinel_policy._conditions import Condition
from sentinel_policy._dataflow import RuleEvalError, strings
from sentinel_policy._evaluate import evaluate, may_approve, observe, override, release
from sentinel_policy._explain import Explanation, explain
from sentinel_policy._json_values import json_value_problems
from sentinel_policy._limits import Counter, Limit, counters
from sentinel_policy._lint import diff_policies, lint_policy
from sentinel_policy._model import (
    Decision,
    Effect,
    SessionFacts,
    StateDelta,
    ToolCall,
    apply_delta,
)
from sentinel_policy._reach import could_allow
from sentinel_policy._simulate import replay, simulate_trace

__all__ = [
    "CLASS_DEFINITIONS",
    "REASON_CODES",
    "BreakGlassRules",
    "CompiledPolicy",
    "Condition",
    "Counter",
    "Decision",
    "Effect",
    "Explanation",
    "Limit",
    "PolicyError",
    "Rule",
    "RuleEvalError",
    "SecurityClass",
    "SessionFacts",
    "StateDelta",
    "ToolCall",
    "apply_delta",
    "compile_policy",
    "could_allow",
    "counters",
    "diff_policies",
    "evaluate",
    "explain",
    "json_value_problems",
    "lint_policy",
    "may_approve",
    "observe",
    "override",
    "release",
    "replay",
    "simulate_trace",
    "strings",
]
