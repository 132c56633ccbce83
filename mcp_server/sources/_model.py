"""The one interface between ``POST /rpc`` and wherever tools come from.

A :class:`ToolSource` lists tools under the names the tool server serves and
runs a call by such a name. ``local.py`` implements it over a
:class:`~mcp_server.registry.ToolRegistry` (Python functions in this process),
``upstream.py`` over another MCP server reached with the official ``mcp``
client, and ``catalog.py`` over several sources at once (it is what
``mcp_server.calls`` dispatches to when more than one source is configured).

A source is called only after the guard has verified the call; it must run
the tool on exactly the ``arguments`` it is given, and never raise for a
failure of the tool itself (that is a ``CallToolResult`` with ``isError``).
It raises :class:`~mcp_server.errors.McpError` only when the call was not
handed to any tool: an unknown name, arguments the tool's schema refuses, an
upstream that cannot take calls.

``definition_sha256`` answers the hash of the live definition of a tool (what
``sentinel_contract.definition_sha256`` computes over it), which the tool server
compares with the pin a call token carries before it runs the call. A source
must answer the definition it would run now: an upstream re-reads its listing
when it is older than its ``tools_ttl_seconds`` or announced a change.
"""

from __future__ import annotations

from typing import Any, Protocol

import mcp_types

from sentinel_contract import definition_sha256

__all__ = ["ToolSource", "tool_sha256"]


def tool_sha256(tool: mcp_types.Tool) -> str:
    """The pin-comparable hash of a served definition (name, description, input schema)."""
    return definition_sha256(tool.name, tool.description, tool.input_schema)


class ToolSource(Protocol):
    async def open(self) -> None:
        """Get ready to list and call (start or connect to an upstream); ConfigError if it cannot."""
        ...

    async def list_tools(self) -> list[mcp_types.Tool]:
        """The tools under their served names (for an upstream: the listing of its last connection)."""
        ...

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Run the tool served as ``name`` on ``arguments``, unchanged."""
        ...

    async def definition_sha256(self, name: str) -> str | None:
        """The hash of the current definition of the tool served as ``name``, or None if none is served.

        UpstreamError if the current definition cannot be known (nothing is sent then).
        """
        ...

    async def close(self) -> None:
        """Release what :meth:`open` started; bounded in time."""
        ...
