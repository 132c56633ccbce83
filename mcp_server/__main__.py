"""``python -m mcp_server [--host H] [--port P]``: run the tool server under uvicorn (``sentinel_http.serve_app``).

Settings come from ``SENTINEL_*`` variables (see :mod:`mcp_server.settings`).
``sentinel serve mcp`` is the documented way; this entry exists so the tool
server runs without the CLI package (e2e tests, containers).
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mcp_server", description="Sentinel tool server (Zone C)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()

    from mcp_server.app import create_app
    from mcp_server.settings import McpSettings
    from sentinel_http import ServerLimits, serve_app

    settings = McpSettings()
    limits = ServerLimits(
        read_timeout=settings.read_timeout_seconds,
        keep_alive=settings.keep_alive_seconds,
        max_connections=settings.max_connections,
    )
    # The same server as `sentinel serve mcp`: one send per response, bounded connections.
    serve_app(create_app(settings), host=args.host, port=args.port, log_level=args.log_level, limits=limits)


if __name__ == "__main__":
    main()
