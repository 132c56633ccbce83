"""Cost of one policy decision with 1,000 rules: median and p99 in microseconds.

Prints numbers; it is not a test. Shows that the cost follows the rules that can
match the call's tool (rules are indexed by tool and class at compile time),
not the total number of rules. Default run: a few seconds.

    .venv/bin/python bench/policy_eval.py [--calls N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from sentinel_policy import SessionFacts, ToolCall, compile_policy, evaluate

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def tools(n: int) -> list[dict[str, Any]]:
    return [{"name": f"tool_{i:03d}", "class": "CONSEQUENTIAL_WRITE" if i % 2 else "SAFE_READ"} for i in range(n)]


def spread_rules(total: int, n_tools: int, generic: int) -> list[dict[str, Any]]:
    """``total`` rules, each naming one tool (round robin), with an argument test that does not match."""
    rules = [
        {"name": f"r{i}", "effect": "deny", "when": {"tool": f"tool_{i % n_tools:03d}", "args": {"amount": {"gt": 1000 + i}}}}
        for i in range(total)
    ]
    rules += [{"name": f"g{i}", "effect": "deny", "when": {"taint": [f"tag{i}"]}} for i in range(generic)]
    rules.append({"name": "allow-rest", "effect": "allow"})
    return rules


def measure(policies: dict[str, Any], n_tools: int, tool: str, calls: int) -> tuple[float, float, int]:
    policy = compile_policy(policies, tools(n_tools))
    call = ToolCall(tool, {"amount": 5, "to": "a@b.c"}, "bench")
    facts = SessionFacts(tags=frozenset({"x"}), history=("tool_001",) * 8)
    for _ in range(500):
        evaluate(policy, call, facts, NOW)
    samples = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        start = clock()
        decision = evaluate(policy, call, facts, NOW)
        samples.append((clock() - start) / 1000)
    assert decision.rule == "allow-rest", decision  # every candidate rule was tested and none matched
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)], len(policy.candidates(tool))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    cases = [
        ("1,000 rules over 100 tools (+10 for every tool)", spread_rules(1000, 100, 10), 100),
        ("10 rules over 1 tool (+10 for every tool)", spread_rules(10, 1, 10), 1),
        ("1,000 rules all naming the same tool", spread_rules(1000, 1, 10), 1),
    ]
    print(f"{'policy':52} {'candidates':>10} {'median µs':>10} {'p99 µs':>9}")
    for label, rules, n_tools in cases:
        median, p99, candidates = measure({"rules": rules}, n_tools, "tool_000", args.calls)
        print(f"{label:52} {candidates:>10} {median:>10.1f} {p99:>9.1f}")
    print("Targets (1,000 rules): median < 20 µs, p99 < 100 µs. Worst case = every candidate tested, none matching.")


if __name__ == "__main__":
    main()
