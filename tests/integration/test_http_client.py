"""The default forwarding client (``sentinel_http.KeepAliveClient`` behind
``ToolServerClient``) against real sockets: what it sends, when it reuses a
connection and when it must not, how much it reads, and how each failure maps
to an error the agent can act on (retry or not). Scenarios that take no fixture
also run on uvloop, the loop the interceptor runs on (``test_on_uvloop``)."""

from __future__ import annotations

import asyncio
import datetime
import functools
import socket
import ssl
import struct
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from interceptor.errors import SettingsError, ToolServerError, ToolServerTimeout
from interceptor.forwarding import _KEEPALIVE_SECONDS, ToolServerClient
from sentinel_http._client import (
    MAX_RESPONSE_BYTES,
    ConnectFailed,
    ExchangeTimeout,
    KeepAliveClient,
    ResponseTooLarge,
    _Connection,
)
from tests.conftest import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    return head, await reader.readexactly(length)


def _answer(body: bytes, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.fixture
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


@pytest.mark.parametrize("scheme", ["http", "https"])  # an https URL is accepted the same way
async def test_an_unreachable_tool_server_is_502_and_safe_to_retry(scheme: str) -> None:
    client = ToolServerClient(f"{scheme}://127.0.0.1:{free_port()}", 2.0)
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


# --------------------------------------------------------------------------- a scripted server
#
# The scenarios below take no fixture, so that test_on_uvloop can run them again on uvloop.


@dataclass
class _Peer:
    """The server's view: connections accepted, requests as received, client closes seen."""

    url: str = ""
    connections: int = 0
    open_now: int = 0
    most_open: int = 0  # the most connections open at once
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)
    arrivals: asyncio.Queue[int] = field(default_factory=asyncio.Queue)  # the count, as each request arrives
    eofs: asyncio.Queue[float] = field(default_factory=asyncio.Queue)  # loop time of each client close


PeerHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, _Peer], Awaitable[None]]


async def _next_request(reader: asyncio.StreamReader, peer: _Peer) -> tuple[bytes, bytes] | None:
    """The next request on this connection, or None once the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        await peer.eofs.put(asyncio.get_running_loop().time())
        return None
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    request = (head, await reader.readexactly(length))
    peer.requests.append(request)
    await peer.arrivals.put(len(peer.requests))
    return request


def _json_answer(text: str, extra: str = "") -> bytes:
    result = {"content": [{"type": "text", "text": text}], "isError": False}
    body = orjson.dumps({"jsonrpc": "2.0", "id": "j", "result": result})
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _text(result: dict[str, object]) -> str:
    return result["content"][0]["text"]  # type: ignore[index,no-any-return]


def _keep_alive(answer: Callable[[int], bytes] = lambda n: _json_answer(f"answer {n}")) -> PeerHandler:
    """Answer every request on the connection, numbered across the server, until the client closes."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        while await _next_request(reader, peer) is not None:
            writer.write(answer(len(peer.requests)))
            await writer.drain()

    return handler


@asynccontextmanager
async def _serving(handler: PeerHandler, tls: ssl.SSLContext | None = None) -> AsyncIterator[_Peer]:
    peer = _Peer()
    tasks: set[asyncio.Task[None]] = set()
    writers: list[asyncio.StreamWriter] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer.connections += 1
        peer.open_now += 1
        peer.most_open = max(peer.most_open, peer.open_now)
        writers.append(writer)
        tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            peer.open_now -= 1
            writer.close()

    server = await asyncio.start_server(accepted, "127.0.0.1", 0, ssl=tls)
    peer.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield peer
    finally:
        server.close()
        for writer in writers:
            writer.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def _until(predicate: Callable[[], bool], seconds: float = 2.0) -> None:
    """Let the loop run until ``predicate`` holds: the client's own state, which has no event to await."""
    async with asyncio.timeout(seconds):
        while not predicate():
            await asyncio.sleep(0)


def _client(url: str, timeout: float = 2.0, **options: object) -> KeepAliveClient:
    options.setdefault("keepalive", _KEEPALIVE_SECONDS)
    return KeepAliveClient(url, timeout, **options)  # type: ignore[arg-type]


async def _post(client: KeepAliveClient, body: bytes = b"{}") -> tuple[int, bytes]:
    return await client.request("POST", "/rpc", body, {"content-type": "application/json"})


# --------------------------------------------------------------------------- the pool


async def test_sequential_calls_share_one_keep_alive_connection() -> None:
    async with _serving(_keep_alive()) as peer:
        client = ToolServerClient(peer.url, 2.0)
        try:
            texts = [_text(await client.call_tool("t", "j", "x", b"{}")) for _ in range(5)]
        finally:
            await client.close()
    assert texts == [f"answer {n}" for n in range(1, 6)]
    assert peer.connections == 1


async def test_concurrent_calls_run_on_separate_connections_and_get_their_own_answers() -> None:
    all_in = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        while (request := await _next_request(reader, peer)) is not None:
            if len(peer.requests) == 8:
                all_in.set()
            await all_in.wait()  # nobody is answered before all 8 are in: they must be in flight at once
            writer.write(_json_answer(orjson.loads(request[1])["id"]))
            await writer.drain()

    async with _serving(handler) as peer:
        client = ToolServerClient(peer.url, 2.0)
        try:
            ids = [f"call-{n}" for n in range(8)]
            results = await asyncio.gather(*(client.call_tool("t", i, "x", b"{}") for i in ids))
            assert [_text(r) for r in results] == ids
            assert peer.connections == 8
            for i in ids:  # and they are kept: no new connection
                assert _text(await client.call_tool("t", i, "x", b"{}")) == i
        finally:
            await client.close()
    assert peer.connections == 8


async def test_connections_are_bounded_and_extra_callers_wait_their_turn() -> None:
    pending: list[asyncio.Event] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        while await _next_request(reader, peer) is not None:
            # Answer in pairs: two requests must be in flight before either is answered.
            mine = asyncio.Event()
            pending.append(mine)
            if len(pending) % 2 == 0:
                for event in pending[-2:]:
                    event.set()
            await mine.wait()
            writer.write(_json_answer("ok"))
            await writer.drain()

    async with _serving(handler) as peer:
        client = _client(peer.url, max_connections=2)
        try:
            answers = await asyncio.gather(*(_post(client) for _ in range(6)))
        finally:
            await client.close()
    assert [status for status, _ in answers] == [200] * 6
    assert peer.connections == peer.most_open == 2  # six callers, two connections: the other four waited


async def test_a_caller_waiting_for_a_connection_times_out_within_its_own_budget() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _next_request(reader, peer)
        await reader.read()  # never answers

    async with _serving(silent) as peer:
        client = _client(peer.url, timeout=0.3, max_connections=1)
        loop = asyncio.get_running_loop()
        try:
            first = asyncio.ensure_future(_post(client))
            await asyncio.wait_for(peer.arrivals.get(), 2)
            start = loop.time()
            with pytest.raises(ExchangeTimeout):
                # Waits for the only connection (freed when the first call times out, a little
                # earlier), then for an answer: all within its own 0.3 s.
                await _post(client)
            waited = loop.time() - start
            with pytest.raises(ExchangeTimeout):
                await first
        finally:
            await client.close()
    assert 0.25 <= waited < 1.5 and peer.most_open == 1


@pytest.mark.parametrize("race", [False, True], ids=["while-waiting", "as-the-connection-is-handed-over"])
async def test_a_caller_that_gives_up_waiting_does_not_take_a_connection_with_it(race: bool) -> None:
    release = asyncio.Event()

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        while await _next_request(reader, peer) is not None:
            await release.wait()
            writer.write(_json_answer("ok"))
            await writer.drain()

    async with _serving(held) as peer:
        client = _client(peer.url, max_connections=1)
        try:
            first = asyncio.ensure_future(_post(client))
            await asyncio.wait_for(peer.arrivals.get(), 2)
            second = asyncio.ensure_future(_post(client))  # queues for the only connection
            await _until(lambda: len(client._queue) == 1)
            if race:
                # The first call hands its slot to the second, which is cancelled before it runs.
                handed_over = client._release_slot

                def hand_over_then_cancel() -> None:
                    client._release_slot = handed_over  # type: ignore[method-assign]
                    handed_over()
                    second.cancel()

                client._release_slot = hand_over_then_cancel  # type: ignore[method-assign]
            else:
                second.cancel()
            release.set()
            assert (await first)[0] == 200
            with pytest.raises(asyncio.CancelledError):
                await second
            assert (await _post(client))[0] == 200  # the slot came back: no wait, no timeout
        finally:
            await client.close()
    assert peer.connections == 1


# --------------------------------------------------------------------------- when a connection is reused


@pytest.mark.parametrize(
    ("answer", "reused"),
    [
        (_json_answer("ok"), True),
        (_json_answer("ok", "Connection: close\r\n"), False),
        (_json_answer("ok").replace(b"HTTP/1.1", b"HTTP/1.0", 1), False),
        (_json_answer("ok", "Connection: keep-alive\r\n").replace(b"HTTP/1.1", b"HTTP/1.0", 1), False),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", True),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + _json_answer("ok"), True),
        (b"HTTP/1.1 204 No Content\r\n\r\n", True),
    ],
    ids=["content-length", "connection-close", "http-1.0", "http-1.0-keep-alive", "chunked", "interim-100", "204"],
)
async def test_a_connection_is_reused_only_after_a_whole_keep_alive_http_1_1_answer(
    answer: bytes, reused: bool
) -> None:
    # The server would happily serve a second request on the same connection: only the client decides.
    async with _serving(_keep_alive(lambda n: answer)) as peer:
        client = _client(peer.url)
        try:
            first, second = await _post(client), await _post(client)
        finally:
            await client.close()
    assert first == second
    assert first[1] == (b"hello world" if b"chunked" in answer else answer.split(b"\r\n\r\n")[-1])
    assert peer.connections == (1 if reused else 2)


async def test_an_answer_without_length_or_chunking_is_read_to_the_end_of_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _next_request(reader, peer)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ")
        await writer.drain()
        writer.write(b"second part")
        await writer.drain()
        writer.close()  # RFC 9112 6.3: the close ends the body

    async with _serving(handler) as peer:
        client = _client(peer.url)
        try:
            assert await _post(client) == (200, b"first part, second part")
            assert await _post(client) == (200, b"first part, second part")
        finally:
            await client.close()
    assert peer.connections == 2


async def test_a_connection_the_server_closed_while_idle_leaves_the_pool_at_once() -> None:
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _next_request(reader, peer)
        writer.write(_json_answer("ok"))  # keep-alive framing: the client pools the connection...
        await writer.drain()
        if peer.connections == 1:
            writer.close()  # ...and the server closes it while it is idle
            await writer.wait_closed()
            closed.set()
        else:
            await _keep_alive()(reader, writer, peer)

    async with _serving(handler) as peer:
        client = _client(peer.url)
        try:
            await _post(client)
            await closed.wait()
            await _until(lambda: client.idle_connections == 0)
            assert await _post(client) == (200, _json_answer("ok").split(b"\r\n\r\n")[1])  # on a new connection
        finally:
            await client.close()
    assert peer.connections == 2


async def test_an_idle_connection_is_closed_by_the_client_after_the_keepalive() -> None:
    answered: list[float] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        while await _next_request(reader, peer) is not None:
            writer.write(_json_answer("ok"))
            await writer.drain()
            answered.append(asyncio.get_running_loop().time())

    async with _serving(handler) as peer:
        client = _client(peer.url, keepalive=0.3)
        try:
            await _post(client)
            closed_at = await asyncio.wait_for(peer.eofs.get(), 3)  # the client closed it, not the server
            assert client.idle_connections == 0
            await _post(client)
        finally:
            await client.close()
    assert 0.3 - 0.06 <= closed_at - answered[0] < 2.0
    assert peer.connections == 2


def test_the_pool_drops_idle_connections_before_uvicorn_closes_them() -> None:
    # A POST written into a socket the server is closing is lost (and not retryable).
    import uvicorn

    assert _KEEPALIVE_SECONDS == 4.0 < uvicorn.Config(app=None).timeout_keep_alive
    client = ToolServerClient("http://127.0.0.1:1", 1.0)
    assert client._transport._client._keepalive == _KEEPALIVE_SECONDS  # type: ignore[attr-defined]


@pytest.mark.parametrize("same_segment", [True, False], ids=["same-segment", "while-idle"])
async def test_bytes_the_client_did_not_ask_for_never_answer_a_later_request(same_segment: bool) -> None:
    # Response desynchronisation: a second, unasked answer must not become the answer to the next call.
    smuggled = _json_answer("smuggled")
    first_returned = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        if peer.connections == 1:
            await _next_request(reader, peer)
            if same_segment:
                writer.write(_json_answer("first") + smuggled)
            else:
                writer.write(_json_answer("first"))
                await writer.drain()
                await first_returned.wait()  # the connection is idle in the pool now
                writer.write(smuggled)
            await writer.drain()
        await _keep_alive(lambda n: _json_answer("fresh"))(reader, writer, peer)

    async with _serving(handler) as peer:
        client = ToolServerClient(peer.url, 2.0)
        try:
            assert _text(await client.call_tool("t", "j", "x", b"{}")) == "first"
            first_returned.set()
            await _until(lambda: client._transport._client.idle_connections == 0)  # type: ignore[attr-defined]
            assert _text(await client.call_tool("t", "j", "x", b"{}")) == "fresh"
        finally:
            await client.close()
    assert peer.connections == 2


# --------------------------------------------------------------------------- failures and their mapping


async def test_a_host_that_does_not_resolve_is_unreachable_and_safe_to_retry() -> None:
    client = ToolServerClient("http://tool-server.invalid:8000", 5.0)
    try:
        with pytest.raises(ToolServerError) as caught:
            await client.call_tool("t", "j", "x", b"{}")
    finally:
        await client.close()
    assert caught.value.code == "tool_server_unreachable" and caught.value.retryable is True


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
    await _next_request(reader, peer)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    writer.transport.abort()


async def _truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
    await _next_request(reader, peer)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    await writer.drain()
    writer.close()


async def _truncated_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
    await _next_request(reader, peer)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
    await writer.drain()
    writer.close()


@pytest.mark.parametrize("handler", [_reset, _truncated, _truncated_head], ids=["reset", "eof-in-body", "eof-in-head"])
async def test_a_connection_that_breaks_after_the_request_was_written_is_not_retryable(handler: PeerHandler) -> None:
    async with _serving(handler) as peer:
        client = ToolServerClient(peer.url, 2.0)
        try:
            with pytest.raises(ToolServerError) as caught:
                await client.call_tool("t", "j", "x", b"{}")
        finally:
            await client.close()
    assert len(peer.requests) == 1  # it arrived (and may have run)
    assert caught.value.code == "tool_server_unreachable" and caught.value.retryable is False


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 abc\r\n\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
        _json_answer("ok").replace(b"HTTP/1.1", b"HTTP/2.0", 1),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    ],
    ids=["bad-status", "not-http", "two-lengths", "length-and-chunked", "bad-chunk", "http-2", "upgrade"],
)
async def test_a_malformed_answer_is_an_error_and_not_retryable(answer: bytes) -> None:
    async with _serving(_keep_alive(lambda n: answer)) as peer:
        client = ToolServerClient(peer.url, 2.0)
        try:
            with pytest.raises(ToolServerError) as caught:
                await client.call_tool("t", "j", "x", b"{}")
            closed_at = await asyncio.wait_for(peer.eofs.get(), 2)  # the connection was closed, not pooled
        finally:
            await client.close()
    assert caught.value.code == "tool_server_error" and caught.value.retryable is False and closed_at


async def test_the_timeout_bounds_the_whole_answer_not_each_read() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        if peer.connections > 1:
            return await _keep_alive()(reader, writer, peer)
        await _next_request(reader, peer)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")

        async def drip() -> None:
            for _ in range(40):  # a byte every 50 ms: each read is quick, the whole answer takes 2 s
                await asyncio.sleep(0.05)
                writer.write(b"x")

        dripping = asyncio.ensure_future(drip())
        try:
            await reader.read()  # returns (or raises) once the client closed the connection
        except ConnectionError:
            pass
        finally:
            dripping.cancel()
        await peer.eofs.put(asyncio.get_running_loop().time())

    async with _serving(trickle) as peer:
        client = ToolServerClient(peer.url, 0.5)
        loop = asyncio.get_running_loop()
        try:
            start = loop.time()
            with pytest.raises(ToolServerTimeout):
                await client.call_tool("t", "j", "x", b"{}")
            elapsed = loop.time() - start
            await asyncio.wait_for(peer.eofs.get(), 2)  # the timed-out connection was closed...
            assert _text(await client.call_tool("t", "j", "x", b"{}")) == "answer 2"  # ...and not reused
        finally:
            await client.close()
    assert 0.45 <= elapsed < 1.5 and peer.connections == 2


@pytest.mark.parametrize("how", ["timeout", "cancelled"])
async def test_a_connection_whose_exchange_did_not_finish_is_closed_not_reused(how: str) -> None:
    async def first_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        if peer.connections == 1:
            await _next_request(reader, peer)
            await _next_request(reader, peer)  # no answer; returns when the client closes the connection
        else:
            await _keep_alive()(reader, writer, peer)

    async with _serving(first_silent) as peer:
        client = ToolServerClient(peer.url, 0.3 if how == "timeout" else 5.0)
        try:
            call = asyncio.ensure_future(client.call_tool("t", "j", "x", b"{}"))
            if how == "timeout":
                with pytest.raises(ToolServerTimeout):
                    await call
            else:
                await asyncio.wait_for(peer.arrivals.get(), 2)
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
            await asyncio.wait_for(peer.eofs.get(), 2)  # closed by the client at once
            assert _text(await client.call_tool("t", "j", "x", b"{}")) == "answer 2"
        finally:
            await client.close()
    assert peer.connections == 2


async def test_an_answer_declared_over_the_limit_is_refused_before_it_is_read() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _next_request(reader, peer)
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_RESPONSE_BYTES + 1}\r\n\r\n".encode() + b"x" * 1000)
        await writer.drain()
        await _next_request(reader, peer)  # the client must not wait for 32 MiB: it closes instead

    async with _serving(huge) as peer:
        client = ToolServerClient(peer.url, 5.0)
        try:
            with pytest.raises(ToolServerError) as caught:
                await client.call_tool("t", "j", "x", b"{}")
            await asyncio.wait_for(peer.eofs.get(), 2)
        finally:
            await client.close()
    assert MAX_RESPONSE_BYTES == 32 * 1024 * 1024
    assert caught.value.code == "tool_server_error" and caught.value.retryable is False


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"100\r\n" + b"x" * 256 + b"\r\n") * 5,
        b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"p" * 2000 + b"\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 2000,
    ],
    ids=["chunked", "headers", "until-eof"],
)
async def test_an_answer_over_the_limit_is_refused_whatever_its_framing(answer: bytes) -> None:
    async with _serving(_keep_alive(lambda n: answer)) as peer:
        client = _client(peer.url, max_response_bytes=1024)
        try:
            with pytest.raises(ResponseTooLarge):
                await _post(client)
            await asyncio.wait_for(peer.eofs.get(), 2)
        finally:
            await client.close()


# --------------------------------------------------------------------------- what is sent


async def test_each_request_is_one_write_of_head_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    # A split write costs an extra packet and an extra wake-up of the tool server.
    writes: list[bytes] = []
    made = _Connection.connection_made

    def recording(self: _Connection, transport: asyncio.BaseTransport) -> None:
        made(self, transport)
        original = transport.write  # type: ignore[attr-defined]

        def write(data: bytes) -> None:
            writes.append(bytes(data))
            original(data)

        transport.write = write  # type: ignore[attr-defined]

    monkeypatch.setattr(_Connection, "connection_made", recording)
    async with _serving(_keep_alive()) as peer:
        client = ToolServerClient(peer.url + "/base/", 2.0)
        try:
            await client.call_tool("tok", "j", "x", b'{"a":1}')
            await client.revoke("sid-1", "tok2")
        finally:
            await client.close()
    assert len(writes) == 2
    assert [head + body for head, body in peer.requests] == writes
    port = peer.url.rsplit(":", 1)[1]
    head, body = peer.requests[1]
    assert head == (
        f"DELETE /base/sessions/sid-1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
        "content-type: application/json\r\n\r\n"
    ).encode()
    assert orjson.loads(body) == {"token": "tok2"}
    assert peer.requests[0][0].startswith(f"POST /base/rpc HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/rpc", {"authorization": "Bearer t\r\nX-Injected: 1"}),
        ("POST", "/rpc", {"x-a\r\nx-b": "1"}),
        ("POST", "/rpc HTTP/1.1\r\nX-Injected: 1\r\nX:", {}),
        ("POST", "/rpc\n", {}),
        ("POST", "/r\u00e9", {}),
        ("POST", "rpc", {}),
        ("POST", "/rpc", {"Content-Length": "0"}),
        ("POST", "/rpc", {"transfer-encoding": "chunked"}),
        ("POST", "/rpc", {"Content-Length ": "0"}),
        ("POST", "/rpc", {"x-\u00e9": "1"}),
        ("POST", "/rpc", {"x-a": "\u00e9"}),
        ("POST\r\n", "/rpc", {}),
    ],
    ids=["crlf-value", "crlf-name", "crlf-path", "lf-path", "non-ascii-path", "relative", "own-length", "own-te",
         "space-in-name", "non-ascii-name", "non-ascii-value", "method"],
)
async def test_a_request_that_would_split_the_head_is_refused_before_anything_is_sent(
    method: str, path: str, headers: dict[str, str]
) -> None:
    async with _serving(_keep_alive()) as peer:
        client = _client(peer.url)
        try:
            with pytest.raises(ValueError):
                await client.request(method, path, b"{}", headers)
        finally:
            await client.close()
    assert peer.connections == 0


# --------------------------------------------------------------------------- https


@functools.cache
def _pki(names: tuple[str, ...]) -> tuple[str, bytes, bytes]:
    """A throwaway CA (PEM) and a server certificate + key (PEM) for ``names``, made here, offline."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sentinel test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(serialization.Encoding.PEM).decode(), leaf.public_bytes(serialization.Encoding.PEM), key_pem


def _server_tls(names: tuple[str, ...]) -> ssl.SSLContext:
    _, cert, key = _pki(names)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cert.pem").write_bytes(cert)
        (Path(tmp) / "key.pem").write_bytes(key)
        context.load_cert_chain(Path(tmp) / "cert.pem", Path(tmp) / "key.pem")
    return context


async def test_https_verifies_the_certificate_and_keeps_the_connection_alive() -> None:
    names = ("localhost", "127.0.0.1")
    async with _serving(_keep_alive(), tls=_server_tls(names)) as peer:
        client = _client(peer.url, ssl_context=ssl.create_default_context(cadata=_pki(names)[0]))
        try:
            answers = [await _post(client) for _ in range(3)]
        finally:
            await client.close()
        await asyncio.wait_for(peer.eofs.get(), 2)  # close() shut the TLS connection down
    assert [status for status, _ in answers] == [200] * 3 and peer.connections == 1


@pytest.mark.parametrize("trusted", [False, True], ids=["unknown-ca", "wrong-name"])
async def test_https_refuses_a_certificate_it_cannot_verify_before_sending_anything(trusted: bool) -> None:
    names = ("tool-server.example",)  # never 127.0.0.1: the name check must fail when the CA is trusted
    async with _serving(_keep_alive(), tls=_server_tls(names)) as peer:
        context = ssl.create_default_context(cadata=_pki(names)[0]) if trusted else None
        client = _client(peer.url, ssl_context=context)
        try:
            with pytest.raises(ConnectFailed) as caught:
                await _post(client)
        finally:
            await client.close()
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert peer.requests == []


# --------------------------------------------------------------------------- lifecycle


async def test_close_shuts_every_pooled_connection_and_later_calls_fail_cleanly() -> None:
    both_in = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        while await _next_request(reader, peer) is not None:
            if len(peer.requests) == 2:
                both_in.set()
            await both_in.wait()
            writer.write(_json_answer("ok"))
            await writer.drain()

    async with _serving(handler) as peer:
        client = ToolServerClient(peer.url, 2.0)
        await asyncio.gather(*(client.call_tool("t", "j", "x", b"{}") for _ in range(2)))
        await client.close()
        closes = [await asyncio.wait_for(peer.eofs.get(), 2) for _ in range(2)]
        with pytest.raises(ToolServerError) as caught:
            await client.call_tool("t", "j", "x", b"{}")
    assert len(closes) == 2 and peer.connections == 2  # nothing new was opened after close()
    assert caught.value.code == "tool_server_unreachable" and caught.value.retryable is True


async def test_close_fails_a_call_in_flight_as_not_retryable() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: _Peer) -> None:
        await _next_request(reader, peer)
        await reader.read()

    async with _serving(silent) as peer:
        client = ToolServerClient(peer.url, 5.0)
        call = asyncio.ensure_future(client.call_tool("t", "j", "x", b"{}"))
        await asyncio.wait_for(peer.arrivals.get(), 2)
        await client.close()
        with pytest.raises(ToolServerError) as caught:
            await call
    assert caught.value.retryable is False


def test_the_client_is_made_without_a_loop_and_opens_nothing_until_used() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        client = ToolServerClient(f"http://127.0.0.1:{listener.getsockname()[1]}", 1.0)  # no running loop here
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected
    assert client._transport._client.idle_connections == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "url",
    ["ftp://tools:21", "tools:9000", "http://", "http://user:pw@tools:9000", "http://tools:9000/?debug=1",
     "http://tools:99999", "http://tools/a b"],
)
def test_a_bad_tool_server_url_is_refused_at_start_up(url: str) -> None:
    with pytest.raises(SettingsError):
        ToolServerClient(url, 1.0)


# --------------------------------------------------------------------------- the same on uvloop

_ON_UVLOOP = [
    test_sequential_calls_share_one_keep_alive_connection,
    test_concurrent_calls_run_on_separate_connections_and_get_their_own_answers,
    test_connections_are_bounded_and_extra_callers_wait_their_turn,
    test_a_caller_waiting_for_a_connection_times_out_within_its_own_budget,
    test_an_answer_without_length_or_chunking_is_read_to_the_end_of_the_connection,
    test_a_connection_the_server_closed_while_idle_leaves_the_pool_at_once,
    test_an_idle_connection_is_closed_by_the_client_after_the_keepalive,
    test_the_timeout_bounds_the_whole_answer_not_each_read,
    test_an_answer_declared_over_the_limit_is_refused_before_it_is_read,
    functools.partial(test_a_connection_whose_exchange_did_not_finish_is_closed_not_reused, "timeout"),
    functools.partial(test_a_connection_whose_exchange_did_not_finish_is_closed_not_reused, "cancelled"),
    test_https_verifies_the_certificate_and_keeps_the_connection_alive,
    functools.partial(test_an_unreachable_tool_server_is_502_and_safe_to_retry, "https"),
    test_close_shuts_every_pooled_connection_and_later_calls_fail_cleanly,
    test_close_fails_a_call_in_flight_as_not_retryable,
    functools.partial(test_a_connection_that_breaks_after_the_request_was_written_is_not_retryable, _reset),
    functools.partial(test_a_connection_that_breaks_after_the_request_was_written_is_not_retryable, _truncated),
    functools.partial(test_bytes_the_client_did_not_ask_for_never_answer_a_later_request, True),
    functools.partial(test_bytes_the_client_did_not_ask_for_never_answer_a_later_request, False),
]


@pytest.mark.parametrize(
    "scenario", _ON_UVLOOP,
    ids=lambda f: getattr(f, "__name__", None) or f"{f.func.__name__}[{getattr(f.args[0], '__name__', f.args[0])}]",
)
def test_on_uvloop(scenario: Callable[[], Awaitable[None]]) -> None:
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())  # type: ignore[arg-type]
