"""The tool server's Prometheus metrics: one registry per app, served at ``GET /metrics``.

    sentinel_tool_calls_total{outcome}                 every POST /rpc answered: executed or rejected
    sentinel_verification_failures_total{reason}       refused by the signed-call check (or its store),
                                                       by the reason the answer carries (bounded set)
    sentinel_tool_duration_seconds                     POST /rpc, from the body read to the answer

Each app has its own ``CollectorRegistry`` (never the process-global one). The endpoint is open:
the tool server sits on a network only the interceptor (and the scraper) reach. The hot path
updates children looked up once; a reason outside ``VERIFICATION_REASONS`` counts as ``other``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "VERIFICATION_REASONS", "ToolServerMetrics"]

# The refusals of mcp_server.guard and sentinel_contract's token checks, and the pin and store checks.
VERIFICATION_REASONS = frozenset({
    "missing_token", "malformed_token", "bad_algorithm", "missing_kid", "bad_kid", "bad_key", "unknown_key",
    "bad_signature", "missing_claim", "bad_audience", "not_yet_valid", "expired", "bad_session", "bad_ttl",
    "bad_jti", "tool_mismatch", "args_mismatch", "unknown_session", "session_expired", "session_revoked",
    "replayed_jti", "store_unavailable", "tool_definition_changed",
})
BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ToolServerMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        calls = Counter("sentinel_tool_calls", "POST /rpc requests answered, by outcome", ["outcome"], registry=registry)
        self.executed = calls.labels("executed")
        self.rejected = calls.labels("rejected")
        failures = Counter(
            "sentinel_verification_failures", "Requests refused by the signed-call check, by reason", ["reason"],
            registry=registry,
        )
        self._failures = {reason: failures.labels(reason) for reason in (*VERIFICATION_REASONS, "other")}
        self.duration = Histogram(
            "sentinel_tool_duration_seconds", "POST /rpc latency, body read to answer", registry=registry,
            buckets=BUCKETS,
        )

    def verification_failed(self, reason: str) -> None:
        self._failures.get(reason, self._failures["other"]).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
