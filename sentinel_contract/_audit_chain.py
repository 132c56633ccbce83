"""A tamper-evident audit trail: every record carries the hash of the one its writer wrote before it.

Both zones chain their records the same way (docs/operator-guide.md, "Audit integrity")::

    {"ts": ..., ..., "writer": "9f2c...", "seq": 41, "prev": "<hex SHA-256 of this writer's record 40, as written>"}

A writer is one process's open log: it starts at ``seq`` 0, and its first
``prev`` is the hash of the file's last line when it opened it (all zeros for an
empty file), so a restart continues the chain. Several processes may append to
one file: each keeps its own chain. :func:`verify_chain` reports the first
record that does not follow: an edited record (the next one's ``prev`` no longer
matches it), a removed or reordered one (a gap or a step back in ``seq``), lost
records at the start, or a line that is not a chained record. Records cut off
at the end leave no gap to see; the writer's head (its last ``seq`` and hash,
which the interceptor's admin API answers) shows them.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sentinel_contract._audit import audit_line

__all__ = ["GENESIS", "AuditChain", "ChainHead", "ChainReport", "verify_chain"]

GENESIS = "0" * 64
_TAIL = 65_536  # bytes read back at a time from the end of a file to find its last line


def _digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a writer's chain ends: its last record's number and hash."""

    writer: str
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.writer}:{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> ChainHead:
        writer, seq, digest = text.split(":")
        return cls(writer, int(seq), digest)


class AuditChain:
    """One writer's chain. Not thread-safe: the caller writes one record at a time."""

    def __init__(self, path: Path | None) -> None:
        self.writer = secrets.token_hex(8)
        self._seq = 0
        self._prev = _last_line_hash(path)

    def line(self, record: dict[str, Any]) -> bytes:
        """``record`` as its audit line, linked to this writer's previous one (its chain fields are set
        in ``record`` itself: a record is built for one line, and copying it would cost every call)."""
        record["writer"], record["seq"], record["prev"] = self.writer, self._seq, self._prev
        line = audit_line(record)
        self._prev = hashlib.sha256(line).hexdigest()
        self._seq += 1
        return line

    @property
    def head(self) -> ChainHead | None:
        return ChainHead(self.writer, self._seq - 1, self._prev) if self._seq else None


def _last_line_hash(path: Path | None) -> str:
    """The hash of the file's last whole line, as ``verify_chain`` reads lines (ending at ``\\n``), however long."""
    if path is None or not path.exists():
        return GENESIS
    with open(path, "rb") as file:
        end = file.seek(0, os.SEEK_END)
        if end == 0:
            return GENESIS
        file.seek(end - 1)
        if file.read(1) != b"\n":
            return GENESIS  # a line cut short: the next record starts no chain link from it
        start = end - 1
        while start > 0:  # back to the newline before the last line, _TAIL bytes at a time
            step = min(_TAIL, start)
            file.seek(start - step)
            found = file.read(step).rfind(b"\n")
            start -= step
            if found >= 0:
                start += found + 1
                break
        file.seek(start)
        return _digest(file.read(end - start))


@dataclass(frozen=True, slots=True)
class ChainReport:
    records: int
    writers: int
    problem: str | None  # the first break, naming its line; None when every link holds

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify_chain(lines: Iterable[bytes], heads: Iterable[ChainHead] = (), *, partial: bool = False) -> ChainReport:
    """Check every link of a chained audit file (its lines, with their newlines), and the given heads.

    ``partial``: the files start mid-chain (older rotated files were archived elsewhere): each writer's
    first record here is taken as where it starts; every link after it is checked as usual."""
    heads = list(heads)
    seen: set[str] = {GENESIS}
    last: dict[str, tuple[int, str, int]] = {}  # writer -> (seq, hash, line number) of its latest record
    # The record each head names, wherever it is: the file usually goes on past a head saved earlier, and an
    # unkeyed chain rewritten from an edited record onwards is consistent again; only the head's hash shows it.
    marked: dict[tuple[str, int], tuple[str, int]] = {(head.writer, head.seq): ("", 0) for head in heads}
    count = 0
    for number, line in enumerate(lines, start=1):
        count += 1
        problem = _check(number, line, seen, last, marked, partial)
        if problem is not None:
            return ChainReport(count, len(last), problem)
        seen.add(_digest(line))
    for head in heads:
        found = last.get(head.writer)
        if found is None:
            return ChainReport(count, len(last), f"writer {head.writer}: none of its records are in the file")
        if found[0] < head.seq:
            return ChainReport(count, len(last), f"writer {head.writer}: records {found[0] + 1}..{head.seq} are "
                                                 f"missing after line {found[2]} (the file was cut short)")
        digest, number = marked[(head.writer, head.seq)]
        if digest != head.hash:
            which = "last record" if found[0] == head.seq else f"record {head.seq} (where its head ends)"
            return ChainReport(count, len(last), f"line {number}: writer {head.writer}'s {which} was changed")
    return ChainReport(count, len(last), None)


def _check(
    number: int, line: bytes, seen: set[str], last: dict[str, tuple[int, str, int]],
    marked: dict[tuple[str, int], tuple[str, int]], partial: bool,
) -> str | None:
    try:
        record = orjson.loads(line)
        writer, seq, prev = record["writer"], record["seq"], record["prev"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return f"line {number}: not a chained audit record"
    if not line.endswith(b"\n") or not isinstance(writer, str) or not isinstance(seq, int) or not isinstance(prev, str):
        return f"line {number}: not a chained audit record"
    before = last.get(writer)
    if before is None and partial:
        pass
    elif before is None:
        if seq != 0:
            return f"line {number}: writer {writer}'s records 0..{seq - 1} are missing"
        if prev not in seen:
            return f"line {number}: writer {writer} starts after a record that is not in the file before it"
    elif seq != before[0] + 1:
        what = "missing" if seq > before[0] + 1 else "out of order or repeated"
        return f"line {number}: writer {writer}'s record {seq} follows record {before[0]}: records are {what}"
    elif prev != before[1]:
        return f"line {before[2]}: changed (line {number}, the next record of writer {writer}, does not follow it)"
    last[writer] = (seq, _digest(line), number)
    if (writer, seq) in marked:
        marked[(writer, seq)] = (last[writer][1], number)
    return None
