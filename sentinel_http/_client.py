"""A small keep-alive HTTP/1.1 client for one origin: the interceptor's hop to the tool server.

Every approved call crosses this hop, and a general-purpose client (aiohttp,
httpx) was the interceptor's largest single cost. This one does only what the
hop needs: ``POST``/``DELETE`` with a body of known length (and ``GET``, for the
readiness probe), the whole answer
read into memory, over a bounded pool of keep-alive connections built on
asyncio Protocols and ``httptools.HttpResponseParser`` (llhttp, as uvicorn).

It must never:

- write a request into a connection that is not idle and whole: one exchange
  per connection at a time; a connection is reused only after a complete
  answer whose framing allows it (Content-Length or chunked fully read, HTTP/1.1,
  no ``Connection: close``); one the peer closed leaves the pool at once, and
  one idle for ``keepalive`` seconds is closed (set it below the server's own
  keep-alive, so a request is never written into a socket being closed);
- put a connection that failed, timed out or was cancelled back in the pool;
- read more than ``max_response_bytes`` of one answer (head included);
- retry: whether a request may be sent again is the caller's decision, told by
  the error's type (nothing was sent, or bytes were written);
- follow redirects, keep cookies, decompress, or send headers it was not given
  (beyond Host and Content-Length).

Errors, one root:

    HTTPClientError
    ├── ConnectFailed        no connection, nothing written (refused, DNS, unreachable,
    │                        TLS refused, client closed): safe to send again
    ├── ExchangeFailed       bytes were written, then: reset, EOF before the whole answer
    │   ├── MalformedResponse    the answer is not valid HTTP/1.x
    │   └── ResponseTooLarge     the answer is over ``max_response_bytes``
    └── ExchangeTimeout      no whole answer within ``timeout`` seconds in total
                             (waiting for a connection, connecting, sending, reading)
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from collections.abc import Mapping
from urllib.parse import urlsplit

import httptools

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_RESPONSE_BYTES",
    "ConnectFailed",
    "ExchangeFailed",
    "ExchangeTimeout",
    "HTTPClientError",
    "KeepAliveClient",
    "MalformedResponse",
    "ResponseTooLarge",
]

# Concurrent requests beyond this wait for a connection (inside their timeout).
MAX_CONNECTIONS = 256
# A tool's answer is JSON held in memory whole; anything bigger is refused, not buffered.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024

_METHODS = frozenset({"DELETE", "GET", "POST"})
# Framing and connection management are this module's job, never the caller's.
_RESERVED = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "expect"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.1: a field name
_MAX_CHECKED_NAMES = 64
# The idle sweep may close a connection this much before its time: never after it.
_SWEEP_SLACK = 0.05
# Exchange deadlines are kept in buckets this many seconds wide, one loop timer per
# bucket rather than one per request: on uvloop a call_at + cancel per request was
# 3 of the client's 19.5 µs of Python per call (measured in-process). A timeout
# fires up to this much late.
_DEADLINE_GRAIN = 0.01


class HTTPClientError(Exception):
    """Root of this module's errors."""


class ConnectFailed(HTTPClientError):
    """No connection: nothing of the request was written."""


class ExchangeFailed(HTTPClientError):
    """The request was (at least partly) written, and no whole answer came back."""


class MalformedResponse(ExchangeFailed):
    """The answer is not valid HTTP/1.x."""


class ResponseTooLarge(ExchangeFailed):
    """The answer is over the client's limit."""


class ExchangeTimeout(HTTPClientError):
    """No whole answer within the total timeout."""


class _Unsolicited(Exception):
    """Bytes after the answer, or before any request: the connection cannot be trusted."""


class _Deadlines:
    """The exchanges in flight, by deadline bucket; a bucket's timer times out what is still in it."""

    __slots__ = ("_buckets", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buckets: dict[int, tuple[asyncio.TimerHandle, set[_Connection]]] = {}

    def add(self, connection: _Connection, deadline: float) -> int:
        key = int(deadline / _DEADLINE_GRAIN) + 1  # the bucket ends after the deadline: never early
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = (self._loop.call_at(key * _DEADLINE_GRAIN, self._expire, key), set())
        bucket[1].add(connection)
        return key

    def discard(self, connection: _Connection, key: int) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket[1].discard(connection)

    def _expire(self, key: int) -> None:
        _, connections = self._buckets.pop(key, (None, ()))
        for connection in connections:
            connection.time_out()

    def cancel(self) -> None:
        for handle, _ in self._buckets.values():
            handle.cancel()
        self._buckets.clear()


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: at most one exchange at a time, parsed by httptools."""

    __slots__ = (
        "_body",
        "_chunked",
        "_client",
        "_error",
        "_has_length",
        "_has_te",
        "_headers_done",
        "_limit",
        "_loop",
        "_parser",
        "_received",
        "_waiter",
        "closed",
        "idle_since",
        "transport",
    )

    def __init__(self, client: KeepAliveClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop
        self._limit = client.max_response_bytes
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self._body: list[bytes] = []
        self._received = 0
        self._has_length = self._has_te = self._chunked = self._headers_done = False
        self._error: ExchangeFailed | None = None
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = loop.create_future()  # done once the socket is gone
        self.idle_since = 0.0

    # ------------------------------------------------------------ the exchange

    async def exchange(self, data: bytes, deadline: float) -> tuple[int, bytes, bool]:
        """Write ``data`` (the whole request: one write, one packet) and wait for the whole answer.

        Returns (status, body, reusable); ExchangeTimeout at ``deadline`` (loop time).
        The caller closes the connection on any exception.
        """
        assert self.transport is not None and self._waiter is None
        self._body = []
        self._received = 0
        self._error = None
        deadlines = self._client._deadlines
        assert deadlines is not None
        waiter: asyncio.Future[tuple[int, bytes, bool]] = self._loop.create_future()
        self._waiter = waiter
        key = deadlines.add(self, deadline)
        self.transport.write(data)
        try:
            return await waiter
        finally:
            deadlines.discard(self, key)
            self._waiter = None

    def time_out(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(self._client._timed_out())

    def _fail(self, error: ExchangeFailed) -> None:
        # Also stops reading at once: nothing more of this answer is buffered.
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.abort()  # nothing was asked: a connection that talks unasked is not reused
            return
        self._received += len(data)
        if self._received > self._limit:
            self._fail(ResponseTooLarge(f"the answer is over {self._limit} bytes"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _Unsolicited) and waiter.done():
                self.abort()  # the answer is whole and delivered; what followed it was not asked for
            else:
                self._fail(self._error or MalformedResponse(f"malformed HTTP answer: {exc}"))
        except httptools.HttpParserUpgrade:
            self._fail(MalformedResponse("the server switched protocols unasked"))

    def eof_received(self) -> bool | None:
        waiter = self._waiter
        if waiter is not None and not waiter.done() and self._until_eof():
            # RFC 9112 6.3: no Content-Length and not chunked: the body ends with the connection.
            waiter.set_result((self._parser.get_status_code(), b"".join(self._body), False))
            self._body = []
        # Otherwise connection_lost reports the early end. Either way the socket is closed.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._client._forget(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ExchangeFailed("the connection closed before the whole answer"))
        if not self.closed.done():
            self.closed.set_result(None)

    def _until_eof(self) -> bool:
        # Headers complete, and the body is framed by neither Content-Length nor a final chunked coding.
        if not self._headers_done:
            return False
        return (self._has_te and not self._chunked) or (not self._has_te and not self._has_length)

    # ------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            raise _Unsolicited
        self._has_length = self._has_te = self._chunked = self._headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) == 14 and name.lower() == b"content-length":
            self._has_length = True
            # Refuse a declared oversize body before reading it (llhttp checked it is digits).
            if int(value) > self._limit:
                self._error = ResponseTooLarge(f"the answer is over {self._limit} bytes")
                raise self._error
        elif len(name) == 17 and name.lower() == b"transfer-encoding":
            self._has_te = True
            self._chunked = value.rstrip().lower().endswith(b"chunked")

    def on_headers_complete(self) -> None:
        version = self._parser.get_http_version()
        if version[0] != "1":
            self._error = MalformedResponse(f"not an HTTP/1.x answer: HTTP/{version}")
            raise self._error
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:
            # An interim answer (100 Continue, 103 Early Hints): the final one follows.
            self._body = []
            self._headers_done = False
            return
        waiter = self._waiter
        assert waiter is not None
        body = self._body
        content = body[0] if len(body) == 1 else b"".join(body)
        # Read inside the callback: llhttp clears the message's flags once it returns.
        waiter.set_result((status, content, parser.should_keep_alive() and parser.get_http_version() == "1.1"))
        self._body = []  # an idle connection keeps no answer alive


class KeepAliveClient:
    """A bounded pool of keep-alive HTTP/1.1 connections to one origin (``base_url``).

    Nothing touches the event loop until the first request; from then on the
    client belongs to that loop.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float,
        *,
        keepalive: float,
        max_connections: int = MAX_CONNECTIONS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context`` for https: default ``ssl.create_default_context()`` (certificate verified)."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"the URL must be http:// or https://, not {parts.scheme or 'schemeless'}")
        if not parts.hostname:
            raise ValueError("the URL has no host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("credentials in the URL are not supported")
        if parts.query or parts.fragment:
            raise ValueError("the URL may not carry a query or a fragment")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port in the URL: {exc}") from None
        authority = parts.netloc
        prefix = parts.path.rstrip("/")
        if not (authority + prefix).isascii() or not (authority + prefix).isprintable() or " " in authority + prefix:
            raise ValueError("the URL must be ASCII without spaces or control characters (percent-encode it)")
        if timeout <= 0 or keepalive <= 0 or max_connections < 1 or max_response_bytes < 1:
            raise ValueError("timeout, keepalive, max_connections and max_response_bytes must be positive")
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port or (443 if self._tls else 80)
        self._authority = authority
        self._prefix = prefix
        self._timeout = timeout
        self._keepalive = keepalive
        self._max_connections = max_connections
        self.max_response_bytes = max_response_bytes
        self._ssl = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: _Deadlines | None = None
        # Slots: one per exchange in flight, at most max_connections. A caller that finds
        # none queues; a freed slot is handed to the first caller still waiting. So a caller
        # waits only while every slot is taken (asyncio.Semaphore, without its per-call cost).
        self._busy = 0
        self._queue: deque[asyncio.Future[None]] = deque()
        self._checked_names: set[str] = set()
        self._idle: deque[_Connection] = deque()  # most recently used on the right
        self._open: set[_Connection] = set()
        self._sweep: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def idle_connections(self) -> int:
        """How many connections wait in the pool."""
        return len(self._idle)

    async def request(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """Send one request; (status, body) of the whole answer, or one of this module's errors.

        ``path`` is appended to the base URL's path; ``headers`` go as given
        (Host and Content-Length are added; framing headers are refused).
        """
        data = self._head(method, path, len(body), headers) + body
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        now = loop.time()
        deadline = now + self._timeout  # one budget for waiting, connecting, sending and reading
        # The steady state awaits nothing before the exchange: a free slot is taken at once
        # and the exchange's deadline joins a bucket (asyncio.timeout would cost 5.7 µs).
        if self._busy < self._max_connections:
            self._busy += 1
        else:
            try:
                async with asyncio.timeout_at(deadline):
                    await self._wait_for_slot(loop)
            except TimeoutError:
                raise self._timed_out() from None
            now = loop.time()  # for the idle check below: the wait may have been long
        connection: _Connection | None = None
        try:
            if self._closed:
                raise ConnectFailed("the client is closed")
            connection = self._take(now)
            if connection is None:
                try:
                    async with asyncio.timeout_at(deadline):
                        connection = await self._connect(loop)
                except TimeoutError:
                    raise self._timed_out() from None
            status, content, reusable = await connection.exchange(data, deadline)
        except BaseException:
            # Failed, timed out or cancelled mid-exchange: its state is unknown, never reused.
            if connection is not None:
                connection.abort()
            raise
        finally:
            self._release_slot()
        self._give_back(connection, reusable, loop)
        return status, content

    def _timed_out(self) -> ExchangeTimeout:
        return ExchangeTimeout(f"no whole answer within {self._timeout} s")

    async def close(self) -> None:
        """Close every connection (idle and busy); later requests fail with ConnectFailed."""
        self._closed = True
        if self._deadlines is not None:
            self._deadlines.cancel()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._idle.clear()
        connections = list(self._open)
        for connection in connections:
            connection.close()
        if connections:
            # Let the transports finish closing (TLS sends close_notify); abort a stuck one.
            await asyncio.wait([c.closed for c in connections], timeout=1.0)
            for connection in connections:
                if not connection.closed.done():
                    connection.abort()

    # ------------------------------------------------------------ internals

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not None:
            raise RuntimeError("a KeepAliveClient belongs to the event loop it was first used on")
        self._loop = loop
        self._deadlines = _Deadlines(loop)

    async def _wait_for_slot(self, loop: asyncio.AbstractEventLoop) -> None:
        waiter: asyncio.Future[None] = loop.create_future()
        self._queue.append(waiter)
        try:
            await waiter  # resolved by _release_slot: the slot is handed over, _busy unchanged
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release_slot()  # handed over just as this caller gave up: pass it on
            else:
                try:
                    self._queue.remove(waiter)
                except ValueError:
                    pass
            raise

    def _release_slot(self) -> None:
        queue = self._queue
        while queue:
            waiter = queue.popleft()
            if not waiter.done():  # not given up (cancelled) meanwhile
                waiter.set_result(None)
                return
        self._busy -= 1

    def _head(self, method: str, path: str, length: int, headers: Mapping[str, str]) -> bytes:
        if method not in _METHODS:
            raise ValueError(f"unsupported method {method!r}")
        if not path.startswith("/") or not path.isprintable() or " " in path:
            raise ValueError("the path must start with '/' and hold no spaces or control characters")
        lines = [f"{method} {self._prefix}{path} HTTP/1.1\r\nHost: {self._authority}\r\nContent-Length: {length}\r\n"]
        for name, value in headers.items():
            if name not in self._checked_names:
                self._check_name(name)
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        head = "".join(lines)
        # A CR or LF inside a name or a value would split the head: request smuggling.
        expected = len(headers) + 4
        if head.count("\n") != expected or head.count("\r") != expected:
            raise ValueError("CR or LF in a header")
        try:
            return head.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("the path and the headers must be ASCII") from None

    def _check_name(self, name: str) -> None:
        """A field name the caller may send; the few names a client uses are checked once."""
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"not a header name: {name!r}")
        if name.lower() in _RESERVED:
            raise ValueError(f"the {name} header is set by the client itself")
        if len(self._checked_names) < _MAX_CHECKED_NAMES:
            self._checked_names.add(name)

    def _take(self, now: float) -> _Connection | None:
        idle = self._idle
        while idle:
            connection = idle.pop()
            if now - connection.idle_since < self._keepalive:
                return connection
            # The newest idle connection is too old, so are all the others: the sweep was late.
            connection.close()
        return None

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        context: ssl.SSLContext | None = None
        if self._tls:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()  # verified against the system's CAs
            context = self._ssl
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self, loop),
                self._host,
                self._port,
                ssl=context,
                server_hostname=self._host if context is not None else None,
            )
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS (SSLError)
            raise ConnectFailed(f"cannot connect: {exc.__class__.__name__}: {exc}") from exc
        if self._closed:  # closed while connecting
            connection.abort()
            raise ConnectFailed("the client is closed")
        self._open.add(connection)
        return connection

    def _give_back(self, connection: _Connection, reusable: bool, loop: asyncio.AbstractEventLoop) -> None:
        transport = connection.transport
        if not reusable or self._closed or transport is None or transport.is_closing():
            connection.close()
            return
        now = loop.time()
        connection.idle_since = now
        self._idle.append(connection)
        if self._sweep is None:
            self._sweep = loop.call_at(now + self._keepalive, self._expire)

    def _expire(self) -> None:
        """Close the connections idle for ``keepalive`` seconds; come back for the next one."""
        assert self._loop is not None
        self._sweep = None
        deadline = self._loop.time() + _SWEEP_SLACK - self._keepalive
        idle = self._idle
        while idle and idle[0].idle_since <= deadline:
            idle.popleft().close()
        if idle:
            self._sweep = self._loop.call_at(idle[0].idle_since + self._keepalive, self._expire)

    def _forget(self, connection: _Connection) -> None:
        # Called from connection_lost: a closed connection leaves the pool at once.
        self._open.discard(connection)
        try:
            self._idle.remove(connection)
        except ValueError:
            pass

    def __repr__(self) -> str:
        scheme = "https" if self._tls else "http"
        origin = f"{scheme}://{self._authority}{self._prefix}"
        return f"<KeepAliveClient {origin} idle={len(self._idle)} open={len(self._open)}>"
