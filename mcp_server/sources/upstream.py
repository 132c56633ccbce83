"""Another MCP server as a tool source: verified calls forwarded with the official ``mcp`` client.

:class:`UpstreamSource` keeps one ``mcp.ClientSession`` open to its upstream
(over ``stdio_client`` or ``streamable_http_client``) in a task of its own,
lists the upstream's tools at each (re)connection and serves them as
``NAME__TOOL``. A call is forwarded with exactly the arguments the guard
verified, under the upstream's own tool name, and its ``CallToolResult``
comes back as the upstream sent it, credentials redacted.

The listing is re-read (single flight: one ``tools/list`` in flight at a time)
when a pinned call finds it older than ``tools_ttl_seconds`` or the upstream
announced ``notifications/tools/list_changed``, so the pin is compared with
the definition the upstream serves now, not the one it served when it
connected. If it cannot be re-read, a pinned call is refused
(``upstream_unavailable``, nothing sent); ``tools/list`` keeps the last listing.

What a caller gets when things go wrong (decided; docs/mcp-gateway.md):

- the upstream cannot take the call (down, restarting, failing to start): a
  JSON-RPC error ``upstream_unavailable``, and nothing was sent to it;
- the call was sent and then failed (no answer within ``timeout_seconds``,
  the connection closed, an error or garbage instead of a result): a
  ``CallToolResult`` with ``isError: true`` that says so, since the tool may
  have run. A timeout is followed by a ping; an upstream that does not answer
  it, or closes the connection, is restarted (a stdio server as a new
  process) after a backoff from 0.5 s doubling to 30 s; calls fail at once
  while the last attempt has failed.

It must never hold a call longer than its timeout, never forward a call under
a name the upstream did not list, and never write a value of ``env`` or
``headers`` anywhere but to the upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

import anyio
import httpx2
import mcp_types
import pydantic
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

from mcp_server.errors import ConfigError, ProtocolError, UpstreamError
from mcp_server.sources._model import tool_sha256
from mcp_server.sources._redaction import Redactor
from mcp_server.sources.config import SEPARATOR, UpstreamConfig, secret_values
from sentinel_contract import TOOL_NAME_RULE, is_tool_name

__all__ = ["UpstreamSource"]

_log = logging.getLogger("mcp_server.upstream")
_CLIENT_INFO: Final = mcp_types.Implementation(name="sentinel-tool-server", version="1")
BACKOFF_FIRST_SECONDS: Final = 0.5
BACKOFF_MAX_SECONDS: Final = 30.0
# On top of a call's own read timeout: bounds a transport that is stuck before the clock starts.
_GRACE_SECONDS: Final = 1.0
# A call is not sent with less than this left of its budget: it would only time out.
_MIN_CALL_SECONDS: Final = 0.5
_PING_SECONDS: Final = 5.0
_CLOSE_SECONDS: Final = 10.0
_MAX_PAGES: Final = 100
_MAX_ERROR_CHARS: Final = 300


class UpstreamFailure(Exception):
    """Why a connection attempt failed, in words safe to log and to show the operator."""


@dataclass(eq=False)
class _Connection:
    session: ClientSession
    upstream_names: dict[str, str]  # served name -> the upstream's own
    lost: anyio.Event
    alive: bool = True
    pinging: bool = False
    why: str = "it closed the connection"


@dataclass(eq=False)
class _Watch:
    """What a stdio connection learns from its process: its output ended (it exited)."""

    ended: anyio.Event = field(default_factory=anyio.Event)


class UpstreamSource:
    """One upstream MCP server, reconnected (a stdio one restarted) when it is lost."""

    def __init__(self, config: UpstreamConfig, *, errlog: TextIO | None = None) -> None:
        self.config = config
        self.name = config.name
        self.prefix = config.name + SEPARATOR
        self.connections = 0  # successful connections so far; a restart adds one
        self.last_error: str | None = None
        self._errlog = errlog
        self._redactor = Redactor(secret_values(config))
        self._tools: list[mcp_types.Tool] = []
        self._hashes: dict[str, str] = {}  # served name -> tool_sha256 of its definition in _tools
        self._listed_at = -math.inf  # anyio.current_time() when _tools was read from the upstream
        self._announced = 0  # notifications/tools/list_changed received so far
        self._relisting: asyncio.Task[None] | None = None
        self._conn: _Connection | None = None
        self._broken = False  # the last attempt failed: calls fail at once until one succeeds
        self._closing = False
        self._changed = anyio.Event()
        self._stop = anyio.Event()
        self._scope: anyio.CancelScope | None = None
        self._task: asyncio.Task[None] | None = None
        self._opened = False
        self._pings: set[asyncio.Task[None]] = set()

    # -- ToolSource -------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and list; ConfigError(upstream_unavailable) naming the reason if the first attempt fails."""
        self._task = asyncio.create_task(self._run(), name=f"sentinel upstream {self.name}")
        with anyio.move_on_after(self.config.connect_timeout_seconds + _CLOSE_SECONDS):
            while self.connections == 0 and not self._broken:
                await self._changed.wait()
        self._opened = self.connections > 0
        if not self._opened:
            reason = self.last_error or "it did not connect in time"
            await self.close()
            raise ConfigError(
                f"the upstream {self.name} ({self.config.describe()}) could not be opened: {reason}",
                code="upstream_unavailable",
            )

    async def list_tools(self) -> list[mcp_types.Tool]:
        conn = self._conn
        if self._stale() and conn is not None and conn.alive:
            with contextlib.suppress(UpstreamError):  # names stay stable: the last listing answers
                await self._relist()
        return list(self._tools)

    async def definition_sha256(self, name: str) -> str | None:
        if self._stale():
            await self._relist()
        return self._hashes.get(name)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        timeout = self.config.timeout_seconds
        deadline = anyio.current_time() + timeout  # one budget: waiting for a connection, then the call
        conn = await self._ready(deadline)
        upstream_name = conn.upstream_names.get(name)
        if upstream_name is None:
            raise ProtocolError("unknown tool", code="unknown_tool")
        remaining = deadline - anyio.current_time()
        try:
            with anyio.fail_after(remaining + _GRACE_SECONDS):
                result = await conn.session.call_tool(upstream_name, arguments, read_timeout_seconds=remaining)
        except TimeoutError:
            self._ping(conn)
            return self._failure(f"did not answer within {timeout:g} s; the call may have run")
        except MCPError as exc:
            if exc.code == mcp_types.REQUEST_TIMEOUT:
                self._ping(conn)
                return self._failure(f"did not answer within {timeout:g} s; the call may have run")
            if exc.code == mcp_types.CONNECTION_CLOSED:
                self._lose(conn, "it closed the connection during a call")
                return self._failure("closed the connection during the call; the call may have run")
            self._ping(conn)
            return self._failure(f"answered the call with an error: {self._quote(exc.message)}")
        except pydantic.ValidationError:
            return self._failure("answered something that is not a tool result")
        except RuntimeError:
            # The SDK's own checks: structured content that fails the tool's output schema, a
            # result shape this client did not ask for. The upstream answered, but not usably.
            return self._failure("answered a result that does not fit the tool's definition")
        except Exception as exc:
            _log.error("upstream %s: a call failed in the client: %s", self.name, type(exc).__name__)
            return self._failure("failed the call; it may have run")
        return self._redactor.model(result)

    async def close(self) -> None:
        self._closing = True
        self._stop.set()
        if self._scope is not None:
            self._scope.cancel()
        for ping in list(self._pings):
            ping.cancel()
        if self._relisting is not None:
            self._relisting.cancel()
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=_CLOSE_SECONDS)
            if not done:  # the SDK bounds its own shutdown; this is the last resort
                task.cancel()
                await asyncio.wait({task}, timeout=_CLOSE_SECONDS)
        self._conn = None
        self._notify()

    # -- the connection task ------------------------------------------------------------
    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            before = self.connections
            try:
                with anyio.CancelScope() as self._scope:
                    await self._connect_and_serve()
            except Exception as exc:
                self.last_error = self._why(exc)
            finally:
                self._scope = None
                self._conn = None
            if self._closing:
                break
            was_up = self.connections > before
            failures = 1 if was_up else failures + 1
            self._broken = not was_up
            delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (failures - 1))
            if self._opened:  # a first attempt's failure is open()'s to report
                _log.warning("upstream %s (%s): %s; %s in %.1f s", self.name, self.config.describe(), self.last_error,
                             "restarting" if was_up else "retrying", delay)
            self._notify()
            with anyio.move_on_after(delay):
                await self._stop.wait()

    async def _connect_and_serve(self) -> None:
        async with AsyncExitStack() as stack:
            tasks = await stack.enter_async_context(anyio.create_task_group())
            read, write = await stack.enter_async_context(self._transport())
            watch = _Watch()
            if self.config.transport == "stdio":
                relay_send, relay_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
                tasks.start_soon(_relay, read, relay_send, watch)
                read = relay_receive
            session = await stack.enter_async_context(
                ClientSession(
                    read, write, read_timeout_seconds=self.config.connect_timeout_seconds,
                    client_info=_CLIENT_INFO, message_handler=self._on_message,
                )
            )
            with anyio.fail_after(self.config.connect_timeout_seconds):
                await session.initialize()
                listing = await _list_all(session)
            tools, names, hashes = self._served(listing)
            conn = _Connection(session=session, upstream_names=names, lost=watch.ended)
            self._tools, self._hashes, self._conn, self._broken = tools, hashes, conn, False
            self._listed_at = anyio.current_time()
            self.connections += 1
            self.last_error = None
            _log.info("upstream %s (%s): connected, %d tools", self.name, self.config.describe(), len(tools))
            self._notify()
            await conn.lost.wait()
            conn.alive = False
            self._conn = None
            self.last_error = conn.why

    @asynccontextmanager
    async def _transport(self) -> AsyncIterator[tuple[Any, Any]]:
        config = self.config
        if config.transport == "stdio":
            assert config.command is not None
            env = {key: value.get_secret_value() for key, value in config.env.items()}
            parameters = StdioServerParameters(command=config.command, args=config.args, env=env or None, cwd=config.cwd)
            async with stdio_client(parameters, errlog=self._errlog or sys.stderr) as streams:
                yield streams
            return
        assert config.url is not None
        headers = {key: value.get_secret_value() for key, value in config.headers.items()}
        timeout = httpx2.Timeout(config.connect_timeout_seconds)
        async with (
            httpx2.AsyncClient(headers=headers, timeout=timeout) as client,
            streamable_http_client(config.url, http_client=client) as streams,
        ):
            yield streams

    def _served(self, listing: list[mcp_types.Tool]) -> tuple[list[mcp_types.Tool], dict[str, str], dict[str, str]]:
        """The served tools, served name -> the upstream's name, served name -> tool_sha256."""
        tools: list[mcp_types.Tool] = []
        names: dict[str, str] = {}
        hashes: dict[str, str] = {}
        seen: set[str] = set()
        for tool in listing:
            if tool.name in seen:
                raise UpstreamFailure(f"it lists the tool {_shown(tool.name)} twice")
            seen.add(tool.name)
            served = self.prefix + tool.name
            clean = self._redactor.model(tool)
            if not is_tool_name(tool.name) or not is_tool_name(served) or clean.name != tool.name:
                _log.warning("upstream %s: tool %s not served: %s must be %s", self.name, _shown(tool.name),
                             _shown(served), TOOL_NAME_RULE)
                continue
            definition = mcp_types.Tool(
                name=served, title=clean.title, description=clean.description, input_schema=clean.input_schema,
                output_schema=clean.output_schema, annotations=clean.annotations,
            )
            tools.append(definition)
            names[served] = tool.name
            hashes[served] = tool_sha256(definition)
        return tools, names, hashes

    # -- the listing --------------------------------------------------------------------
    def _stale(self) -> bool:
        return anyio.current_time() - self._listed_at >= self.config.tools_ttl_seconds

    async def _relist(self) -> None:
        """Re-read the upstream's tools (one re-read in flight, shared by every caller); UpstreamError if it fails."""
        task = self._relisting
        if task is None or task.done():
            task = asyncio.create_task(self._read_listing())
            self._relisting = task
        await asyncio.shield(task)  # a caller that goes away does not cancel the others' re-read

    async def _read_listing(self) -> None:
        timeout = self.config.timeout_seconds
        deadline = anyio.current_time() + timeout
        conn = await self._ready(deadline)
        announced, started = self._announced, anyio.current_time()
        try:
            with anyio.fail_after(max(_MIN_CALL_SECONDS, deadline - started)):
                listing = await _list_all(conn.session)
            tools, names, hashes = self._served(listing)
        except Exception as exc:
            why = str(exc) if isinstance(exc, UpstreamFailure) else type(exc).__name__
            _log.warning("upstream %s: its tool list could not be re-read: %s", self.name, why)
            self._ping(conn)
            raise UpstreamError(
                f"the upstream {self.name}'s tool list could not be re-read; nothing was sent to it"
            ) from None
        if conn is not self._conn:
            return  # reconnected meanwhile: that connection's listing is newer
        self._tools, self._hashes, conn.upstream_names = tools, hashes, names
        # A change announced while this listing was read may not be in it: then it stays stale.
        if announced == self._announced:
            self._listed_at = started

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            # The next pinned call (or tools/list) re-reads the listing before it trusts it.
            self._announced += 1
            self._listed_at = -math.inf
            return
        if isinstance(message, Exception):
            # A line that is not JSON-RPC (a server logging to stdout): the SDK skips it, and so do we.
            _log.warning("upstream %s wrote something that is not a JSON-RPC message; ignored", self.name)

    # -- state ------------------------------------------------------------------------
    async def _ready(self, deadline: float) -> _Connection:
        """The live connection, waiting (until ``deadline``, leaving the call some time) for one being (re)made."""
        with anyio.move_on_after(max(0.0, deadline - anyio.current_time() - _MIN_CALL_SECONDS)):
            while True:
                conn = self._conn
                if conn is not None and conn.alive:
                    return conn
                if self._broken or self._closing:
                    break
                await self._changed.wait()
        raise UpstreamError(f"the upstream {self.name} is unavailable; nothing was sent to it")

    def _notify(self) -> None:
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    def _lose(self, conn: _Connection, why: str) -> None:
        if conn.alive:
            conn.alive = False
            conn.why = why
            conn.lost.set()

    def _ping(self, conn: _Connection) -> None:
        """After a timeout or an error: is the upstream still there? If not, restart it."""
        if conn.pinging or not conn.alive or self._closing:
            return
        conn.pinging = True
        task = asyncio.create_task(self._check(conn))
        self._pings.add(task)
        task.add_done_callback(self._pings.discard)

    async def _check(self, conn: _Connection) -> None:
        try:
            with anyio.fail_after(min(_PING_SECONDS, self.config.timeout_seconds) + _GRACE_SECONDS):
                await conn.session.send_ping()
        except Exception:
            self._lose(conn, "it stopped answering (a ping after a failed call went unanswered)")
        finally:
            conn.pinging = False

    # -- words --------------------------------------------------------------------------
    def _failure(self, what: str) -> mcp_types.CallToolResult:
        text = f"the upstream {self.name} {what}"
        return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=text)], is_error=True)

    def _quote(self, message: str) -> str:
        return repr(self._redactor.text(message)[:_MAX_ERROR_CHARS])

    def _why(self, exc: BaseException) -> str:
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        timeout = self.config.connect_timeout_seconds
        if isinstance(exc, UpstreamFailure):
            return str(exc)
        if isinstance(exc, TimeoutError) or (isinstance(exc, MCPError) and exc.code == mcp_types.REQUEST_TIMEOUT):
            return f"it did not answer initialize and tools/list within {timeout:g} s"
        if isinstance(exc, MCPError):
            if exc.code == mcp_types.CONNECTION_CLOSED:
                return "it closed the connection (did its command exit, or is its URL unreachable?)"
            return f"it answered with an error: {self._quote(exc.message)} (check its url, headers or command)"
        if isinstance(exc, pydantic.ValidationError):
            return "it answered with something that is not MCP"
        if isinstance(exc, httpx2.TransportError):
            return f"it could not be reached ({type(exc).__name__})"
        if isinstance(exc, OSError):
            return f"its command could not be started ({exc.strerror or type(exc).__name__})"
        return f"it failed ({type(exc).__name__})"


async def _list_all(session: ClientSession) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return tools
    raise UpstreamFailure(f"its tools/list did not end after {_MAX_PAGES} pages")


async def _relay(
    source: ObjectReceiveStream[SessionMessage | Exception],
    sink: ObjectSendStream[SessionMessage | Exception],
    watch: _Watch,
) -> None:
    """Pass a stdio server's messages on, and tell the connection when its output ends."""
    try:
        async with sink:
            async for item in source:
                await sink.send(item)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass
    finally:
        watch.ended.set()


def _shown(name: str) -> str:
    return repr(name[:64]) + ("..." if len(name) > 64 else "")
