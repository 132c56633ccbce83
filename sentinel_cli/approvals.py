"""``sentinel approvals``: the people's side of held calls, over the interceptor's admin API.

    sentinel approvals list --project P [--json]      what waits, newest first (never the arguments)
    sentinel approvals show ID [--json]               one approval, with the exact arguments it would run
    sentinel approvals approve ID [--note TEXT]       lets exactly that call run once
    sentinel approvals deny ID [--note TEXT]

The admin key comes from ``SENTINEL_ADMIN_KEY`` (never a flag: flags show in
``ps``), the interceptor from ``--url`` or ``SENTINEL_URL``. Answers are
printed as the API gives them (``--json``) or as a few readable lines; every
refusal is one line on stderr and exit status 1 (2 for what was never sent).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

DEFAULT_URL = "http://127.0.0.1:8000"


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
        command.add_argument("--url", default=os.environ.get("SENTINEL_URL", DEFAULT_URL),
                             help="the interceptor (default: $SENTINEL_URL or %(default)s)")
        command.add_argument("--json", action="store_true", help="print the API's JSON answer")
        command.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import httpx

    key = os.environ.get("SENTINEL_ADMIN_KEY", "").strip()
    if not key:
        print("sentinel approvals: set SENTINEL_ADMIN_KEY to your admin key (`sentinel keys admin --name NAME`)",
              file=sys.stderr)
        return 2
    command = args.approvals_command
    if command == "list":
        method, path, params = "GET", "/admin/approvals", {"project": args.project}
    elif command == "show":
        method, path, params = "GET", f"/admin/approvals/{quote(args.approval_id, safe='')}", {}
    else:
        verb = "approve" if command == "approve" else "deny"
        method, path, params = "POST", f"/admin/approvals/{quote(args.approval_id, safe='')}/{verb}", {}
    body = {"note": args.note} if getattr(args, "note", None) else {}
    try:
        with httpx.Client(base_url=args.url, timeout=15) as client:
            response = client.request(method, path, params=params, headers={"Authorization": f"Bearer {key}"},
                                      json=body if method == "POST" else None)
    except httpx.HTTPError as exc:
        print(f"sentinel approvals: cannot reach the interceptor at {args.url} ({type(exc).__name__})", file=sys.stderr)
        return 2
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200:
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        print(f"sentinel approvals {command}: {error.get('message', f'HTTP {response.status_code}')} "
              f"({error.get('code', response.status_code)})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
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
    return text.encode("ascii", "backslashreplace").decode()  # caller-chosen text: printable, one line
