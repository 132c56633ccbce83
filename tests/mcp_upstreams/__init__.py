"""Real MCP servers and tool registries that tests put behind the tool server, and the helpers to do it.

- ``notes_server.py``: the SDK's ``MCPServer`` with a write tool (stdio or streamable HTTP)
- ``raw_server.py``: a hand-written stdio server that misbehaves on request
- ``tee_stdio.py``: a transparent pipe recording what reaches a stdio server
- ``local_tools.py``: a ``ToolRegistry`` for ``--tools mcp_upstreams.local_tools:registry``
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from mcp_server.sources import ToolCatalog, UpstreamConfig, UpstreamSource
from mcp_server.testing import McpHarness, Session

HERE = Path(__file__).resolve().parent
TIME_SERVER = str(Path(sys.executable).parent / "mcp-server-time")
NOTES_TOKEN = "notes-token-7f3a9c1e5b"


def stdio(name: str, script: str, *args: str, tee: Path | None = None, **fields: Any) -> UpstreamConfig:
    """A Python script of this folder as a stdio upstream; with ``tee``, behind tee_stdio.py logging to it."""
    command = [str(HERE / script), *args]
    if tee is not None:
        command = [str(HERE / "tee_stdio.py"), str(tee), sys.executable, *command]
    return UpstreamConfig(name=name, transport="stdio", command=sys.executable, args=command, **fields)


def notes_stdio(notes_file: Path, **fields: Any) -> UpstreamConfig:
    env = {"NOTES_FILE": str(notes_file), "NOTES_TOKEN": NOTES_TOKEN, **fields.pop("env", {})}
    return stdio("notes", "notes_server.py", "stdio", env=env, **fields)


def teed_time_server(log: Path) -> UpstreamConfig:
    """mcp-server-time behind a pipe that records every line the tool server sends it."""
    return UpstreamConfig(name="time", transport="stdio", command=sys.executable,
                          args=[str(HERE / "tee_stdio.py"), str(log), TIME_SERVER, "--local-timezone", "UTC"])


def sent_calls(log: Path) -> list[dict[str, Any]]:
    """The params of every tools/call that reached the server behind tee_stdio.py."""
    if not log.exists():
        return []
    messages = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [m["params"] for m in messages if m.get("method") == "tools/call"]


@asynccontextmanager
async def gateway(root: Path, *configs: UpstreamConfig, local: tuple[Any, ...] = ()
                  ) -> AsyncIterator[tuple[McpHarness, Session, ToolCatalog]]:
    """The real tool server (in process) serving ``local`` sources and these upstreams, and one session."""
    catalog = ToolCatalog(list(local), [UpstreamSource(config) for config in configs])
    async with McpHarness.open(root, tools=catalog) as mcp:
        yield mcp, await mcp.register(), catalog


def result_text(answer: dict[str, Any]) -> str:
    return "".join(block.get("text", "") for block in answer["result"]["content"])


async def tools_list(mcp: McpHarness, session: Session) -> list[dict[str, Any]]:
    answer = await mcp.rpc("tools/list", {}, mcp.sign(session, "tools/list", {}))
    return list(answer["result"]["tools"])


@contextmanager
def notes_http_server(root: Path, port: int | None = None) -> Iterator[tuple[str, Path]]:
    """notes_server.py over streamable HTTP on ``port`` (or a free one): (its URL, its notes file).

    It answers 401 to any request without ``Authorization: Bearer NOTES_TOKEN``.
    """
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
    notes = root / "http-notes.txt"
    env = {**os.environ, "NOTES_TOKEN": NOTES_TOKEN, "NOTES_FILE": str(notes)}
    process = subprocess.Popen([sys.executable, str(HERE / "notes_server.py"), "http", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the notes server did not start") from None
                time.sleep(0.1)
        yield url, notes
    finally:
        process.terminate()
        process.wait(timeout=10)
