"""``sentinel serve``: run a Sentinel service under uvicorn.

    sentinel serve interceptor [--host 127.0.0.1] [--port 8000]   Zone B, the agent-facing gateway
    sentinel serve mcp         [--host 127.0.0.1] [--port 9000]   Zone C, the tool server
                               [--tools M:A] [--upstream NAME=...] [--upstreams FILE] [--list-tools]
                               (what it serves: ``_mcp_tools.py``, docs/mcp-gateway.md)

Settings come from the environment (``SENTINEL_*``, ``MCP_UPSTREAM_URL``, ...),
read once here and passed to ``create_app``. uvloop and httptools are used when
installed, each response leaving in one send (``_server.py``). Heavy imports stay inside the command functions; this module must
never start a service with settings it could not validate (it exits 2 with the
reason instead).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="run the interceptor or the tool server")
    services = serve.add_subparsers(dest="serve_command", metavar="SERVICE", required=True)

    interceptor = services.add_parser("interceptor", help="the agent-facing gateway (Zone B)")
    _common(interceptor, 8000)
    interceptor.set_defaults(handler=_interceptor)

    mcp = services.add_parser("mcp", help="the tool server (Zone C)")
    _common(mcp, 9000)
    from sentinel_cli._mcp_tools import add_arguments

    add_arguments(mcp)
    mcp.set_defaults(handler=_mcp)


def _common(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=port, help=f"port to bind (default {port})")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request (off by default: it costs CPU)")


def _run(app: Any, args: argparse.Namespace, settings: Any) -> int:
    from sentinel_http import ServerLimits, serve_app

    # SENTINEL_READ_TIMEOUT_SECONDS, SENTINEL_KEEP_ALIVE_SECONDS, SENTINEL_MAX_CONNECTIONS (both services).
    limits = ServerLimits(
        read_timeout=settings.read_timeout_seconds,
        keep_alive=settings.keep_alive_seconds,
        max_connections=settings.max_connections,
    )
    serve_app(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log, limits=limits)
    return 0


def _interceptor(args: argparse.Namespace) -> int:
    from interceptor.app import create_app
    from interceptor.errors import SettingsError
    from interceptor.settings import load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"sentinel serve interceptor: {exc.message}", file=sys.stderr)
        return 2
    from interceptor.config import missing_config

    missing = missing_config(settings)  # every request would fail: say so now, not per request
    if missing is not None:
        print(f"sentinel serve interceptor: not starting: {missing}", file=sys.stderr)
        return 2
    return _run(create_app(settings), args, settings)


def _mcp(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from mcp_server.app import create_app
    from mcp_server.errors import ConfigError
    from mcp_server.settings import McpSettings
    from sentinel_cli._mcp_tools import print_tools, tool_source

    try:
        settings = McpSettings()
        tools = tool_source(args, settings.mcp_data_dir)
        if args.list_tools:
            return print_tools(tools)
        app = create_app(settings, tools=tools)
    except (ValidationError, ConfigError) as exc:
        print(f"sentinel serve mcp: {exc}", file=sys.stderr)
        return 2
    return _run(app, args, settings)
