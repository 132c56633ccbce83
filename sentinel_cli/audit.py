"""``sentinel audit``: check an audit file's chain, and read one session across both zones.

    sentinel audit verify FILE... [--head WRITER:SEQ:HASH ...]  exit 0 intact, 1 broken (naming the first break);
                                                                 rotated files in order, oldest first
    sentinel audit verify FILE --url URL                         the head is the running interceptor's (admin key)
    sentinel audit show --session SID --decisions FILE [--executions FILE] [--json]

``verify`` works on either zone's file (both chain their records the same way,
``sentinel_contract.AuditChain``). ``show`` joins the interceptor's decisions to
the tool server's executions by ``jti``: for each call, what was decided and
whether (and how) the tool server ran it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sentinel_cli._admin_api import admin_request, print_json, printable


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="verify an audit file's chain; show a session across both zones")
    commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    verify = commands.add_parser("verify", help="report the first broken, missing or changed record")
    verify.add_argument("file", type=Path, nargs="+", help="one file, or rotated files oldest first (NAME.2 NAME.1 NAME)")
    verify.add_argument("--head", action="append", default=[], metavar="WRITER:SEQ:HASH",
                        help="where a writer's chain ends (records cut off the end show only against it)")
    verify.add_argument("--url", help="take the head from this running interceptor (SENTINEL_ADMIN_KEY)")
    verify.add_argument("--partial", action="store_true",
                        help="the files start mid-chain (older rotated files archived elsewhere)")
    verify.set_defaults(handler=_verify)
    show = commands.add_parser("show", help="one session's calls: decisions joined to executions by jti")
    show.add_argument("--session", required=True)
    show.add_argument("--decisions", type=Path, required=True, help="the interceptor's audit file")
    show.add_argument("--executions", type=Path, help="the tool server's audit file")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)


def _verify(args: argparse.Namespace) -> int:
    from sentinel_contract import ChainHead, verify_chain

    try:
        heads = [ChainHead.parse(text) for text in args.head]
    except ValueError:
        print("sentinel audit verify: --head is WRITER:SEQ:HASH", file=sys.stderr)
        return 2
    if args.url:
        status, answer = admin_request("sentinel audit verify", args.url, "GET", "/admin/audit/head")
        if status:
            return status
        if answer["head"]:
            heads.append(ChainHead.parse(answer["head"]))
    try:
        lines = [line for path in args.file for line in path.read_bytes().splitlines(keepends=True)]
    except OSError as exc:
        print(f"sentinel audit verify: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    report = verify_chain(lines, heads, partial=args.partial)
    if report.intact:
        print(f"intact: {report.records} records from {report.writers} writer(s)")
        return 0
    print(f"broken: {printable(report.problem or '')}")
    return 1


def _records(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    records = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _show(args: argparse.Namespace) -> int:
    try:
        decisions = [r for r in _records(args.decisions) if r.get("sid") == args.session]
        executions = {r.get("jti"): r for r in _records(args.executions) if r.get("jti")}
    except OSError as exc:
        print(f"sentinel audit show: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    rows = []
    for record in decisions:
        executed = executions.get(record.get("jti")) if record.get("jti") else None
        rows.append({"ts": record.get("ts"), "event": record.get("event") or "decision", "tool": record.get("tool"),
                     "decision": record.get("decision"), "rule": record.get("rule"), "jti": record.get("jti"),
                     "tool_server": None if executed is None else executed.get("event"),
                     "tool_server_reason": None if executed is None else executed.get("reason")})
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no records of session {printable(args.session)}")
    for row in rows:
        ran = f"  tool server: {row['tool_server']}" if row["tool_server"] else ""
        what = row["decision"] if row["event"] == "decision" else row["event"]
        print(printable(f"{row['ts']}  {row['tool'] or '-'}  {what}  {row['rule'] or ''}{ran}"))
    return 0
