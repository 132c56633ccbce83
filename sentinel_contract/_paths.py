"""The HTTP paths of the wire contracts, defined once (docs/architecture.md, "Wire contracts").

Paths with a ``{sid}`` are templates in the syntax both Starlette routes and
``str.format`` read: a server mounts the template as it is, a client fills it
in with ``REVOCATION_PATH.format(sid=sid)``. These are public: a path is never
renamed or removed, only added.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MCP_PATH",
    "READINESS_PATH",
    "REGISTRATION_PATH",
    "REVOCATION_PATH",
    "RPC_PATH",
    "SESSION_APPROVAL_PATH",
    "SESSION_CALL_PATH",
    "SESSION_END_PATH",
    "SESSION_START_PATH",
    "SESSION_TOOLS_PATH",
    "TOOL_SERVER_SERVICE",
]

# Tool server (Zone C), called by the interceptor only.
RPC_PATH: Final = "/rpc"  # POST: one JSON-RPC request (tools/list, tools/call, ping)
REGISTRATION_PATH: Final = "/sessions"  # POST {"token"}: register a session's public key
REVOCATION_PATH: Final = "/sessions/{sid}"  # DELETE {"token"}: revoke a session on every replica
# Both services answer it: 200 when ready, 503 naming what is not; the interceptor's asks the tool server's.
READINESS_PATH: Final = "/readyz"  # GET
TOOL_SERVER_SERVICE: Final = "sentinel-tool-server"  # the "service" of the tool server's /readyz answer

# Agent API (Zone A -> Zone B), what sentinel_sdk calls; the SDK spells them out itself,
# since it installs without this package.
SESSION_START_PATH: Final = "/session/start"  # POST
SESSION_TOOLS_PATH: Final = "/session/{sid}/tools"  # GET
SESSION_CALL_PATH: Final = "/session/{sid}/call"  # POST {"tool", "arguments"}
SESSION_END_PATH: Final = "/session/{sid}/end"  # POST
SESSION_APPROVAL_PATH: Final = "/session/{sid}/approvals/{approval_id}"  # GET: where a held call stands

# MCP front door (Zone A -> Zone B): any MCP client, Streamable HTTP (docs/mcp-clients.md).
MCP_PATH: Final = "/mcp"  # POST one JSON-RPC message; DELETE ends an MCP session; GET is 405 (no server stream)
