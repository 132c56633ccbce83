"""Where the tool server's tools come from: one interface, :class:`ToolSource`, and its implementations.

- :class:`RegistrySource`: a :class:`~mcp_server.registry.ToolRegistry` of Python
  functions (``sentinel serve mcp --tools package.module:registry``);
  :class:`DemoSource` is the demo tools', the default;
- :class:`UpstreamSource`: another MCP server, over stdio or streamable HTTP,
  its tools served as ``NAME__TOOL`` (``--upstream``, ``--upstreams FILE``);
- :class:`ToolCatalog`: several of them as one.

``build_tool_source(...)`` turns the command line into one source. Every
source is opened by the app's lifespan and closed by it. Nothing here verifies
a call: a source runs only what the guard has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mcp_server.sources._model import ToolSource
from mcp_server.sources.catalog import ToolCatalog
from mcp_server.sources.config import (
    SEPARATOR,
    UpstreamConfig,
    check_unique,
    load_upstreams,
    parse_upstream,
)
from mcp_server.sources.local import DEMO, DemoSource, RegistrySource, load_registry
from mcp_server.sources.upstream import UpstreamSource

__all__ = [
    "DEMO",
    "SEPARATOR",
    "DemoSource",
    "RegistrySource",
    "ToolCatalog",
    "ToolSource",
    "UpstreamConfig",
    "UpstreamSource",
    "build_tool_source",
    "load_registry",
    "load_upstreams",
    "parse_upstream",
]


def build_tool_source(
    *,
    tools: Sequence[str] = (),
    upstreams: Sequence[str] = (),
    upstreams_file: Path | None = None,
    data_dir: Path,
) -> ToolSource:
    """The source for ``--tools`` specs, ``--upstream`` specs and an ``--upstreams`` file; ConfigError if one is wrong.

    With none of them, the demo tools over ``data_dir``.
    """
    local: list[ToolSource] = [
        DemoSource(data_dir) if spec == DEMO else RegistrySource(load_registry(spec)) for spec in tools
    ]
    configs = [parse_upstream(spec) for spec in upstreams]
    if upstreams_file is not None:
        configs.extend(load_upstreams(upstreams_file))
    check_unique(configs)
    if not local and not configs:
        return DemoSource(data_dir)
    if not configs and len(local) == 1:
        return local[0]
    return ToolCatalog(local, [UpstreamSource(config) for config in configs])
