"""One audit record is one line, for every reader, whatever the caller put in it.

Attack: put U+2028, U+2029 or U+0085 in a tool name, an argument a reason
quotes, or an agent name. A JSON encoder leaves them raw, and a reader that
splits lines the Unicode way (Python's ``str.splitlines``, JavaScript, many log
shippers) then sees a record break in two, or a forged second record. And: send
a huge tool name so that one request writes megabytes of log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interceptor.audit import AuditLog, AuditRecord
from mcp_server.audit import AuditLog as McpAuditLog
from sentinel_contract import MAX_AUDIT_FIELD

SEPARATORS = ["\u2028", "\u2029", "\u0085", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c", "\r", "\n"]
FORGED = '", "decision": "allow", "x": "'


def interceptor_record(tool: str, reason: str = "r", agent: str | None = None) -> AuditRecord:
    return AuditRecord(project="p", sid="s", tool=tool, args_sha256="h", decision="deny", rule="rule",
                       reason=reason, jti=None, latency_ms=1.0, status=403, agent=agent)


def written_lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()  # the Unicode way


@pytest.mark.parametrize("separator", SEPARATORS)
def test_the_interceptor_writes_one_line_per_record(tmp_path: Path, separator: str) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.open()
    text = f"send{separator}{FORGED}"
    log.write(interceptor_record(text, reason=f"value {text}", agent=f"a{separator}b"))
    log.close()
    lines = written_lines(tmp_path / "audit.jsonl")
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["tool"] == text and record["decision"] == "deny"


@pytest.mark.parametrize("separator", SEPARATORS)
def test_the_tool_server_writes_one_line_per_record(tmp_path: Path, separator: str) -> None:
    log = McpAuditLog(tmp_path / "mcp.jsonl")
    log.open()
    log.record("rejected", "unknown_tool", method="tools/call", tool=f"t{separator}{FORGED}")
    log.close()
    lines = written_lines(tmp_path / "mcp.jsonl")
    assert len(lines) == 1 and json.loads(lines[0])["event"] == "rejected"


def test_a_huge_tool_name_writes_a_bounded_record(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.open()
    log.write(interceptor_record("x" * 900_000, reason="y" * 900_000, agent="z" * 900_000))
    log.close()
    size = (tmp_path / "audit.jsonl").stat().st_size
    assert size < 4 * 1024
    assert json.loads(written_lines(tmp_path / "audit.jsonl")[0])["tool"] == "x" * MAX_AUDIT_FIELD + "…"
