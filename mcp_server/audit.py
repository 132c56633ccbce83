"""The tool server's execution trail: one JSON Lines record per request.

Record: ``{"ts", "event": "executed"|"rejected", "reason", "jti", "sid", "tool",
"method", "verified"}``. ``jti``/``sid``/``tool`` of a rejected request may come
from a token or body that did not verify (``verified: false``); they are kept,
truncated, because they are what an operator searches for. The ``jti`` joins a
record to the interceptor's decision.

It must never write arguments, tokens or keys. Each record is flushed at once
(tests and ``tail -f`` see it); a local append of a few hundred bytes does not
block the event loop in any way that matters next to the request itself.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

import orjson

__all__ = ["AuditLog", "AuditRecord"]

_MAX_FIELD = 128
AuditEvent = Literal["executed", "rejected"]
AuditRecord = dict[str, object]


def _clip(value: str | None) -> str | None:
    if value is None:
        return None
    return value if len(value) <= _MAX_FIELD else value[:_MAX_FIELD] + "…"


class AuditLog:
    """Appends records to ``path`` (parent folders are created); ``None`` keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        self.last: AuditRecord | None = None

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
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": event,
            "reason": reason,
            "jti": _clip(jti),
            "sid": _clip(sid),
            "tool": _clip(tool),
            "method": _clip(method),
            "verified": verified,
        }
        self.last = entry
        if self._file is not None:
            line = orjson.dumps(entry) + b"\n"
            with self._lock:
                self._file.write(line)
                self._file.flush()
        return entry

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
