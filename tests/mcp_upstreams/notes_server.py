"""A real MCP server (the official SDK's ``MCPServer``) with a write tool, for the gateway tests.

    python notes_server.py stdio
    python notes_server.py http PORT      streamable HTTP at /mcp; needs Authorization: Bearer $NOTES_TOKEN

Tools: ``append_note`` writes a line to ``$NOTES_FILE``; ``echo_arguments`` answers
what it received; ``slow`` sleeps; ``crash`` ends the process mid-call;
``token_is_set`` says whether ``$NOTES_TOKEN`` arrived, ``environment_names`` what it was given; ``leak_token`` and
``fail_with_token`` put it in a result and in an error (what redaction is for).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("notes", log_level="WARNING")


@server.tool(description="Append a note to the notebook.")
def append_note(text: str) -> str:
    with open(os.environ["NOTES_FILE"], "a", encoding="utf-8") as notebook:
        notebook.write(text + "\n")
    return f"noted: {text}"


@server.tool(description="Answer the arguments exactly as received.")
def echo_arguments(data: dict[str, Any]) -> dict[str, Any]:
    return {"received": data}


@server.tool(description="Sleep, then answer.")
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "awake"


@server.tool(description="End the server process in the middle of the call.")
def crash() -> str:
    os._exit(3)


@server.tool(description="Whether the credential reached this server.")
def token_is_set() -> bool:
    return bool(os.environ.get("NOTES_TOKEN"))


@server.tool(description="The names of the environment variables this server was given.")
def environment_names() -> list[str]:
    return sorted(os.environ)


@server.tool(description="Answer the credential itself (a server that leaks it).")
def leak_token() -> str:
    return f"my token is {os.environ.get('NOTES_TOKEN', '')}"


@server.tool(description="Fail with the credential in the message.")
def fail_with_token() -> str:
    raise ToolError(f"upstream API refused token {os.environ.get('NOTES_TOKEN', '')}")


class _RequireBearer:
    """Refuse every HTTP request without the expected bearer token (how a real MCP API guards itself)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != self.expected:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def main() -> None:
    if sys.argv[1] == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = _RequireBearer(server.streamable_http_app(), os.environ["NOTES_TOKEN"])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")


if __name__ == "__main__":
    main()
