"""The interceptor's metric labels stay bounded whatever rules and grants a policy has."""

from __future__ import annotations

from interceptor.metrics import MAX_RULES, InterceptorMetrics
from sentinel_policy import Decision, Effect


def value(metrics: InterceptorMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return found if found is not None else 0.0


def test_a_breakglass_override_counts_as_breakglass_whatever_its_grant() -> None:
    metrics = InterceptorMetrics()
    metrics.decided(Decision(Effect.ALLOW, "breakglass:bg-1", "open"))
    metrics.decided(Decision(Effect.ALLOW, "breakglass:bg-2", "open"))
    assert value(metrics, "sentinel_decisions_total", effect="allow", rule="breakglass") == 2


def test_long_rule_names_are_clipped_and_past_the_bound_count_as_other() -> None:
    metrics = InterceptorMetrics()
    metrics.decided(Decision(Effect.DENY, "r" * 500, "no"))
    assert value(metrics, "sentinel_decisions_total", effect="deny", rule="r" * 64) == 1
    for index in range(MAX_RULES + 10):
        metrics.decided(Decision(Effect.ALLOW, f"rule-{index}", "ok"))
    assert value(metrics, "sentinel_decisions_total", effect="allow", rule="other") == 11
    assert value(metrics, "sentinel_decisions_total", effect="allow", rule="rule-0") == 1


def test_events_are_counted_by_subject_and_name() -> None:
    metrics = InterceptorMetrics()
    metrics.event("approval", "approval.pending")
    metrics.event("breakglass", "breakglass.opened")
    metrics.event("session", "session.revoked")  # no counter of its own: not counted
    assert value(metrics, "sentinel_approval_events_total", event="approval.pending") == 1
    assert value(metrics, "sentinel_breakglass_events_total", event="breakglass.opened") == 1


def test_two_apps_in_one_process_count_apart() -> None:
    first, second = InterceptorMetrics(), InterceptorMetrics()
    first.rate_limited.inc()
    assert value(first, "sentinel_rate_limited_total") == 1
    assert value(second, "sentinel_rate_limited_total") == 0
