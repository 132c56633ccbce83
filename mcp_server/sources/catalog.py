"""Several tool sources served as one: local registries under their own names, upstreams as ``NAME__TOOL``.

``tools/list`` answers the union, local tools first, then each upstream's in
the order configured. A call is routed by its name: the part before the first
``__`` names an upstream when one is configured under it (the upstream then
owns every name with that prefix, listed or not), else the name is looked up
in the local registries. No two sources can answer to one name: a local tool
named like another, or under an upstream's prefix, stops the start.

It is itself a :class:`~mcp_server.sources.ToolSource`, so ``mcp_server.calls``
dispatches to one thing whatever is configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import mcp_types

from mcp_server.errors import ConfigError, ProtocolError
from mcp_server.sources._model import ToolSource
from mcp_server.sources.config import SEPARATOR
from mcp_server.sources.upstream import UpstreamSource

__all__ = ["ToolCatalog"]


class ToolCatalog:
    def __init__(self, local: Sequence[ToolSource] = (), upstreams: Sequence[UpstreamSource] = ()) -> None:
        self.local = list(local)
        self.upstreams = {upstream.name: upstream for upstream in upstreams}
        if len(self.upstreams) != len(upstreams):
            raise ConfigError("two upstreams have the same name", code="bad_upstream")
        self._routes: dict[str, ToolSource] = {}

    async def open(self) -> None:
        """Open every source (upstreams at the same time); if one fails, close the others and say why."""
        routes: dict[str, ToolSource] = {}
        for source in self.local:
            await source.open()
            for tool in await source.list_tools():
                if tool.name in routes:
                    raise ConfigError(f"two local tools are named {tool.name}", code="duplicate_tool")
                upstream, separator, _ = tool.name.partition(SEPARATOR)
                if separator and upstream in self.upstreams:
                    raise ConfigError(
                        f"the local tool {tool.name} is named like a tool of the upstream {upstream} "
                        f"({upstream}{SEPARATOR}...): rename one of them",
                        code="duplicate_tool",
                    )
                routes[tool.name] = source
        self._routes = routes
        upstreams = list(self.upstreams.values())
        outcomes = await asyncio.gather(*(upstream.open() for upstream in upstreams), return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            await self.close()
            for failure in failures:
                if not isinstance(failure, ConfigError):
                    raise failure
            messages = [failure.message for failure in failures if isinstance(failure, ConfigError)]
            raise ConfigError("; ".join(messages), code="upstream_unavailable")

    async def list_tools(self) -> list[mcp_types.Tool]:
        tools: list[mcp_types.Tool] = []
        for source in self.local:
            tools.extend(await source.list_tools())
        for upstream in self.upstreams.values():
            tools.extend(await upstream.list_tools())
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        upstream_name, separator, _ = name.partition(SEPARATOR)
        if separator:
            upstream = self.upstreams.get(upstream_name)
            if upstream is not None:
                return await upstream.call_tool(name, arguments)
        source = self._routes.get(name)
        if source is None:
            raise ProtocolError("unknown tool", code="unknown_tool")
        return await source.call_tool(name, arguments)

    async def definition_sha256(self, name: str) -> str | None:
        upstream_name, separator, _ = name.partition(SEPARATOR)
        if separator:
            upstream = self.upstreams.get(upstream_name)
            if upstream is not None:
                return await upstream.definition_sha256(name)
        source = self._routes.get(name)
        return None if source is None else await source.definition_sha256(name)

    async def close(self) -> None:
        sources: list[ToolSource] = [*self.upstreams.values(), *self.local]
        await asyncio.gather(*(source.close() for source in sources), return_exceptions=True)
