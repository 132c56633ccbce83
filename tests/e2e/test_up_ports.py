"""`sentinel up` starts its own services or fails: a port another program holds is never taken for ours (issue 17)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel_cli.run import StackError, free_port, listens_on, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "sentinel.yaml"


class _Healthy(http.server.BaseHTTPRequestHandler):
    """Another stack: answers every GET, /healthz included, 200 {"status": "ok"}."""

    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_stack() -> Iterator[int]:
    """A port held by a server that is not ours and answers /healthz 200."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _up(tmp_path: Path, port: int, mcp_port: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "SUPABASE_"))}
    try:
        return subprocess.run(
            [sys.executable, "-m", "sentinel_cli", "up", "--port", str(port), "--mcp-port", str(mcp_port),
             "--config", str(CONFIG), "--var-dir", str(tmp_path)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=45,
        )
    except subprocess.TimeoutExpired as exc:  # it claimed the port and kept running
        pytest.fail(f"`sentinel up` did not fail on a port in use; it printed:\n{exc.stdout!r}\n{exc.stderr!r}")


def test_up_fails_when_the_interceptor_port_is_held_by_another_server_that_answers_healthz(
    tmp_path: Path, other_stack: int
) -> None:
    started = time.monotonic()
    proc = _up(tmp_path, port=other_stack, mcp_port=free_port())
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Sentinel is up" not in proc.stdout
    assert f"interceptor cannot listen on 127.0.0.1:{other_stack}" in proc.stderr
    assert "another process already listens there" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - started < 20


def test_up_fails_when_the_tool_server_port_is_held_by_another_server_that_answers_healthz(
    tmp_path: Path, other_stack: int
) -> None:
    port = free_port()
    proc = _up(tmp_path, port=port, mcp_port=other_stack)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Sentinel is up" not in proc.stdout
    assert f"tool server cannot listen on 127.0.0.1:{other_stack}" in proc.stderr
    import httpx

    with pytest.raises(httpx.ConnectError):  # nothing of ours was left running
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


@pytest.mark.skipif(listens_on(os.getpid(), 1) is None, reason="needs /proc to tell which process holds a port")
def test_the_launcher_does_not_take_another_process_health_answer_for_its_own(other_stack: int) -> None:
    # The race the up-front port check cannot close: the port is taken after the check. The
    # answer comes from another process, so the service we started is not the one answering.
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(StackError, match="another process answers on that port, not the one started"):
            wait_healthy(f"http://127.0.0.1:{other_stack}", ours, timeout=2, name="interceptor")
    finally:
        ours.kill()
        ours.wait()


def test_the_port_check_knows_a_listener_from_a_free_port(other_stack: int) -> None:
    from sentinel_cli.run import port_in_use

    assert port_in_use("127.0.0.1", other_stack)
    assert not port_in_use("127.0.0.1", free_port())
