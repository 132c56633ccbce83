"""The bridge behind ``sentinel connect``: an MCP stdio server in front of Sentinel's ``/mcp``.

The SDK's low-level ``Server`` answers the desktop client on stdin/stdout; its
``tools/list`` and ``tools/call`` are the SDK's ``Client`` calls on ``URL/mcp``,
in one Sentinel session for the life of the process. Results pass through as
Sentinel gave them (a denial or a hold is an ``isError`` result with its
``_meta``); a JSON-RPC error keeps its code and ``data`` and says it came from
Sentinel; a Sentinel that cannot be reached is such an error too
(``UnreachableAsError``), never a crash of the bridge.

It must never open a second session when the first one ends: a call in a
fresh session would run with no taint recorded. It never reads the key from
anywhere but the ``Target`` it is given.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio
import httpx2
import mcp_types
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

__all__ = ["UNREACHABLE", "BridgeError", "Target", "UnreachableAsError", "run"]

UNREACHABLE = "sentinel_unreachable"  # error.data.code of the error the bridge makes when Sentinel does not answer
_SERVER_ERROR = -32000
_UNAUTHORIZED = -32001
# What the model is told at initialize when Sentinel (a 2026-07-28 connection) told nothing.
_INSTRUCTIONS = ("Every tool call here passes Sentinel's policy. A denied or held call comes back as an error "
                 "result that names the rule; a held call runs only after a person approves it.")


class BridgeError(Exception):
    """Why the bridge cannot start: one line for stderr."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str  # the interceptor, without a trailing slash
    key: str = field(repr=False)
    mode: str = "2026-07-28"  # or "legacy" (2025-11-25)  # "2026-07-28" or "legacy"
    agent: str | None = None
    session: str | None = None  # an application's session to join (and leave open)


def run(target: Target) -> None:
    anyio.run(serve, target)


async def serve(target: Target) -> None:
    """Serve stdio until the desktop client closes it (or a signal comes), then end the session opened here."""
    async with _http(target) as http:
        session = await _open(http, target)
        try:
            async with _client(http, target) as client:
                server = _server(client)
                async with anyio.create_task_group() as group:
                    group.start_soon(_end_on_signal, session)
                    async with stdio_server() as (read_stream, write_stream):
                        await server.run(read_stream, write_stream, server.create_initialization_options())
                    group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await session.end()


@dataclass(frozen=True, slots=True)
class _Session:
    """The Sentinel session every request names; ended on exit only when this process opened it."""

    http: httpx2.AsyncClient
    sid: str
    owned: bool

    async def end(self) -> None:
        if not self.owned:
            return  # the application's session: it ends what it opened
        try:
            with anyio.fail_after(10):
                response = await self.http.post(f"/session/{self.sid}/end")
        except (httpx2.HTTPError, TimeoutError) as exc:
            print(f"sentinel connect: could not end session {self.sid}: {_reason(exc)}", file=sys.stderr)
            return
        if response.status_code not in (200, 404):  # 404: it expired, or the application ended it
            print(f"sentinel connect: could not end session {self.sid} (HTTP {response.status_code})",
                  file=sys.stderr)


async def _end_on_signal(session: _Session) -> None:
    """SIGTERM/SIGINT: end the session, then die of the signal.

    Unwinding is no way out: the stdio reader is a thread blocked in read(),
    which no cancellation reaches until the desktop client closes stdin.
    """
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        signum = await anext(aiter(signals))
    with anyio.CancelScope(shield=True):
        await session.end()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


class UnreachableAsError(httpx2.AsyncBaseTransport):
    """A POST to ``/mcp`` that reaches no Sentinel is answered here as a JSON-RPC error.

    The SDK's HTTP transport lets a connection error escape its task group,
    which would end the bridge; a JSON-RPC error at a 5xx status is what it
    hands back to the caller as an ``MCPError`` (it puts the request's id on it).
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, endpoint: str) -> None:
        self._inner, self._endpoint = inner, httpx2.URL(endpoint)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._inner.handle_async_request(request)
        except httpx2.TransportError as exc:
            if request.method != "POST" or request.url.copy_with(query=None) != self._endpoint:
                raise
            error = {"code": _SERVER_ERROR, "message": f"cannot reach Sentinel at {self._endpoint}: {_reason(exc)}",
                     "data": {"code": UNREACHABLE, "retryable": True}}
            body = json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()
            return httpx2.Response(502, headers={"content-type": "application/json"}, content=body, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@asynccontextmanager
async def _http(target: Target) -> AsyncIterator[httpx2.AsyncClient]:
    endpoint = f"{target.url}/mcp"
    async with httpx2.AsyncClient(
        base_url=target.url, headers={"X-Sentinel-Key": target.key}, timeout=httpx2.Timeout(30.0, read=300.0),
        transport=UnreachableAsError(httpx2.AsyncHTTPTransport(), endpoint),
    ) as http:
        yield http


async def _open(http: httpx2.AsyncClient, target: Target) -> _Session:
    """The session to work in: the application's (``--session``), else one opened here for ``--agent``.

    Opened here under either revision, so its end never hangs on a ``DELETE``
    that a killed process does not send (``initialize`` adopts it).
    """
    if target.session is not None:
        session = _Session(http, target.session, owned=False)
    else:
        session = _Session(http, await _start_session(http, target), owned=True)
    http.headers["X-Sentinel-Session"] = session.sid
    return session


@asynccontextmanager
async def _client(http: httpx2.AsyncClient, target: Target) -> AsyncIterator[Client]:
    """The SDK's client on URL/mcp, checked with one tools/list before the desktop client is served."""
    # cache=None: tools/list depends on the session and the policy; always asked, never kept.
    client = Client(streamable_http_client(f"{target.url}/mcp", http_client=http), mode=target.mode, cache=None)
    stack = AsyncExitStack()
    try:
        await stack.enter_async_context(client)
        await client.list_tools()
    except Exception as exc:
        with suppress(Exception):  # the client's task groups close here, so what failed is one line
            await stack.aclose()
        raise BridgeError(_startup_problem(exc, target.url)) from None
    async with stack:
        yield client


async def _start_session(http: httpx2.AsyncClient, target: Target) -> str:
    body = {} if target.agent is None else {"agent": target.agent}
    try:
        response = await http.post("/session/start", json=body)
    except httpx2.HTTPError as exc:
        raise BridgeError(f"cannot reach Sentinel at {target.url}: {_reason(exc)}") from None
    if response.status_code == 401:
        raise BridgeError(f"Sentinel at {target.url} refused the API key in SENTINEL_API_KEY")
    if response.status_code != 200:
        raise BridgeError(f"Sentinel at {target.url} did not open a session (HTTP {response.status_code}): "
                          f"{_error_text(response)}")
    try:
        sid = response.json().get("session_id")
    except (ValueError, AttributeError):
        sid = None
    if not isinstance(sid, str):
        raise BridgeError(f"{target.url} answered /session/start without a session id: is it Sentinel's interceptor?")
    return sid


def _server(client: Client) -> Server[Any]:
    async def list_tools(
        ctx: ServerRequestContext[Any], params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListToolsResult:
        async with _relayed():
            listed = await client.list_tools(cursor=params.cursor if params else None)
        return mcp_types.ListToolsResult(tools=listed.tools, next_cursor=listed.next_cursor)

    async def call_tool(ctx: ServerRequestContext[Any], params: mcp_types.CallToolRequestParams) -> mcp_types.CallToolResult:
        async with _relayed():
            return await client.call_tool(params.name, params.arguments)

    return Server("sentinel", version=_release(), instructions=client.instructions or _INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool)


def _release() -> str:
    try:
        return version("sentinel-tool-gateway")
    except PackageNotFoundError:
        return "0"


@asynccontextmanager
async def _relayed() -> AsyncIterator[None]:
    """Sentinel's JSON-RPC errors keep their code and data and say where they come from."""
    try:
        yield
    except MCPError as exc:
        message = exc.message if _data_code(exc) == UNREACHABLE else f"Sentinel: {exc.message}"
        raise MCPError(exc.code, message, exc.data) from None


def _startup_problem(exc: BaseException, url: str) -> str:
    for inner in _leaves(exc):
        if isinstance(inner, MCPError):
            code = _data_code(inner)
            if code == UNREACHABLE:
                return inner.message
            if inner.code == _UNAUTHORIZED:
                return f"Sentinel at {url} refused the API key in SENTINEL_API_KEY"
            return f"Sentinel at {url} refused the connection: {inner.message}" + (f" ({code})" if code else "")
    return f"cannot connect to Sentinel at {url}: {type(exc).__name__}: {_reason(exc)}"


def _leaves(exc: BaseException) -> list[BaseException]:
    """What failed, out of the exception groups the SDK's task groups wrap it in."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _data_code(exc: MCPError) -> str | None:
    code = exc.data.get("code") if isinstance(exc.data, dict) else None
    return code if isinstance(code, str) else None


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _error_text(response: httpx2.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(error, dict):
        return f"{error.get('message')} ({error.get('code')})"
    return str(error)[:200]
