"""Tools of one's own, for ``sentinel serve mcp --tools mcp_upstreams.local_tools:registry``."""

from __future__ import annotations

from mcp_server import ToolRegistry

registry = ToolRegistry()
not_a_registry = {"add": "nope"}


@registry.tool(description="Add two integers.", security_class="SAFE_READ", inline=True)
def add(a: int, b: int) -> int:
    return a + b


@registry.tool(description="Shout a word.")
def shout(word: str) -> str:
    return word.upper() + "!"
