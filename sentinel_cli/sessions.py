"""``sentinel sessions``: see live sessions and revoke them (the kill switch), over the admin API.

    sentinel sessions list --project P [--agent A] [--json]   live sessions: agent, taint, calls so far
    sentinel sessions revoke SID                               one session
    sentinel sessions revoke --project P [--agent A]           every live session of a project (of an agent)

A revoked session's next call fails at the interceptor, and at the tool server
even with a token signed before the revocation. Admin key and interceptor as
``_admin_api`` reads them (``SENTINEL_ADMIN_KEY``, ``--url``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sentinel_cli._admin_api import add_connection_arguments, admin_request, print_json, printable


def register(subparsers: Any) -> None:
    sessions = subparsers.add_parser("sessions", help="list live sessions and revoke them (admin key)")
    commands = sessions.add_subparsers(dest="sessions_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="a project's live sessions, newest first")
    listing.add_argument("--project", required=True)
    listing.add_argument("--agent", help="only this agent's sessions")
    revoke = commands.add_parser("revoke", help="end sessions now, at the interceptor and the tool server")
    revoke.add_argument("session_id", nargs="?", help="one session")
    revoke.add_argument("--project", help="every live session of this project")
    revoke.add_argument("--agent", help="with --project: only this agent's sessions")
    for command in (listing, revoke):
        add_connection_arguments(command)
        command.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    prog = f"sentinel sessions {args.sessions_command}"
    if args.sessions_command == "list":
        params = {"project": args.project, **({"agent": args.agent} if args.agent else {})}
        status, answer = admin_request(prog, args.url, "GET", "/admin/sessions", params=params)
    elif bool(args.session_id) == bool(args.project) or (args.agent and not args.project):
        print(f"{prog}: name one session, or --project (with --agent to narrow it)", file=sys.stderr)
        return 2
    elif args.session_id:
        path = f"/admin/sessions/{quote(args.session_id, safe='')}/revoke"
        status, answer = admin_request(prog, args.url, "POST", path, body={})
    else:
        body = {"project": args.project, **({"agent": args.agent} if args.agent else {})}
        status, answer = admin_request(prog, args.url, "POST", "/admin/revocations", body=body)
    if status:
        return status
    if args.json:
        print_json(answer)
    elif args.sessions_command == "list":
        for item in answer["sessions"]:
            until = datetime.fromtimestamp(int(item["expires_at"]), UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            agent = item["agent"] or "-"
            taint = ",".join(item["taint"]) or "-"
            print(printable(f"{item['session_id']}  agent {agent}  taint {taint}  calls {item['calls']}  "
                            f"until {until}"))
        if not answer["sessions"]:
            print(f"no live sessions in project {args.project}")
    else:
        unconfirmed = sorted(set(answer["revoked"]) - set(answer["confirmed_by_tool_server"]))
        print(f"revoked {len(answer['revoked'])} session(s): {' '.join(answer['revoked']) or '-'}")
        if unconfirmed:
            print(f"# not confirmed by the tool server (its registrations expire on their own): {' '.join(unconfirmed)}")
    return 0
