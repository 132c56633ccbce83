"""Slow, silent and too many connections: what both services' server (sentinel_http.serve_app) bounds.

Attack: open many connections and send nothing, or drip a request's head a few
bytes at a time (slowloris), so that sockets and file descriptors run out and
honest clients are refused. Defence: every request must arrive whole within
``read_timeout`` of its connection or its first byte, and connections over
``max_connections`` are closed on accept. The server runs as a real process over
TCP, as both services do: first a toy app under ``serve_app``, then the real
interceptor (`sentinel serve interceptor`) with its limits set by
``SENTINEL_READ_TIMEOUT_SECONDS`` and ``SENTINEL_MAX_CONNECTIONS``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sentinel_contract import generate_keypair
from tests.conftest import free_port, stack_environment

ROOT = Path(__file__).resolve().parents[2]
DEMO_KEY = "sk-sentinel-demo"

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


def test_a_later_request_on_a_kept_alive_connection_is_timed_from_its_own_first_byte(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(READ_TIMEOUT * 0.6)
        sock.sendall(b"GET / HTTP/1.1\r\n")  # its deadline is 0.6 + 1.0, past the connection's first one
        time.sleep(READ_TIMEOUT * 0.6)
        sock.sendall(b"Host: x\r\n\r\n")
        sock.settimeout(2)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


# -- the real services, their limits set from the environment ------------------------------


@pytest.fixture
def real_interceptor(tmp_path: Path) -> Iterator[int]:
    """`sentinel serve mcp` and `sentinel serve interceptor`, the interceptor's limits from SENTINEL_* variables."""
    mcp_port, port = free_port(), free_port()
    env = {**stack_environment(tmp_path), "MCP_UPSTREAM_URL": f"http://127.0.0.1:{mcp_port}"}
    limits = {"SENTINEL_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT), "SENTINEL_MAX_CONNECTIONS": str(MAX_CONNECTIONS)}
    cli = [sys.executable, "-m", "sentinel_cli", "serve"]
    processes = [
        subprocess.Popen([*cli, "mcp", "--port", str(mcp_port), "--log-level", "warning"], env=env, cwd=tmp_path),
        subprocess.Popen([*cli, "interceptor", "--port", str(port), "--log-level", "warning"], env={**env, **limits},
                         cwd=tmp_path),
    ]
    try:
        for p in (mcp_port, port):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=0.5).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                pytest.fail("a service did not start")
        yield port
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def test_slow_clients_of_the_real_interceptor_are_cut_off_and_do_not_stop_another_clients_calls(
    real_interceptor: int, sockets: contextlib.ExitStack
) -> None:
    port = real_interceptor
    silent = [connect(sockets, port) for _ in range(10)]
    slow = [connect(sockets, port) for _ in range(10)]
    for sock in slow:
        sock.sendall(b"POST /session/start HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Sentinel-Key": DEMO_KEY}, timeout=5) as agent:
        sid = agent.post("/session/start").json()["session_id"]
        while time.monotonic() - started < READ_TIMEOUT * 0.8:  # the slow ones drip; the agent's calls go through
            for sock in slow:
                sock.sendall(b"X-Drip: 1\r\n")
            t0 = time.monotonic()
            call = agent.post(f"/session/{sid}/call", json={"tool": "get_current_time", "arguments": {}})
            assert call.status_code == 200 and time.monotonic() - t0 < READ_TIMEOUT / 2
            time.sleep(0.1)
    # SENTINEL_READ_TIMEOUT_SECONDS reached the server: the slow and the silent are closed within it.
    assert all(closed_by_server(sock, within=READ_TIMEOUT + 1) for sock in silent + slow)
    assert time.monotonic() - started < READ_TIMEOUT * 3


def test_connections_over_the_real_interceptors_cap_are_closed_on_accept(real_interceptor: int) -> None:
    with contextlib.ExitStack() as stack:
        for _ in range(MAX_CONNECTIONS):
            connect(stack, real_interceptor)
        time.sleep(0.2)
        extra = [connect(stack, real_interceptor) for _ in range(5)]
        assert all(closed_by_server(sock, within=0.5) for sock in extra)  # SENTINEL_MAX_CONNECTIONS


def test_the_real_tool_server_applies_its_limits_from_the_environment(tmp_path: Path) -> None:
    # `python -m mcp_server`, the image's other entry point: the same variables bound it.
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")},
        "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": generate_keypair().public_b64,
        "SENTINEL_MCP_AUDIT_LOG": str(tmp_path / "mcp-audit.jsonl"),
        "SENTINEL_MCP_DATA_DIR": str(tmp_path / "mcp-data"),
        "SENTINEL_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "SENTINEL_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    proc = subprocess.Popen([sys.executable, "-m", "mcp_server", "--port", str(port)], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.3)  # the probe's connection is gone
        with contextlib.ExitStack() as stack:
            held = [connect(stack, port) for _ in range(MAX_CONNECTIONS)]
            time.sleep(0.2)
            extra = [connect(stack, port) for _ in range(5)]
            assert all(closed_by_server(sock, within=0.5) for sock in extra)
            assert all(closed_by_server(sock, within=READ_TIMEOUT + 1) for sock in held)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
