"""Readiness over real processes (`sentinel serve mcp`, `sentinel serve interceptor`), as the
docker-compose and Dockerfile healthchecks probe it: ``/readyz`` is 200 only while a call
could go through, 503 naming what is not, with the reason in the service's log."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import free_port, stack_environment

ROOT = Path(__file__).resolve().parents[2]


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}: {log.read_text()}")
        try:
            httpx.get(url + "/healthz", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def _until(url: str, status: int, seconds: float = 10) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        answer = httpx.get(url, timeout=5)
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[object]:
    base = stack_environment(tmp_path)
    processes: list[subprocess.Popen[bytes]] = []

    def start(service: str, **env: str) -> tuple[str, subprocess.Popen[bytes], Path]:
        port = free_port()
        log = tmp_path / f"{service}-{port}.log"
        with log.open("wb") as sink:
            command = [sys.executable, "-m", "sentinel_cli", "serve", service, "--port", str(port), "--log-level", "warning"]
            process = subprocess.Popen(command, env={**base, **env}, cwd=tmp_path, stderr=sink, stdout=sink)
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        _wait(url, process, log)
        return url, process, log

    try:
        yield start
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def test_readiness_follows_the_tool_server_and_the_log_says_why(launch) -> None:  # type: ignore[no-untyped-def]
    mcp_url, mcp, _ = launch("mcp")
    front, _, log = launch("interceptor", MCP_UPSTREAM_URL=mcp_url)
    assert _until(f"{mcp_url}/readyz", 200).json()["checks"] == {"trust_store": "ok"}
    assert _until(f"{front}/readyz", 200).json()["status"] == "ready"
    mcp.terminate()
    mcp.wait(timeout=10)
    answer = _until(f"{front}/readyz", 503)
    assert answer.status_code == 503 and answer.json()["not_ready"] == ["tool_server"]
    assert httpx.get(f"{front}/healthz", timeout=5).status_code == 200  # alive, not ready
    started = httpx.post(f"{front}/session/start", headers={"X-Sentinel-Key": "sk-sentinel-demo"}, timeout=5)
    assert started.status_code == 502
    assert "tool_server: unreachable" in log.read_text()


def test_a_missing_config_is_not_ready_and_logged_not_silent(launch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mcp_url, _, _ = launch("mcp")
    config = tmp_path / "gone.yaml"
    config.write_text((ROOT / "examples" / "sentinel.yaml").read_text())
    front, _, log = launch("interceptor", MCP_UPSTREAM_URL=mcp_url, SENTINEL_CONFIG=str(config),
                           SENTINEL_CONFIG_CACHE_TTL_SECONDS="0", SENTINEL_CONFIG_STALE_SECONDS="0")
    assert _until(f"{front}/readyz", 200).status_code == 200
    config.unlink()  # removed under a running interceptor (a volume not mounted after a restart, a bad deploy)
    answer = _until(f"{front}/readyz", 503)
    assert answer.json()["checks"]["config_store"] == "config_unavailable"
    for _ in range(3):
        refused = httpx.post(f"{front}/session/start", headers={"X-Sentinel-Key": "sk-sentinel-demo"}, timeout=5)
        assert refused.status_code == 503
    text = log.read_text()
    assert "gone.yaml" in text and text.count("config store cannot be read") == 1


def test_a_url_that_answers_404_is_named_misconfigured(launch) -> None:  # type: ignore[no-untyped-def]
    mcp_url, _, _ = launch("mcp")
    front, _, log = launch("interceptor", MCP_UPSTREAM_URL=f"{mcp_url}/api")  # a path the tool server answers 404 on
    answer = _until(f"{front}/readyz", 503)
    assert answer.json()["checks"]["tool_server"] == "misconfigured"
    started = httpx.post(f"{front}/session/start", headers={"X-Sentinel-Key": "sk-sentinel-demo"}, timeout=5)
    assert started.status_code == 502
    assert (started.json()["error"]["code"], started.json()["error"]["retryable"]) == ("tool_server_misconfigured", False)
    assert "MCP_UPSTREAM_URL does not answer like a Sentinel tool server" in log.read_text()


def test_compose_and_the_image_probe_readiness() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in ("interceptor", "mcp"):
        probe = " ".join(compose["services"][service]["healthcheck"]["test"])
        assert "/readyz" in probe and "/healthz" not in probe
    healthcheck = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if "urlopen" in line)
    assert "/readyz" in healthcheck
