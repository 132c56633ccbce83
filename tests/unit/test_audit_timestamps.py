"""Both audit trails write ``ts`` in one format (ISO 8601, UTC, milliseconds, ``Z``), so the
records the ``jti`` joins also sort and compare by time as text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from interceptor.audit import AuditLog as DecisionLog
from interceptor.audit import AuditRecord
from mcp_server.audit import AuditLog as ExecutionLog
from sentinel_contract import audit_timestamp

TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (0.5, "1970-01-01T00:00:00.500Z"),
        (1_738_314_902.1239, "2025-01-31T09:15:02.123Z"),  # milliseconds are cut, not rounded
        (4_102_444_799.999, "2099-12-31T23:59:59.999Z"),
    ],
)
def test_audit_timestamp_is_iso_8601_utc_with_milliseconds(seconds: float, expected: str) -> None:
    assert audit_timestamp(seconds) == expected
    parsed = datetime.fromisoformat(expected)
    assert parsed.tzinfo is not None and parsed.utcoffset() == UTC.utcoffset(None)


def test_both_zones_write_ts_in_that_format(tmp_path: Path) -> None:
    decisions = DecisionLog(tmp_path / "interceptor-audit.jsonl")
    decisions.open()
    decisions.write(AuditRecord(project="p", sid="s", tool="t", args_sha256=None, decision="allow", rule="r",
                                reason="ok", jti="j" * 22, latency_ms=1.0, status=200))
    decisions.close()
    executions = ExecutionLog(tmp_path / "mcp-audit.jsonl")
    executions.open()
    executions.record("executed", "ok", method="tools/call", tool="t", jti="j" * 22, sid="s", verified=True)
    executions.close()

    decision = orjson.loads((tmp_path / "interceptor-audit.jsonl").read_bytes())
    execution = orjson.loads((tmp_path / "mcp-audit.jsonl").read_bytes())
    assert TS.fullmatch(decision["ts"]) and TS.fullmatch(execution["ts"])
    assert decision["jti"] == execution["jti"]
    assert datetime.fromisoformat(decision["ts"]) <= datetime.fromisoformat(execution["ts"])


def test_the_cached_format_is_exactly_what_datetime_gives() -> None:
    import random
    from datetime import UTC, datetime

    from sentinel_contract import audit_timestamp

    rng = random.Random(7)
    values = [rng.uniform(0, 4e9) for _ in range(20_000)] + [0.0, 1.9999996, 1733600000.9999996, 1733600001.0005]
    for seconds in values:
        expected = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert audit_timestamp(seconds) == expected, seconds
