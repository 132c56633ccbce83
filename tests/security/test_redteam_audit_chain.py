"""Red-team review of the audit hash chain (``sentinel audit verify``): rewrites, forged writers, odd bytes.

The chain is unkeyed SHA-256: whoever can write the file can recompute it. What makes an edit visible is a
head kept where the file's host cannot write (docs/audit.md); these attacks target exactly that check.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import orjson

from sentinel_contract import AuditChain, ChainHead, audit_line, verify_chain


def written(path: Path, count: int, chain: AuditChain | None = None, *, first: int = 0) -> AuditChain:
    chain = chain or AuditChain(path)
    with open(path, "ab") as file:
        for index in range(first, first + count):
            file.write(chain.line({"tool": f"t{index}", "decision": "allow"}))
    return chain


def rewritten_from(lines: list[bytes], index: int, change: bytes, to: bytes) -> list[bytes]:
    """What an attacker with write access does: edit one record, then recompute every later link of its writer."""
    out = list(lines[:index])
    prev = hashlib.sha256(lines[index - 1]).hexdigest() if index else "0" * 64
    for number, line in enumerate(lines[index:]):
        record = orjson.loads(line.replace(change, to) if number == 0 else line)
        if number:
            record["prev"] = prev
        forged = audit_line(record)
        prev = hashlib.sha256(forged).hexdigest()
        out.append(forged)
    return out


def test_an_edit_rewritten_through_the_chain_shows_against_a_head_saved_before_the_file_went_on(
    tmp_path: Path,
) -> None:
    # Found: a head older than the file's end (a log shipper's, saved while the writer kept writing) was only
    # compared with the writer's last record, so a record edited before it, and the chain recomputed from
    # there, verified as intact against it.
    path = tmp_path / "audit.jsonl"
    chain = written(path, 3)
    saved = chain.head
    assert saved is not None and saved.seq == 2
    written(path, 3, chain, first=3)
    original = path.read_bytes().splitlines(keepends=True)
    forged = rewritten_from(original, 1, b'"allow"', b'"deny"')
    assert verify_chain(forged).intact  # without a head nothing can show it (documented)
    report = verify_chain(forged, [saved])
    assert not report.intact and report.problem == f"line 3: writer {saved.writer}'s record 2 (where its head ends) " \
                                                   "was changed"
    assert verify_chain(original, [saved]).intact


def test_the_cli_reports_the_rewrite_against_a_saved_head(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    chain = written(path, 2)
    saved = chain.head
    written(path, 2, chain, first=2)
    path.write_bytes(b"".join(rewritten_from(path.read_bytes().splitlines(keepends=True), 0, b"t0", b"tX")))
    verified = subprocess.run([sys.executable, "-m", "sentinel_cli", "audit", "verify", str(path), "--head",
                               str(saved)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 1 and "record 1 (where its head ends) was changed" in verified.stdout


def test_a_record_appended_under_the_live_writers_name_breaks_its_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    chain = written(path, 2)
    last = path.read_bytes().splitlines(keepends=True)[-1]
    forged = audit_line({"event": "approval.approved", "by": "alice", "writer": chain.writer, "seq": 2,
                         "prev": hashlib.sha256(last).hexdigest()})
    with open(path, "ab") as file:
        file.write(forged)
    written(path, 1, chain, first=2)  # the real writer goes on: its record 2 repeats the forged one's place
    report = verify_chain(path.read_bytes().splitlines(keepends=True))
    assert not report.intact and "out of order or repeated" in (report.problem or "")


def test_crlf_line_ends_and_a_byte_order_mark_are_reported_not_passed(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    chain = written(path, 3)
    original = path.read_bytes()
    crlf = original.replace(b"\n", b"\r\n").splitlines(keepends=True)
    assert (verify_chain(crlf).problem or "").startswith("line 1: changed")
    bom = (b"\xef\xbb\xbf" + original).splitlines(keepends=True)
    assert verify_chain(bom).problem == "line 1: not a chained audit record"
    head = chain.head
    assert head is not None and verify_chain(original.splitlines(keepends=True), [head]).intact


def test_a_restart_after_a_line_longer_than_the_tail_read_still_links(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    chain = AuditChain(path)
    with open(path, "ab") as file:
        file.write(chain.line({"reason": "r" * 70_000}))  # longer than the 64 KiB read back on start
    written(path, 1)
    report = verify_chain(path.read_bytes().splitlines(keepends=True))
    assert report.intact, report.problem


def test_a_head_naming_another_writer_than_the_files_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    written(path, 2)
    stranger = ChainHead("feedfacecafebeef", 0, "0" * 64)
    report = verify_chain(path.read_bytes().splitlines(keepends=True), [stranger])
    assert report.problem == "writer feedfacecafebeef: none of its records are in the file"
