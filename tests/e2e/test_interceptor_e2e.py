"""Real processes over HTTP: `sentinel serve mcp` and `sentinel serve interceptor`
(two of them sharing Redis), driven by the SDK-free agent API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sentinel_contract import b64url_encode, generate_keypair
from tests.conftest import REDIS_URL, free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO_KEY = "sk-sentinel-demo"


def _wait_ready(url: str, process: subprocess.Popen[bytes], path: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(url + path, timeout=0.5).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


@pytest.fixture
def services(tmp_path: Path, redis_prefix: str) -> Iterator[tuple[str, str]]:
    identity = generate_keypair()
    mcp_port, a_port, b_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64,
        "SENTINEL_MCP_AUDIT_LOG": str(tmp_path / "mcp-audit.jsonl"),
        "SENTINEL_MCP_DATA_DIR": str(tmp_path / "mcp-data"),
        "SENTINEL_IDENTITY_KEY": b64url_encode(identity.seed),
        "MCP_UPSTREAM_URL": f"http://127.0.0.1:{mcp_port}",
        "SENTINEL_CONFIG": str(ROOT / "examples" / "sentinel.yaml"),
        "SENTINEL_REDIS_URL": REDIS_URL,
        "SENTINEL_REDIS_PREFIX": redis_prefix,
        "SENTINEL_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    cli = [sys.executable, "-m", "sentinel_cli", "serve"]
    plan = [("mcp", mcp_port, "/"), ("interceptor", a_port, "/healthz"), ("interceptor", b_port, "/healthz")]
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for service, port, _ in plan:
            log = tmp_path / f"{service}-{port}.log"
            with log.open("wb") as sink:
                command = [*cli, service, "--port", str(port), "--log-level", "warning"]
                processes.append((subprocess.Popen(command, env=env, cwd=tmp_path, stderr=sink), log))
        for (process, log), (_, port, path) in zip(processes, plan, strict=True):
            _wait_ready(f"http://127.0.0.1:{port}", process, path, log)
        yield f"http://127.0.0.1:{a_port}", f"http://127.0.0.1:{b_port}"
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            process.wait(timeout=10)


@pytest.mark.redis
def test_two_interceptor_processes_serve_one_session_against_the_real_tool_server(services: tuple[str, str]) -> None:
    first, second = services
    headers = {"X-Sentinel-Key": DEMO_KEY}
    with httpx.Client(headers=headers, timeout=10) as client:
        sid = client.post(f"{first}/session/start").json()["session_id"]
        mail = {"tool": "send_email", "arguments": {"to": "bob@example.com", "subject": "s", "body": "b"}}
        assert client.post(f"{second}/session/{sid}/call", json=mail).status_code == 200
        assert client.post(f"{first}/session/{sid}/call", json={"tool": "read_inbox", "arguments": {}}).status_code == 200
        denied = client.post(f"{second}/session/{sid}/call", json=mail)
        assert denied.status_code == 403 and denied.json()["error"]["rule"] == "CHECK_TAINT:send_email"
        assert client.post(f"{second}/session/{sid}/end").json()["revoked"] is True
        assert client.post(f"{first}/session/{sid}/call", json=mail).status_code == 404
        wrong = client.post(f"{first}/session/start", headers={"X-Sentinel-Key": "sk-nope"})
        assert wrong.status_code == 401
