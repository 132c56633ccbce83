"""SyncSentinelClient: the blocking wrapper for scripts, on its own loop thread."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from sentinel_sdk import AuthenticationError, PolicyDenied, SyncSentinelClient
from sentinel_sdk.testing import FakeInterceptor

TOOLS = [{"name": "read_file", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}]


@pytest.fixture()
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
