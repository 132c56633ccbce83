"""The interceptor's Prometheus metrics: one registry per app, served at ``GET /metrics`` to admins.

    sentinel_decisions_total{effect,rule}          every decision that was answered (allow, deny, hold)
    sentinel_call_duration_seconds{stage}          total (from the request's start), decide (decide,
                                                   commit, sign, re-decisions), forward (tool server + taint)
    sentinel_commit_conflicts_total                compare-and-set lost to another replica or call
    sentinel_state_errors_total                    calls refused because the state store failed (503)
    sentinel_rate_limited_total                    calls refused by a rate limit or quota (429)
    sentinel_approval_events_total{event}          approval.pending, .approved, .denied, .used
    sentinel_breakglass_events_total{event}        breakglass.opened, .closed

Each app has its own ``CollectorRegistry`` (never the process-global one), so tests and
several apps in one process count apart. Labels are bounded: a rule is clipped, a break-glass
override (``breakglass:<grant>``) counts as ``breakglass``, and past ``MAX_RULES`` distinct rules
the rest count as ``other``. Approvals pending are not a gauge: holds expire without an event and
every replica sees only its own, so the exact list is ``GET /admin/approvals``
(docs/operator-guide.md, "Metrics").

The call path only reads ``time.perf_counter`` and updates children looked up once: it must
never await or build labels per call (``labels()`` costs more than the update itself). The
stage histogram is ``sentinel_http.LatencyHistogram``, not prometheus-client's (a third of its cost).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from sentinel_http import LatencyHistogram
from sentinel_policy import Decision

__all__ = ["CONTENT_TYPE_LATEST", "MAX_RULES", "InterceptorMetrics"]

MAX_RULES = 256
MAX_RULE_CHARS = 64
_BREAKGLASS = "breakglass:"


class _Count:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class _Decisions(Collector):
    """``sentinel_decisions_total``: plain counts (no lock: only the event loop's thread decides)."""

    def __init__(self) -> None:
        self.by_label: dict[tuple[str, str], _Count] = {}

    def count(self, effect: str, label: str) -> _Count:
        found = self.by_label.get((effect, label))
        if found is None:
            found = self.by_label[(effect, label)] = _Count()
        return found

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "sentinel_decisions", "Decisions answered, by effect and deciding rule", labels=["effect", "rule"]
        )
        for labels, count in self.by_label.items():
            family.add_metric(list(labels), count.value)
        yield family


class InterceptorMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self._decisions = _Decisions()
        registry.register(self._decisions)
        duration = LatencyHistogram(
            "sentinel_call_duration_seconds", "Governed call latency by stage", label="stage",
            values=("total", "decide", "forward"),
        )
        registry.register(duration)
        self.total = duration.series("total")
        self.decide = duration.series("decide")
        self.forward = duration.series("forward")
        self.commit_conflicts = Counter(
            "sentinel_commit_conflicts", "Compare-and-set commits lost to a concurrent change", registry=registry
        )
        self.state_errors = Counter(
            "sentinel_state_errors", "Calls refused because the state store failed", registry=registry
        )
        self.rate_limited = Counter("sentinel_rate_limited", "Calls refused by a rate limit", registry=registry)
        self._events = {
            "approval": Counter("sentinel_approval_events", "Approval events", ["event"], registry=registry),
            "breakglass": Counter("sentinel_breakglass_events", "Break-glass events", ["event"], registry=registry),
        }
        self._children: dict[tuple[str, str], _Count] = {}

    def decided(self, decision: Decision) -> None:
        """Count one answered decision (the child for its labels is built once, then looked up)."""
        key = (decision.effect.value, decision.rule)
        child = self._children.get(key)
        if child is None:
            child = self._child(*key)
        child.value += 1

    def _child(self, effect: str, rule: str) -> _Count:
        if rule.startswith(_BREAKGLASS):  # one grant id per override: never cached, rare
            return self._decisions.count(effect, "breakglass")
        if len(self._children) >= MAX_RULES:
            return self._decisions.count(effect, "other")
        child = self._children[(effect, rule)] = self._decisions.count(effect, rule[:MAX_RULE_CHARS])
        return child

    def event(self, subject: str, event: str) -> None:
        counter = self._events.get(subject)
        if counter is not None:
            counter.labels(event[:MAX_RULE_CHARS]).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
