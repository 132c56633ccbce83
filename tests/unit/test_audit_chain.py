"""The audit chain: every edit, removal, reordering or cut of an audit file is reported at its line."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sentinel_contract import GENESIS, AuditChain, ChainHead, verify_chain


def written(path: Path, count: int, *, chain: AuditChain | None = None) -> AuditChain:
    chain = chain or AuditChain(path)
    with open(path, "ab") as file:
        for index in range(count):
            file.write(chain.line({"tool": f"t{index}", "decision": "allow"}))
    return chain


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_an_untouched_file_is_intact_and_ends_at_its_head(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    chain = written(path, 5)
    report = verify_chain(lines(path), [chain.head] if chain.head else [])
    assert report.intact and report.records == 5 and report.writers == 1
    assert orjson.loads(lines(path)[0])["prev"] == GENESIS


def test_a_restarted_writer_continues_the_chain_and_writers_may_share_a_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    first = written(path, 3)
    second = written(path, 2)  # a new process: it links to the file's last line
    third = AuditChain(path)
    with open(path, "ab") as file:  # two processes appending in turns, each its own chain
        for index in range(4):
            file.write((second if index % 2 else third).line({"n": index}))
    heads = [h for h in (first.head, second.head, third.head) if h]
    assert verify_chain(lines(path), heads).intact


@pytest.mark.parametrize(("tamper", "expected"), [
    (lambda ls: [ls[0], ls[1].replace(b'"allow"', b'"deny"'), *ls[2:]], "line 2: changed"),
    (lambda ls: [ls[0], *ls[2:]], "line 2: writer"),  # a record removed
    (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], "line 2: writer"),  # two swapped
    (lambda ls: ls[2:], "line 1: writer"),  # the start cut off
    (lambda ls: [*ls[:3], ls[3][:20]], "line 4: not a chained audit record"),  # the last line cut in half
    (lambda ls: [*ls, b'{"forged": true}\n'], "line 6: not a chained audit record"),
    (lambda ls: [*ls[:2], ls[1], *ls[2:]], "line 3: writer"),  # a record repeated
])
def test_tampering_is_reported_at_its_line(tmp_path: Path, tamper, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "audit.jsonl"
    written(path, 5)
    report = verify_chain(tamper(lines(path)))
    assert not report.intact and report.problem is not None and report.problem.startswith(expected), report.problem


def test_records_cut_off_the_end_show_against_the_head(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    chain = written(path, 5)
    assert chain.head is not None
    assert verify_chain(lines(path)[:3]).intact  # no gap to see without the head...
    report = verify_chain(lines(path)[:3], [chain.head])
    assert report.problem == f"writer {chain.writer}: records 3..4 are missing after line 3 (the file was cut short)"
    edited = [*lines(path)[:4], lines(path)[4].replace(b"allow", b"deny_")]
    assert "last record was changed" in (verify_chain(edited, [chain.head]).problem or "")


def test_a_head_parses_as_it_prints() -> None:
    head = ChainHead("abc", 7, "f" * 64)
    assert ChainHead.parse(str(head)) == head
