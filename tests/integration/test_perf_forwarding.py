"""The default forwarding client (aiohttp) against real sockets: what it sends, and
how each failure maps to an error the agent can act on (retry or not)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest

from interceptor.errors import ToolServerError, ToolServerTimeout
from interceptor.forwarding import ToolServerClient
from tests.conftest import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    return head, await reader.readexactly(length)


def _answer(body: bytes, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.fixture()
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(handler: Handler) -> str:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            try:
                await handler(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(tracked, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()
    await asyncio.sleep(0.01)  # let the transports finish closing


async def test_a_call_sends_the_signed_json_rpc_request_and_returns_the_result(serve) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[bytes, bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # keep-alive: several calls over one connection
            try:
                seen.append(await _read_request(reader))
            except asyncio.IncompleteReadError:
                break
            writer.write(_answer(b'{"jsonrpc":"2.0","id":"j","result":{"content":[],"isError":false}}'))
            await writer.drain()
        writer.close()

    client = ToolServerClient(await serve(handler), 2.0)
    try:
        arguments = orjson.dumps({"to": "a@b", "u": "é", "n": [1, 2.5, None]})
        for _ in range(3):
            assert await client.call_tool("tok", "j", "send_email", arguments) == {"content": [], "isError": False}
    finally:
        await client.close()
    head, body = seen[0]
    assert b"authorization: bearer tok" in head.lower() and b"post /rpc http/1.1" in head.lower()
    assert orjson.loads(body) == {
        "jsonrpc": "2.0", "id": "j", "method": "tools/call",
        "params": {"name": "send_email", "arguments": orjson.loads(arguments)},
    }
    assert len(seen) == 3


async def test_an_unreachable_tool_server_is_502_and_safe_to_retry() -> None:
    client = ToolServerClient(f"http://127.0.0.1:{free_port()}", 2.0)
    try:
        with pytest.raises(ToolServerError) as caught:
            await client.call_tool("t", "j", "x", b"{}")
    finally:
        await client.close()
    assert caught.value.code == "tool_server_unreachable" and caught.value.retryable is True


async def test_a_connection_broken_after_sending_is_not_retryable(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)  # the request arrived (and may have run)...
        writer.close()  # ...and the answer never comes

    client = ToolServerClient(await serve(handler), 2.0)
    try:
        with pytest.raises(ToolServerError) as caught:
            await client.call_tool("t", "j", "x", b"{}")
    finally:
        await client.close()
    assert caught.value.status == 502 and caught.value.retryable is False


async def test_a_tool_server_that_never_answers_times_out(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)

    client = ToolServerClient(await serve(handler), 0.2)
    try:
        with pytest.raises(ToolServerTimeout):
            await client.call_tool("t", "j", "x", b"{}")
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        ("500 Internal Server Error", b"boom", "tool_server_error"),
        ("200 OK", b"not json", "tool_server_error"),
        ("200 OK", b'{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"replayed_jti"}}', "tool_server_rejected"),
    ],
)
async def test_tool_server_failures_are_502_and_not_retryable(serve, status: str, body: bytes, code: str) -> None:  # type: ignore[no-untyped-def]
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_answer(body, status))
        await writer.drain()
        writer.close()

    client = ToolServerClient(await serve(handler), 2.0)
    try:
        with pytest.raises(ToolServerError) as caught:
            await client.call_tool("t", "j", "x", b"{}")
    finally:
        await client.close()
    assert caught.value.code == code and caught.value.retryable is False
