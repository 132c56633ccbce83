"""Slow, silent and too many connections: what both services' server (sentinel_http.serve_app) bounds.

Attack: open many connections and send nothing, or drip a request's head a few
bytes at a time (slowloris), so that sockets and file descriptors run out and
honest clients are refused. Defence: every request must arrive whole within
``read_timeout`` of its connection or its first byte, and connections over
``max_connections`` are closed on accept. The server runs as a real process over
TCP, as both services do.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from tests.conftest import free_port

READ_TIMEOUT = 1.0
MAX_CONNECTIONS = 40

SERVER = textwrap.dedent(
    """
    import sys
    from sentinel_http import ServerLimits, serve_app

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    limits = ServerLimits(read_timeout=float(sys.argv[2]), max_connections=int(sys.argv[3]))
    serve_app(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", limits=limits)
    """
)


@pytest.fixture
def server() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(READ_TIMEOUT), str(MAX_CONNECTIONS)])
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the server did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def honest_request(port: int) -> tuple[bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer, time.monotonic() - started


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture
def sockets() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def connect(stack: contextlib.ExitStack, port: int) -> socket.socket:
    return stack.enter_context(socket.create_connection(("127.0.0.1", port)))


def test_silent_and_slow_connections_are_closed_and_honest_calls_still_pass(
    server: int, sockets: contextlib.ExitStack
) -> None:
    silent = [connect(sockets, server) for _ in range(10)]
    slow = [connect(sockets, server) for _ in range(10)]
    for sock in slow:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    answer, took = honest_request(server)
    assert answer.startswith(b"HTTP/1.1 200") and took < READ_TIMEOUT
    # Keep dripping header bytes: a slowloris client never finishes its head.
    while time.monotonic() - started < READ_TIMEOUT * 0.8:
        for sock in slow:
            sock.sendall(b"X-Drip: 1\r\n")
        time.sleep(0.1)
    assert all(closed_by_server(sock, within=READ_TIMEOUT + 1) for sock in silent + slow)
    assert time.monotonic() - started < READ_TIMEOUT * 3


def test_a_body_that_never_finishes_is_cut_off(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        assert closed_by_server(sock, within=READ_TIMEOUT + 1)


def test_connections_over_the_cap_are_closed_on_accept(server: int) -> None:
    with contextlib.ExitStack() as stack:
        for _ in range(MAX_CONNECTIONS):
            connect(stack, server)
        time.sleep(0.2)  # accepted, counted
        extra = [connect(stack, server) for _ in range(5)]
        assert all(closed_by_server(sock, within=0.5) for sock in extra)
    time.sleep(0.2)
    answer, _ = honest_request(server)
    assert answer.startswith(b"HTTP/1.1 200")


def test_a_kept_alive_connection_cannot_drip_its_next_request(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET / HTTP/1.1\r\n")  # the next request starts, and never ends
        started = time.monotonic()
        deadline = started + READ_TIMEOUT * 0.8
        while time.monotonic() < deadline:
            sock.sendall(b"X-Drip: 1\r\n")
            time.sleep(0.1)
        assert closed_by_server(sock, within=READ_TIMEOUT + 1)
