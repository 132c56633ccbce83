"""Readiness (issue 17.3): ``/healthz`` says the process answers, ``/readyz`` says a call could go through.

The interceptor's ``/readyz`` checks its config store, its state store and the
tool server's ``/readyz``; the tool server's checks its trust store. Each answers
503 naming what is not ready, and logs why once (not once per probe). Run
against the real apps, in-process; tests/e2e/test_readiness_e2e.py runs the
processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from interceptor.testing import StaticConfigStore, StubToolServer, running_interceptor
from mcp_server.testing import McpHarness
from mcp_server.trust import RedisTrustStore
from tests.conftest import free_port
from tests.integration.test_interceptor_api import KEY, demo_projects


class CountingToolServer(StubToolServer):
    """The stub tool server, counting the readiness probes it answers."""

    probes: int = 0

    async def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path == "/readyz":
            self.probes += 1
            await asyncio.sleep(0.05)  # a probe in flight while others arrive
        return await super()._route(method, path, headers, body)


@pytest.fixture
async def tool_server(tmp_path: Path) -> AsyncIterator[McpHarness]:
    async with McpHarness.open(tmp_path) as mcp:
        yield mcp


async def test_the_interceptor_is_ready_when_its_config_state_and_the_real_tool_server_are(
    tool_server: McpHarness, tmp_path: Path
) -> None:
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=tool_server.app), base_url="http://tools") as upstream,
        running_interceptor(StaticConfigStore(demo_projects()), identity=tool_server.identity, upstream=upstream,
                            audit_log=tmp_path / "a.jsonl") as harness,
    ):
        ready = await harness.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {
            "status": "ready", "not_ready": [],
            "checks": {"config_store": "ok", "state_store": "ok", "tool_server": "ok"},
        }
        assert (await harness.client.get("/healthz")).json() == {"status": "ok"}


async def test_a_tool_server_that_is_down_makes_the_interceptor_not_ready_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_interceptor(StaticConfigStore(demo_projects()), audit_log=tmp_path / "a.jsonl") as harness:
        harness.tool_server.down = True
        with caplog.at_level(logging.WARNING, logger="sentinel.interceptor"):
            first = await harness.client.get("/readyz")
            await asyncio.sleep(1.1)  # past the report's cache: the checks run again
            second = await harness.client.get("/readyz")
        for answer in (first, second):
            assert answer.status_code == 503
            assert answer.json()["not_ready"] == ["tool_server"]
            assert answer.json()["checks"]["tool_server"] == "unreachable"
            assert "127.0.0.1" not in answer.text and "localhost" not in answer.text  # no address to the public
        assert (await harness.client.get("/healthz")).status_code == 200  # alive all the same
        logged = [r.getMessage() for r in caplog.records if "not ready" in r.getMessage()]
        assert len(logged) == 1 and "tool_server: unreachable" in logged[0]
        harness.tool_server.down = False
        await asyncio.sleep(1.1)
        with caplog.at_level(logging.WARNING, logger="sentinel.interceptor"):
            assert (await harness.client.get("/readyz")).status_code == 200
        assert any("ready again" in r.getMessage() for r in caplog.records)


async def test_a_missing_config_file_makes_the_interceptor_not_ready_and_its_refusals_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from interceptor.app import create_app
    from interceptor.settings import load_settings
    from interceptor.state.memory import MemoryStateStore
    from sentinel_contract import b64url_encode, generate_keypair

    identity = generate_keypair()
    stub = StubToolServer(identity.public)
    settings = load_settings(identity_key=b64url_encode(identity.seed), config_path=tmp_path / "missing.yaml",
                             audit_log=tmp_path / "a.jsonl")
    async with httpx.AsyncClient(transport=stub.transport()) as upstream:
        app = create_app(settings, state_store=MemoryStateStore(), http_client=upstream)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as client:
                with caplog.at_level(logging.WARNING, logger="sentinel.interceptor"):
                    ready = await client.get("/readyz")
                    starts = [await client.post("/session/start", headers={"X-Sentinel-Key": KEY}) for _ in range(3)]
    assert ready.status_code == 503
    assert ready.json()["not_ready"] == ["config_store"]
    assert ready.json()["checks"]["config_store"] == "config_unavailable"
    assert "missing.yaml" not in ready.text  # the file's name is for the log
    assert all(s.status_code == 503 and s.json()["error"]["code"] == "config_unavailable" for s in starts)
    refusals = [r.getMessage() for r in caplog.records if "config store cannot be read" in r.getMessage()]
    assert len(refusals) == 1 and "missing.yaml" in refusals[0]  # once, not once per request
    assert any("config_store: config_unavailable" in r.getMessage() for r in caplog.records)


async def test_a_tool_server_whose_store_is_down_is_not_ready_and_so_is_the_interceptor(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = RedisTrustStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger="mcp_server"):
        async with McpHarness.open(tmp_path, trust_store=dead) as mcp:
            own = await mcp.client.get("/readyz")
            alive = await mcp.client.get("/healthz")
            upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=mcp.app), base_url="http://tools")
            async with upstream, running_interceptor(
                StaticConfigStore(demo_projects()), identity=mcp.identity, upstream=upstream,
                audit_log=tmp_path / "a.jsonl",
            ) as harness:
                front = await harness.client.get("/readyz")
    await dead.close()
    assert (own.status_code, own.json()["not_ready"], own.json()["checks"]) == (
        503, ["trust_store"], {"trust_store": "unavailable"}
    )
    assert own.json()["service"] == "sentinel-tool-server"
    assert alive.status_code == 200
    assert front.status_code == 503 and front.json()["checks"]["tool_server"] == "not_ready"
    assert any("trust_store: unavailable" in r.getMessage() for r in caplog.records)


async def test_the_tool_server_says_what_it_is_and_the_largest_body_it_takes(tmp_path: Path) -> None:
    async with McpHarness.open(tmp_path, max_body_bytes=4096) as mcp:
        answer = await mcp.client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ready", "service": "sentinel-tool-server", "max_body_bytes": 4096,
        "checks": {"trust_store": "ok"}, "not_ready": [],
    }


async def test_a_tool_server_with_a_smaller_body_limit_makes_the_interceptor_not_ready(tmp_path: Path) -> None:
    from sentinel_contract import generate_keypair

    identity = generate_keypair()
    small = StubToolServer(identity.public, max_body_bytes=1000)
    async with running_interceptor(StaticConfigStore(demo_projects()), identity=identity, tool_server=small,
                                   audit_log=tmp_path / "a.jsonl") as harness:
        answer = await harness.client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["tool_server"] == "body_limit_below_interceptor"


async def test_a_flood_of_readiness_probes_asks_the_tool_server_once(tmp_path: Path) -> None:
    from sentinel_contract import generate_keypair

    identity = generate_keypair()
    counting = CountingToolServer(identity.public)
    async with running_interceptor(StaticConfigStore(demo_projects()), identity=identity, tool_server=counting,
                                   audit_log=tmp_path / "a.jsonl") as harness:
        answers = await asyncio.gather(*(harness.client.get("/readyz") for _ in range(50)))
        again = await harness.client.get("/readyz")  # within the report's cache
    assert {a.status_code for a in answers} == {200} and again.status_code == 200
    assert counting.probes == 1
