"""``sentinel breakglass``: open, list, show and close break-glass, over the interceptor's admin API.

    sentinel breakglass open --project P --session S --reason-code CODE --justification TEXT --minutes N
    sentinel breakglass list --project P [--json]      open, closed and expired, newest first: the review
    sentinel breakglass show ID [--json]
    sentinel breakglass close ID

Who may open it, for how long and how often is the project's policy
(``breakglass:``); each opening and closing is audited and announced.
Admin key and interceptor as ``_admin_api`` reads them.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sentinel_cli._admin_api import add_connection_arguments, admin_request, print_json, printable

REASON_CODES = ("incident", "maintenance", "security", "recovery", "other")


def register(subparsers: Any) -> None:
    breakglass = subparsers.add_parser("breakglass", help="let a session's denied calls through for a while (admin key)")
    commands = breakglass.add_subparsers(dest="breakglass_command", metavar="COMMAND", required=True)
    opening = commands.add_parser("open", help="open break-glass for one session")
    opening.add_argument("--project", required=True)
    opening.add_argument("--session", required=True)
    opening.add_argument("--reason-code", required=True, choices=REASON_CODES)
    opening.add_argument("--justification", required=True, help="why (kept for the review)")
    opening.add_argument("--minutes", required=True, type=int, help="how long (at most the policy's max_minutes)")
    listing = commands.add_parser("list", help="a project's break-glass, newest first")
    listing.add_argument("--project", required=True)
    show = commands.add_parser("show", help="one break-glass")
    show.add_argument("breakglass_id")
    close = commands.add_parser("close", help="close it now")
    close.add_argument("breakglass_id")
    for command in (opening, listing, show, close):
        add_connection_arguments(command)
        command.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    command = args.breakglass_command
    prog = f"sentinel breakglass {command}"
    if command == "open":
        body = {"project": args.project, "session_id": args.session, "reason_code": args.reason_code,
                "justification": args.justification, "minutes": args.minutes}
        status, answer = admin_request(prog, args.url, "POST", "/admin/breakglass", body=body)
    elif command == "list":
        status, answer = admin_request(prog, args.url, "GET", "/admin/breakglass", params={"project": args.project})
    else:
        path = f"/admin/breakglass/{quote(args.breakglass_id, safe='')}" + ("/close" if command == "close" else "")
        status, answer = admin_request(prog, args.url, "POST" if command == "close" else "GET", path,
                                       body={} if command == "close" else None)
    if status:
        return status
    if args.json:
        print_json(answer)
        return 0
    for item in answer["breakglass"] if command == "list" else [answer]:
        print(_line(item))
    if command == "list" and not answer["breakglass"]:
        print(f"no break-glass in project {args.project}")
    return 0


def _line(item: dict[str, Any]) -> str:
    def when(seconds: Any) -> str:
        return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%d %H:%M:%SZ") if seconds else "-"

    closed = f", closed {when(item['closed_at'])} by {item['closed_by']}" if item.get("closed_by") else ""
    return printable(f"{item['breakglass_id']}  {item['status']}  session {item['session_id']}  "
                     f"opened {when(item['opened_at'])} by {item['opened_by']} ({item['reason_code']}) "
                     f"until {when(item['expires_at'])}{closed}: {item['justification']}  "
                     f"[audit rule {item['audit_rule']}]")
