"""The real tool-server process (``python -m mcp_server``) over HTTP, with the Redis store."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port

from sentinel_contract import generate_keypair, sign_call, sign_registration

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path, redis_url, redis_prefix):
    identity = generate_keypair()
    port = free_port()
    env = {
        **os.environ,
        "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64,
        "SENTINEL_REDIS_URL": redis_url,
        "SENTINEL_REDIS_PREFIX": redis_prefix,
        "SENTINEL_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "SENTINEL_MCP_DATA_DIR": str(tmp_path / "data"),
    }
    log = tmp_path / "server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "mcp_server", "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=0.5).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the tool server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base, port, identity, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_signed_call_executes_once_over_http(server):
    base, _, identity, root = server
    session_key = generate_keypair()
    with httpx.Client(base_url=base, timeout=5) as client:
        registration = sign_registration(identity.private, iss="sentinel-interceptor", aud="sentinel-mcp",
                                         sid="s-e2e", public_key=session_key.public_b64, exp=int(time.time()) + 300)
        assert client.post("/sessions", json={"token": registration}).status_code == 201
        arguments = {"to": "friend@example.com", "subject": "Hi", "body": "Hello"}
        token, claims = sign_call(session_key.private, iss="sentinel-interceptor", aud="sentinel-mcp", sid="s-e2e",
                                  tool="send_email", arguments=arguments)
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "send_email", "arguments": arguments}}
        headers = {"authorization": f"Bearer {token}"}
        first = client.post("/rpc", json=body, headers=headers).json()
        replay = client.post("/rpc", json=body, headers=headers).json()
    assert first["result"]["isError"] is False
    assert replay["error"]["data"]["reason"] == "replayed_jti"
    outbox = (root / "data" / "outbox.jsonl").read_text().splitlines()
    assert [json.loads(line)["to"] for line in outbox] == ["friend@example.com"]
    audit = [json.loads(line) for line in (root / "audit.jsonl").read_text().splitlines()]
    assert [(r["event"], r["jti"]) for r in audit[-2:]] == [("executed", claims.jti), ("rejected", claims.jti)]


def test_oversized_body_is_refused_without_waiting_for_it(server):
    _, port, _, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 5000000\r\n\r\n" + b" " * 1024)  # 1 KiB of a declared 5 MB
        started = time.monotonic()
        reply = b""
        while b"payload_too_large" not in reply:  # headers and body may arrive in separate segments
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        elapsed = time.monotonic() - started
    assert b"payload_too_large" in reply and elapsed < 3


def test_chunked_body_past_the_limit_is_refused_over_http(server):
    _, port, _, root = server
    chunk = b" " * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        reply = b""
        try:
            for _ in range(64):  # 4 MiB offered, no Content-Length; the server stops reading past 1 MiB
                sock.sendall(framed)
                if _answered(sock):
                    break
        except OSError:  # the server may close a connection whose body it will not read
            pass
        while b"payload_too_large" not in reply:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert json.loads(body)["error"] == {"code": -32006, "message": "the body exceeds 1048576 bytes",
                                         "data": {"reason": "payload_too_large"}}
    audit = [json.loads(line) for line in (root / "audit.jsonl").read_text().splitlines()]
    assert [(r["event"], r["reason"]) for r in audit] == [("rejected", "payload_too_large")]


def _answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])
