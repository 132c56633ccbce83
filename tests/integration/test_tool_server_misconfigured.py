"""MCP_UPSTREAM_URL pointing at something that is not a Sentinel tool server (issue 17.5).

A URL that answers 404 (a wrong path, another service) made every session
start fail with ``registration_refused``, ``retryable: true``, and the SDK tried
four times. It is a misconfiguration: 502 ``tool_server_misconfigured``, saying
so, never retryable, and logged for the operator once, not per request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from interceptor.testing import Harness, StaticConfigStore, running_interceptor
from mcp_server.testing import McpHarness
from mcp_server.trust import RedisTrustStore
from sentinel_sdk import RetryPolicy, SentinelClient, SentinelUnavailable
from tests.conftest import free_port
from tests.integration.test_interceptor_api import KEY, demo_projects

MESSAGE = "MCP_UPSTREAM_URL does not answer like a Sentinel tool server"


class NotAToolServer:
    """Whatever else may listen at the URL: answers every request with ``answer``, counting them."""

    def __init__(self, answer: Callable[[], Response]) -> None:
        self.answer = answer
        self.requests: list[str] = []

    async def __call__(self, scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)  # type: ignore[arg-type]
        self.requests.append(f"{request.method} {request.url.path}")
        await self.answer()(scope, receive, send)  # type: ignore[arg-type]


ANSWERS = {
    "404": lambda: PlainTextResponse("Not Found", status_code=404),
    "html-200": lambda: PlainTextResponse("<html>welcome</html>", status_code=200),
    "json-200": lambda: JSONResponse({"ok": True}),
    "405": lambda: JSONResponse({"detail": "Method Not Allowed"}, status_code=405),
}


@pytest.fixture(params=sorted(ANSWERS))
async def misrouted(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Harness, NotAToolServer]]:
    other = NotAToolServer(ANSWERS[request.param])
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://tools") as upstream,
        running_interceptor(StaticConfigStore(demo_projects()), upstream=upstream, audit_log=tmp_path / "a.jsonl") as h,
    ):
        yield h, other


async def test_a_tool_server_url_that_answers_like_no_tool_server_fails_session_start_as_misconfigured(
    misrouted: tuple[Harness, NotAToolServer], caplog: pytest.LogCaptureFixture
) -> None:
    harness, other = misrouted
    with caplog.at_level(logging.ERROR, logger="sentinel.interceptor"):
        first = await harness.client.post("/session/start", headers={"X-Sentinel-Key": KEY})
        second = await harness.client.post("/session/start", headers={"X-Sentinel-Key": KEY})
    for response in (first, second):
        assert response.status_code == 502
        error = response.json()["error"]
        assert (error["code"], error["message"], error["retryable"]) == ("tool_server_misconfigured", MESSAGE, False)
    logged = [r for r in caplog.records if MESSAGE in r.getMessage()]
    assert len(logged) == 1, "said once to the operator, not once per request"
    assert "POST /sessions" in logged[0].getMessage()
    assert other.requests == ["POST /sessions", "POST /sessions"]


async def test_the_sdk_does_not_retry_a_misconfigured_tool_server(misrouted: tuple[Harness, NotAToolServer]) -> None:
    harness, other = misrouted
    client = SentinelClient(KEY, "http://interceptor", transport=httpx.ASGITransport(app=harness.app),
                            retry=RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.001))
    with pytest.raises(SentinelUnavailable) as raised:
        await client.start()
    assert (raised.value.code, raised.value.retryable) == ("tool_server_misconfigured", False)
    assert other.requests == ["POST /sessions"]  # one attempt, not four


async def test_a_tool_server_whose_trust_store_is_down_refuses_registration_retryably(tmp_path: Path) -> None:
    # A real Sentinel tool server that is up but cannot store the session: an outage, worth a retry.
    dead = RedisTrustStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    async with McpHarness.open(tmp_path, trust_store=dead) as mcp:
        upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=mcp.app), base_url="http://tools")
        async with upstream, running_interceptor(
            StaticConfigStore(demo_projects()), identity=mcp.identity, upstream=upstream, audit_log=tmp_path / "a.jsonl"
        ) as harness:
            response = await harness.client.post("/session/start", headers={"X-Sentinel-Key": KEY})
    await dead.close()
    assert response.status_code == 502
    assert (response.json()["error"]["code"], response.json()["error"]["retryable"]) == ("registration_refused", True)
