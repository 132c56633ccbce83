"""SyncSentinelClient: the blocking wrapper for scripts, on its own loop thread."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest

from sentinel_sdk import AuthenticationError, PolicyDenied, RetryPolicy, SentinelError, SyncSentinelClient
from sentinel_sdk.testing import FakeInterceptor

TOOLS = [{"name": "read_file", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}]


@pytest.fixture
def fake() -> FakeInterceptor:
    fake = FakeInterceptor(tools=[dict(t) for t in TOOLS], api_key="k")
    fake.on("read_file", lambda args: f"contents of {args['path']}")
    return fake


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sentinel-sdk-loop"]


def test_context_manager_starts_calls_and_ends(fake: FakeInterceptor) -> None:
    with SyncSentinelClient(api_key="k", base_url="http://s.test", transport=fake.transport) as client:
        assert client.session_id == fake.started[0]
        assert [t.name for t in client.list_tools()] == ["read_file"]
        assert client.call_tool("read_file", {"path": "/tmp/a"}) == "contents of /tmp/a"
        assert client.call_tool_result("read_file", {"path": "b"}).rule == "allow-all"
    assert fake.ended == fake.started
    assert loop_threads() == []


def test_denials_raise_the_same_typed_errors(fake: FakeInterceptor) -> None:
    fake.deny("read_file", rule="no-secrets", reason="path is sensitive")
    with SyncSentinelClient(api_key="k", base_url="http://s.test", transport=fake.transport) as client:
        with pytest.raises(PolicyDenied) as info:
            client.call_tool("read_file", {"path": "/etc/shadow"})
    assert info.value.rule == "no-secrets"


def test_a_failed_start_leaves_no_thread_behind(fake: FakeInterceptor) -> None:
    with pytest.raises(AuthenticationError):
        with SyncSentinelClient(api_key="wrong", base_url="http://s.test", transport=fake.transport):
            pass
    assert loop_threads() == []


def test_langchain_tools_work_synchronously_and_from_another_event_loop(fake: FakeInterceptor) -> None:
    fake.deny("read_file", rule="r", reason="why")  # then lift it for the second call
    with SyncSentinelClient(api_key="k", base_url="http://s.test", transport=fake.transport) as client:
        (tool,) = client.get_langchain_tools()
        assert tool.invoke({"path": "x"}) == "Sentinel blocked this call (rule r): why"
        fake._verdicts.clear()
        assert asyncio.run(tool.ainvoke({"path": "y"})) == "contents of y"
    assert [c.arguments for c in fake.calls] == [{"path": "x"}, {"path": "y"}]


def test_usable_inside_a_running_event_loop(fake: FakeInterceptor) -> None:
    async def main() -> str:
        with SyncSentinelClient(api_key="k", base_url="http://s.test", transport=fake.transport) as client:
            return str(client.call_tool("read_file", {"path": "z"}))

    assert asyncio.run(main()) == "contents of z"


def test_close_is_idempotent(fake: FakeInterceptor) -> None:
    client = SyncSentinelClient(api_key="k", base_url="http://s.test", transport=fake.transport)
    client.start()
    client.close()
    client.close()
    assert len(fake.ended) == 1
    assert json.loads(fake.requests[-1].content or b"{}") == {}


def _call_in_thread(client: SyncSentinelClient, tool: str) -> tuple[threading.Thread, dict[str, object]]:
    outcome: dict[str, object] = {}

    def worker() -> None:
        try:
            outcome["value"] = client.call_tool(tool, {"path": "p"})
        except SentinelError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    return thread, outcome


def test_close_during_another_threads_retry_wait_unblocks_it(fake: FakeInterceptor) -> None:
    retrying = threading.Event()

    def always_busy(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/call"):
            retrying.set()
            body = {"error": {"code": "unavailable", "message": "state store down", "retryable": True}}
            return httpx.Response(503, json=body, headers={"Retry-After": "20"})
        return fake.handle(request)

    retry = RetryPolicy(max_attempts=3)
    client = SyncSentinelClient(api_key="k", base_url="http://s.test", transport=httpx.MockTransport(always_busy), retry=retry)
    client.start()
    thread, outcome = _call_in_thread(client, "read_file")
    assert retrying.wait(5)
    time.sleep(0.05)  # now asleep for the Retry-After
    client.close()
    thread.join(5)
    assert not thread.is_alive(), "the caller is still blocked after close()"
    error = outcome["error"]
    assert isinstance(error, SentinelError) and error.code == "client_closed"
    assert fake.ended == fake.started and loop_threads() == []


def test_close_during_another_threads_call_unblocks_it(fake: FakeInterceptor) -> None:
    arrived = threading.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/call"):
            arrived.set()
            await asyncio.sleep(30)  # a tool server that takes its time
        return fake.handle(request)

    client = SyncSentinelClient(api_key="k", base_url="http://s.test", transport=httpx.MockTransport(slow))
    client.start()
    thread, outcome = _call_in_thread(client, "read_file")
    assert arrived.wait(5)
    client.close()
    thread.join(5)
    assert not thread.is_alive()
    error = outcome["error"]
    assert isinstance(error, SentinelError) and error.code == "client_closed" and "may have run" in str(error)


def test_a_closed_or_failed_client_says_so_instead_of_raw_errors(fake: FakeInterceptor) -> None:
    with SyncSentinelClient(api_key="k", base_url="http://s.test", transport=fake.transport) as client:
        (tool,) = client.get_langchain_tools()
    for attempt in (lambda: client.call_tool("read_file", {"path": "x"}), client.start,
                    lambda: tool.invoke({"path": "x"}), lambda: asyncio.run(tool.ainvoke({"path": "x"}))):
        with pytest.raises(SentinelError) as info:
            attempt()
        assert info.value.code == "client_closed"
    failed = SyncSentinelClient(api_key="wrong", base_url="http://s.test", transport=fake.transport)
    with pytest.raises(AuthenticationError):
        failed.start()
    with pytest.raises(SentinelError) as info:
        failed.start()
    assert info.value.code == "client_closed" and loop_threads() == []
