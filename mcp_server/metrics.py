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

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from sentinel_http import LatencyHistogram

__all__ = ["CONTENT_TYPE_LATEST", "VERIFICATION_REASONS", "ToolServerMetrics"]

# The refusals of mcp_server.guard and sentinel_contract's token checks, and the pin and store checks.
VERIFICATION_REASONS = frozenset({
    "missing_token", "malformed_token", "bad_algorithm", "missing_kid", "bad_kid", "bad_key", "unknown_key",
    "bad_signature", "missing_claim", "bad_audience", "not_yet_valid", "expired", "bad_session", "bad_ttl",
    "bad_jti", "tool_mismatch", "args_mismatch", "unknown_session", "session_expired", "session_revoked",
    "replayed_jti", "store_unavailable", "tool_definition_changed",
})


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
        self._failures = {reason: failures.labels(reason) for reason in (*sorted(VERIFICATION_REASONS), "other")}
        duration = LatencyHistogram("sentinel_tool_duration_seconds", "POST /rpc latency, body read to answer")
        registry.register(duration)
        self.duration = duration.series()

    def verification_failed(self, reason: str) -> None:
        self._failures.get(reason, self._failures["other"]).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
