"""Both services answer a request with one send: status line, headers and body together.

uvicorn's own httptools protocol writes the head and the body separately (two
packets with TCP_NODELAY, two wake-ups of the reader); ``sentinel_http._server``
joins them. These tests drive the real protocol class over a recording transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from sentinel_http._server import CoalescingTransport, _protocol_class

REQUEST = b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 9000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def get_write_buffer_size(self) -> int:
        return 0


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    body = b'{"ok":true}'
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def _serve(protocol_class: type[asyncio.Protocol], requests: int) -> RecordingTransport:
    config = Config(app=_app, log_level="warning", lifespan="off")
    protocol: Any = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    for _ in range(requests):
        protocol.data_received(REQUEST)
        for _ in range(20):  # the ASGI task runs on the loop
            await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport


async def test_each_response_leaves_in_one_write() -> None:
    protocol_class = _protocol_class()
    assert not isinstance(protocol_class, str)
    transport = await _serve(protocol_class, requests=3)
    assert len(transport.writes) == 3  # one per response, keep-alive
    for write in transport.writes:
        head, _, body = write.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and body == b'{"ok":true}'


async def test_uvicorn_alone_splits_the_response_which_is_why_this_exists() -> None:
    transport = await _serve(HttpToolsProtocol, requests=1)
    assert len(transport.writes) == 2


async def test_writes_of_one_tick_leave_together_in_order_and_before_a_close() -> None:
    raw = RecordingTransport()
    coalescing = CoalescingTransport(raw, asyncio.get_running_loop())
    coalescing.write(b"a")
    coalescing.write(bytearray(b"b"))
    assert raw.writes == []
    await asyncio.sleep(0)  # end of the tick: nothing is held longer
    assert raw.writes == [b"ab"]
    coalescing.write(b"c")
    coalescing.close()
    assert raw.writes == [b"ab", b"c"] and raw.closed
