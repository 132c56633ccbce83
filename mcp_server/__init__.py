"""Sentinel's tool server (Zone C): executes only calls the interceptor signed.

    from mcp_server import McpSettings, ToolRegistry, create_app

Start it with ``sentinel serve mcp`` or ``python -m mcp_server``. The same
file names as the interceptor's, for the same jobs: ``app`` (assembly and
lifespan), ``runtime`` (what the lifespan opens), ``calls`` (``POST /rpc``, the
hot path: JSON-RPC in, guard, tool, answer), ``routes`` (session registration
and revocation), ``errors`` (the error tree and its JSON-RPC numbers),
``audit``, ``settings``, ``readiness`` (what ``GET /readyz`` checks); then ``guard`` (the contract checks), ``registry``
(tools from typed functions), ``sources/`` (where tools come from: registries,
upstream MCP servers), ``trust/`` (session keys and the replay set, Lua
scripts in ``trust/lua/``) and ``demo/`` (the demo tools).
This package must never execute a request that did not pass the guard, unless
verification was explicitly turned off for a benchmark.
"""

from mcp_server.app import create_app
from mcp_server.errors import McpError, ToolError
from mcp_server.registry import ToolRegistry
from mcp_server.settings import McpSettings

__all__ = ["McpError", "McpSettings", "ToolError", "ToolRegistry", "create_app"]
