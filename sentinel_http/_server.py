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
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

__all__ = ["CoalescingTransport", "serve_app"]


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


def _protocol_class() -> type[asyncio.Protocol] | str:
    if importlib.util.find_spec("httptools") is None:
        return "h11"
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class CoalescingProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

        def on_response_complete(self) -> None:
            # The response is whole: send it now rather than at the end of the tick.
            self.transport.flush()  # type: ignore[attr-defined]
            super().on_response_complete()

    return CoalescingProtocol


def serve_app(app: Any, *, host: str, port: int, log_level: str = "info", access_log: bool = False) -> None:
    """Run ``app`` under uvicorn until interrupted: uvloop and httptools when installed."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http=_protocol_class(),
    )
