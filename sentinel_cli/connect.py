"""``sentinel connect``: a desktop MCP client (Claude Desktop, Cursor) calls Sentinel's governed tools.

    SENTINEL_API_KEY=... sentinel connect --url URL [--agent NAME | --session SID] [--mode 2026-07-28|legacy]

An MCP server on stdin/stdout whose ``tools/list`` and ``tools/call`` go to
``URL/mcp`` (the bridge itself: ``_mcp_bridge.py``; docs/mcp-clients.md).

Unless ``--session`` joins a session the application opened (and leaves
open), this process opens the Sentinel session (``POST /session/start``, with
``--agent``) and ends it on exit, SIGTERM included: the session lives exactly as
long as the process, and a wrong key or URL is one line at start, before the
desktop client is told anything. The default mode is 2026-07-28: no handshake
and no MCP session beside Sentinel's, each request names the session it works
in. ``legacy`` (2025-11-25) speaks ``initialize``, which adopts the session.

This module must never write to stdout (the protocol channel) nor print the
key: a failure to start is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any
from urllib.parse import urlsplit

MODES = ("2026-07-28", "legacy")
KEY_VARIABLE = "SENTINEL_API_KEY"


def register(subparsers: Any) -> None:
    connect = subparsers.add_parser(
        "connect", help="serve Sentinel's governed tools to a desktop MCP client over stdio",
        description=f"An MCP stdio server forwarding tools/list and tools/call to URL/mcp; the API key is read "
                    f"from {KEY_VARIABLE}.",
    )
    connect.add_argument("--url", default=os.environ.get("SENTINEL_URL"),
                         help="the interceptor, e.g. http://127.0.0.1:8000 (default: SENTINEL_URL)")
    joined = connect.add_mutually_exclusive_group()
    joined.add_argument("--agent", help="the agent of the session this command opens (the policy's agent: rules)")
    joined.add_argument("--session", help="join this Sentinel session, opened by the application (left open)")
    connect.add_argument("--mode", choices=MODES, default=MODES[0],
                         help="the MCP revision spoken to Sentinel (default 2026-07-28; legacy is 2025-11-25)")
    connect.set_defaults(handler=_connect)


def _connect(args: argparse.Namespace) -> int:
    problem = _problem(args.url, os.environ.get(KEY_VARIABLE, ""))
    if problem is not None:
        print(f"sentinel connect: {problem}", file=sys.stderr)
        return 2
    try:
        from sentinel_cli._mcp_bridge import BridgeError, Target, run
    except ImportError as exc:  # the SDK-only install: no MCP SDK
        print(f"sentinel connect: needs the server extra ({exc.name} is not installed)", file=sys.stderr)
        return 2
    target = Target(url=args.url.rstrip("/"), key=os.environ[KEY_VARIABLE].strip(), mode=args.mode,
                    agent=args.agent, session=args.session)
    try:
        run(target)
    except BridgeError as exc:
        print(f"sentinel connect: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _problem(url: str | None, key: str) -> str | None:
    if not key.strip():
        return f"no API key: set {KEY_VARIABLE} to the project's key"
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "--url must be the interceptor's http(s) URL, e.g. http://127.0.0.1:8000"
    return None
