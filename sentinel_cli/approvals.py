"""``sentinel approvals``: the people's side of held calls, over the interceptor's admin API.

    sentinel approvals list --project P [--json]      what waits, newest first (never the arguments)
    sentinel approvals show ID [--json]               one approval, with the exact arguments it would run
    sentinel approvals approve ID [--note TEXT]       lets exactly that call run once
    sentinel approvals deny ID [--note TEXT]

Admin key and interceptor as ``_admin_api`` reads them (``SENTINEL_ADMIN_KEY``, ``--url``).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sentinel_cli._admin_api import add_connection_arguments, admin_request, print_json, printable


def register(subparsers: Any) -> None:
    approvals = subparsers.add_parser("approvals", help="list, show, approve and deny held calls (admin key)")
    commands = approvals.add_subparsers(dest="approvals_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="the project's held calls, newest first")
    listing.add_argument("--project", required=True)
    show = commands.add_parser("show", help="one held call, with the arguments it would run with")
    show.add_argument("approval_id")
    approve = commands.add_parser("approve", help="let exactly that call run once")
    deny = commands.add_parser("deny", help="refuse it")
    for decide in (approve, deny):
        decide.add_argument("approval_id")
        decide.add_argument("--note", help="why (kept in the audit trail and sent to the webhook)")
    for command in (listing, show, approve, deny):
        add_connection_arguments(command)
        command.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    command = args.approvals_command
    if command == "list":
        method, path, params = "GET", "/admin/approvals", {"project": args.project}
    elif command == "show":
        method, path, params = "GET", f"/admin/approvals/{quote(args.approval_id, safe='')}", {}
    else:
        verb = "approve" if command == "approve" else "deny"
        method, path, params = "POST", f"/admin/approvals/{quote(args.approval_id, safe='')}/{verb}", {}
    body = ({"note": args.note} if getattr(args, "note", None) else {}) if method == "POST" else None
    status, answer = admin_request(f"sentinel approvals {command}", args.url, method, path, params=params, body=body)
    if status:
        return status
    if args.json:
        print_json(answer)
    elif command == "list":
        rows = answer["approvals"]
        for item in rows:
            print(_line(item))
        if not rows:
            print(f"no held calls in project {args.project}")
    else:
        print(_line(answer))
        if "arguments" in answer:
            print("arguments: " + json.dumps(answer["arguments"], ensure_ascii=True, sort_keys=True))
    return 0


def _line(item: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(int(item["created_at"]), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    decided = f" by {item['decided_by']}" if item.get("decided_by") else ""
    agent = f" agent {item['agent']}" if item.get("agent") else ""
    text = (f"{item['approval_id']}  {item['status']}{decided}  {item['tool']}  rule {item['rule']}  "
            f"session {item['session_id']}{agent}  held {when}: {item['reason']}")
    return printable(text)
