"""Sentinel's tool server (Zone C): executes only calls the interceptor signed.

    from mcp_server import McpSettings, ToolRegistry, create_app

Start it with ``sentinel serve mcp`` or ``python -m mcp_server``. See
``mcp_server.app`` (assembly), ``mcp_server.rpc`` (JSON-RPC and its error
numbers), ``mcp_server.guard`` (the contract checks), ``mcp_server.trust``
(replay set and session keys), ``mcp_server.demo`` (the demo tools).
This package must never execute a request that did not pass the guard, unless
verification was explicitly turned off for a benchmark.
"""

from mcp_server.app import create_app
from mcp_server.errors import McpError, ToolError
from mcp_server.registry import ToolRegistry
from mcp_server.settings import McpSettings

__all__ = ["McpError", "McpSettings", "ToolError", "ToolRegistry", "create_app"]
