"""The tool server's execution trail: one JSON Lines record per request.

Record: ``{"ts", "event": "executed"|"rejected", "reason", "jti", "sid", "tool",
"method", "verified"}``, ``ts`` in the interceptor's format
(``sentinel_contract.audit_timestamp``: ISO 8601, UTC, milliseconds).
``jti``/``sid``/``tool`` of a rejected request may come from a token or body
that did not verify (``verified: false``); they are kept, truncated, because
they are what an operator searches for. The ``jti`` joins a record to the
interceptor's decision.

It must never write arguments, tokens or keys, nor a record over more than one
line (``sentinel_contract.audit_line``). Each record is flushed at once
(tests and ``tail -f`` see it); a local append of a few hundred bytes does not
block the event loop in any way that matters next to the request itself.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import IO, Literal

from mcp_server import tracing
from sentinel_contract import AuditChain, audit_timestamp, clip

__all__ = ["AuditLog", "AuditRecord"]

AuditEvent = Literal["executed", "rejected"]
AuditRecord = dict[str, object]


class AuditLog:
    """Appends records to ``path`` once opened (parent folders are created); ``None`` keeps
    only the last record, in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()
        self.last: AuditRecord | None = None
        self._chain = AuditChain(None)

    def open(self) -> None:
        if self.path is None or self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._chain = AuditChain(self.path)
        self._file = open(self.path, "ab")  # noqa: SIM115 - closed by close()

    def record(
        self,
        event: AuditEvent,
        reason: str | None,
        *,
        method: str | None,
        tool: str | None = None,
        jti: str | None = None,
        sid: str | None = None,
        verified: bool = False,
    ) -> AuditRecord:
        entry: AuditRecord = {
            "ts": audit_timestamp(time.time()),
            "event": event,
            "reason": reason,
            "jti": clip(jti),
            "sid": clip(sid),
            "tool": clip(tool),
            "method": clip(method),
            "verified": verified,
        }
        self.last = entry
        if tracing.SWITCH.on:
            tracing.recorded(entry)
        if self._file is not None:
            with self._lock:  # one chain: records are linked in the order they are written
                self._file.write(self._chain.line(entry))
                self._file.flush()
        return entry

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
