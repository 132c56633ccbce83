"""What the two audit trails share besides the ``jti`` that joins them: how a record is written.

Each zone writes its own JSON Lines record (docs/operator-guide.md, "The audit
trail"); both write ``ts`` with :func:`audit_timestamp`, so the two files sort
and compare as text and read the same to a person and to a log shipper; both
write a record with :func:`audit_line`, so one record is one line for every
reader; and both quote caller-chosen text through :func:`clip`, so a huge tool
name or reason cannot turn one request into megabytes of log.

It must never let a record span two lines for any reader, including those that
split lines the Unicode way (``str.splitlines``, JavaScript): JSON escapes the
ASCII controls, but U+2028, U+2029 and U+0085 pass through a JSON encoder raw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["MAX_AUDIT_FIELD", "audit_line", "audit_timestamp", "clip"]

MAX_AUDIT_FIELD = 128  # characters of one caller-chosen field (tool name, reason, sid) in a record
# UTF-8 of the line separators a JSON encoder leaves raw, and their JSON escapes.
_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"), (b"\xc2\x85", b"\\u0085"))


def clip(value: str | None, limit: int = MAX_AUDIT_FIELD) -> str | None:
    """``value`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    if value is None or len(value) <= limit:
        return value
    return value[:limit] + "…"


def audit_line(record: Mapping[str, Any]) -> bytes:
    """One JSON Lines record: JSON with every line separator escaped, and one newline."""
    line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    if line.isascii():  # nearly every record: the separators are not ASCII
        return line
    for raw, escaped in _SEPARATORS:
        if raw in line:
            line = line.replace(raw, escaped)
    return line


def audit_timestamp(seconds: float) -> str:
    """Unix time as ISO 8601 in UTC with milliseconds and a ``Z``: ``2025-01-31T09:15:02.123Z``.

    The date and time of day are formatted once per second (one record per decision
    makes this hot) and reused; the value is the one ``datetime`` itself gives.
    """
    global _second  # a one-entry cache: the tuple is replaced whole, never mutated
    fraction, integral = math.modf(seconds)  # the rounding datetime.fromtimestamp does
    whole, micros = int(integral), round(fraction * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    cached_whole, prefix = _second
    if whole != cached_whole:
        prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (whole, prefix)
    return f"{prefix}.{micros // 1000:03d}Z"


_second: tuple[int, str] = (-1, "")
