"""How both services run: uvicorn (uvloop, httptools), one response in one send.

uvicorn's httptools protocol writes a response's status line and headers in one
``transport.write`` and the body in another. With ``TCP_NODELAY`` (uvicorn sets
it) that is two packets and, on loopback, two wake-ups of the reader: the
interceptor's forwarding client waits for the tool server's body after its
headers, and the agent for the interceptor's. Measured here each extra send and
wake-up costs tens of microseconds of CPU on both ends (docs/performance.md).
:class:`CoalescingTransport` gathers a connection's writes and sends them in one
system call as soon as the response is complete, or at the end of the event-loop
tick they were made in, whichever comes first.

It must never hold a write past the tick it was made in (a ``100 Continue`` or
a streamed chunk leaves as soon as the handler yields), never reorder writes,
and never lose a write before a close.

Connections are bounded too (:class:`ServerLimits`), because uvicorn bounds
neither how long a request may take to arrive nor how many connections may sit
open: a connection over ``max_connections`` is closed as soon as it is
accepted, and a request (head and body) that has not fully arrived
``read_timeout`` seconds after the connection opened, or after its first byte,
closes its connection. Idle keep-alive connections close after ``keep_alive``
seconds. So slow or silent clients hold at most ``max_connections`` sockets for
at most ``read_timeout`` seconds each, and never a file descriptor past that.
"""

from __future__ import annotations

import asyncio
import importlib.util
from dataclasses import dataclass
from typing import Any

__all__ = ["CoalescingTransport", "ServerLimits", "serve_app"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """How much a client may hold of a service: documented in docs/operator-guide.md."""

    read_timeout: float = 10.0  # seconds for a whole request (head and body) to arrive
    keep_alive: int = 5  # seconds an idle keep-alive connection stays open
    max_connections: int = 2048  # open connections; one more is closed on accept

    def __post_init__(self) -> None:
        if self.read_timeout <= 0 or self.keep_alive <= 0 or self.max_connections <= 0:
            raise ValueError("server limits must be positive")


class CoalescingTransport:
    """A transport whose writes within one loop tick leave together, in order, at the tick's end."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Send what is pending now (also called at the end of the tick it was written in)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()  # what was written before the close still leaves, first
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(p) for p in self._pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _protocol_class(limits: ServerLimits | None = None) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    bounds = limits or ServerLimits()

    class GuardedProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, one send per response, with a request deadline and a connection cap.

        The deadline is a time, not a timer per request: arming and disarming it for every
        request on a kept-alive connection only sets it, and one timer per connection wakes
        at the earliest deadline that may still be pending, closes the connection if that
        request has not arrived, or sleeps on to the deadline of the request under way.
        """

        sentinel_deadline: float | None = None  # loop time by which the request under way must have arrived
        sentinel_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
            if len(self.connections) > bounds.max_connections:
                self.transport.close()  # over the cap: the descriptor is freed at once
                return
            self.arm_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self.disarm_deadline()
            if self.sentinel_timer is not None:
                self.sentinel_timer.cancel()
                self.sentinel_timer = None
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            if self.sentinel_deadline is None:  # a new request on a kept-alive connection
                self.arm_deadline()
            super().on_message_begin()

        def on_message_complete(self) -> None:
            self.disarm_deadline()  # the whole request is here; the handler's own bounds apply now
            super().on_message_complete()

        def on_response_complete(self) -> None:
            # The response is whole: send it now rather than at the end of the tick.
            self.transport.flush()  # type: ignore[attr-defined]
            super().on_response_complete()

        def arm_deadline(self) -> None:
            self.sentinel_deadline = deadline = self.loop.time() + bounds.read_timeout
            if self.sentinel_timer is None:
                self.sentinel_timer = self.loop.call_at(deadline, self.read_timed_out)

        def disarm_deadline(self) -> None:
            self.sentinel_deadline = None  # a timer that wakes finds nothing due

        def read_timed_out(self) -> None:
            self.sentinel_timer = None
            deadline = self.sentinel_deadline
            if deadline is None:
                return  # no request under way: the next one arms a timer again
            if self.loop.time() < deadline:  # a later request's deadline: wake again then
                self.sentinel_timer = self.loop.call_at(deadline, self.read_timed_out)
                return
            self.sentinel_deadline = None
            if not self.transport.is_closing():
                self.transport.close()  # a handler waiting for the body sees http.disconnect

    return GuardedProtocol


def serve_app(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    access_log: bool = False,
    limits: ServerLimits | None = None,
) -> None:
    """Run ``app`` under uvicorn until interrupted: uvloop when installed, httptools, bounded connections."""
    import uvicorn

    bounds = limits or ServerLimits()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http=_protocol_class(bounds),
        timeout_keep_alive=bounds.keep_alive,
    )
