"""What ``sentinel serve mcp`` serves: its ``--tools``, ``--upstream``, ``--upstreams`` and ``--list-tools`` options.

    sentinel serve mcp --tools mytools:registry                 a ToolRegistry of your own (repeatable)
    sentinel serve mcp --upstream 'time=stdio:mcp-server-time'  an MCP server over stdio, tools as time__...
    sentinel serve mcp --upstream notes=https://notes.internal/mcp
    sentinel serve mcp --upstreams upstreams.yaml               upstreams with env / headers (credentials)
    sentinel serve mcp ... --list-tools                         connect, print tools/list as JSON, exit

With none of the first four, the demo tools (``--tools demo`` names them
explicitly, to serve them beside others). A ``--tools`` module is imported
from the Python path, the working directory last. The parsing lives in
:mod:`mcp_server.sources`; this module only wires it to the command line and
must never print a value of an upstream's env or headers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "print_tools", "tool_source"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tools served (default: the demo tools)")
    group.add_argument("--tools", action="append", default=[], metavar="MODULE:ATTRIBUTE",
                       help="serve a mcp_server.ToolRegistry, e.g. mytools:registry; 'demo' for the demo tools "
                            "(repeatable)")
    group.add_argument("--upstream", action="append", default=[], metavar="NAME=TARGET",
                       help="forward verified calls to an MCP server: NAME=stdio:'COMMAND ARGS...' or "
                            "NAME=https://host/path; its tools are served as NAME__TOOL (repeatable)")
    group.add_argument("--upstreams", type=Path, metavar="FILE.yaml",
                       help="upstreams from a YAML file (with env / headers; ${VAR} is read from the environment)")
    group.add_argument("--list-tools", action="store_true",
                       help="open the tools and upstreams, print the tools/list answer as JSON, and exit")


def tool_source(args: argparse.Namespace, data_dir: Path) -> Any:
    """The ``ToolSource`` the options name, or None for the default (the demo tools); ConfigError if one is wrong."""
    from mcp_server.sources import build_tool_source

    if not args.tools and not args.upstream and args.upstreams is None and not args.list_tools:
        return None
    if args.tools:
        # A console script does not have the working directory on its path, `python -m` does:
        # give both the same, after everything installed (a local file never shadows a package).
        cwd = os.getcwd()
        if cwd not in sys.path and "" not in sys.path:
            sys.path.append(cwd)
    return build_tool_source(tools=args.tools, upstreams=args.upstream, upstreams_file=args.upstreams,
                             data_dir=data_dir)


def print_tools(source: Any) -> int:
    """Open ``source``, print ``{"tools": [...]}`` (what tools/list answers), close it."""
    import mcp_types
    import orjson

    async def listing() -> bytes:
        await source.open()
        try:
            result = mcp_types.ListToolsResult(tools=await source.list_tools())
        finally:
            await source.close()
        document = result.model_dump(by_alias=True, exclude_none=True, mode="json")
        return orjson.dumps({"tools": document["tools"]}, option=orjson.OPT_INDENT_2)

    sys.stdout.write(asyncio.run(listing()).decode() + "\n")
    return 0
