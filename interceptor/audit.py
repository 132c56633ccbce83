"""The decision audit trail: one JSON Lines record per decision, plus one log event.

Record: ``{"ts", "project", "sid", "tool", "args_sha256", "decision", "rule",
"reason", "jti", "latency_ms", "agent"}``; ``jti`` (null when nothing was signed) joins
it to the tool server's execution record, and ``ts`` is written in the same format
as there (``sentinel_contract.audit_timestamp``: ISO 8601, UTC, milliseconds). It
must never write raw arguments or key material: only the argument hash.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from sentinel_contract import MAX_AUDIT_FIELD, AuditChain, ChainHead, audit_timestamp, clip

__all__ = ["AuditLog", "AuditRecord"]

_log = logging.getLogger("sentinel.interceptor")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    project: str
    sid: str
    tool: str
    args_sha256: str | None
    decision: str
    rule: str
    reason: str
    jti: str | None
    latency_ms: float
    status: int
    agent: str | None = None  # the agent the session was started for, if one was declared

    def as_dict(self, ts: str) -> dict[str, object]:
        # Tool names, reasons (which may quote a value) and agent names come from callers:
        # clipped, and written as exactly one line whatever characters they hold (audit_line).
        # Clipped only when longer than the limit: nearly every field is far shorter, and this runs per call.
        return {
            "ts": ts,
            "project": self.project,
            "sid": self.sid if len(self.sid) <= MAX_AUDIT_FIELD else clip(self.sid),
            "tool": self.tool if len(self.tool) <= MAX_AUDIT_FIELD else clip(self.tool),
            "args_sha256": self.args_sha256,
            "decision": self.decision,
            "rule": self.rule if len(self.rule) <= MAX_AUDIT_FIELD else clip(self.rule),
            "reason": self.reason if len(self.reason) <= 1024 else clip(self.reason, 1024),
            "jti": self.jti,
            "latency_ms": round(self.latency_ms, 3),
            "agent": clip(self.agent),
        }


class AuditLog:
    """Appends records to a JSON Lines file (line-at-a-time, so a crash loses at most one), each
    chained to this process's previous one (``sentinel_contract.AuditChain``), and hands each to the
    PostgreSQL sink when one is configured (``audit_sink``).

    With ``max_bytes``, a file that grows past it is renamed ``NAME.1`` (``NAME.1`` to ``NAME.2``,
    and so on, ``keep`` files at most) and a new one is started; the chain runs on across files, so
    ``sentinel audit verify NAME.2 NAME.1 NAME`` checks them in order. Rotation is for one writer
    per file (the default: each process its own ``SENTINEL_AUDIT_LOG``).
    """

    def __init__(self, path: Path | None, *, max_bytes: int = 0, keep: int = 10, sink: Sink | None = None) -> None:
        self._path = path
        self._file: IO[bytes] | None = None
        self._chain = AuditChain(None)
        self._max_bytes = max_bytes
        self._keep = keep
        self._size = 0
        self.sink = sink

    @property
    def head(self) -> ChainHead | None:
        """Where this process's chain ends: what ``sentinel audit verify --head`` checks the file against."""
        return self._chain.head

    @property
    def accepting(self) -> bool:
        """False while the sink holds as many unwritten records as it may: calls are refused then."""
        return self.sink is None or self.sink.accepting

    def open(self) -> None:
        if self._path is None or self._file is not None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._chain = AuditChain(self._path)
        self._open_file(self._path)

    def _open_file(self, path: Path) -> None:
        # O_APPEND: several processes may share one file; each line lands whole.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._file = os.fdopen(fd, "ab", buffering=0)
        self._size = os.fstat(fd).st_size

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write_event(self, event: str, fields: Mapping[str, Any]) -> None:
        """A record of something other than a decision (an approval's state change), in the same file."""
        line = self._chain.line({"ts": audit_timestamp(time.time()), "event": event, **fields})
        self._append(line)
        _log.info(event, extra={"event": event, "record": line[:-1].decode()})

    def write(self, record: AuditRecord) -> None:
        line = self._chain.line(record.as_dict(audit_timestamp(time.time())))
        self._append(line)
        if _log.isEnabledFor(logging.INFO):
            _log.info(
                "tool_call.decided",
                extra={"event": "tool_call.decided", "status": record.status, "record": line[:-1].decode()},
            )

    def _append(self, line: bytes) -> None:
        if self._file is not None:
            self._file.write(line)
            self._size += len(line)
            if self._max_bytes and self._size >= self._max_bytes:
                self._rotate()
        if self.sink is not None:
            self.sink.put(line)

    def _rotate(self) -> None:
        assert self._path is not None and self._file is not None
        self._file.close()
        for index in range(self._keep - 1, 0, -1):
            older = self._path.with_name(f"{self._path.name}.{index}")
            if older.exists():
                older.replace(self._path.with_name(f"{self._path.name}.{index + 1}"))
        self._path.replace(self._path.with_name(f"{self._path.name}.1"))
        self._open_file(self._path)


class Sink(Protocol):
    """Where else records go (``audit_sink.PostgresAuditSink``)."""

    @property
    def accepting(self) -> bool: ...

    def put(self, line: bytes) -> None: ...
