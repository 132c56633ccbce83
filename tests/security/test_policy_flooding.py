"""Policy flooding (issue 16.6): large arguments that make every tenant wait.

Attack: policy work grows with the size of a call's arguments (a data-flow rule
reads every string in them: about a second for 1 MB), it ran on the event loop
that serves every tenant, and each lost compare-and-set ran it again. A handful
of concurrent large calls in one session stalled other tenants for seconds.
Defence: arguments over ``SENTINEL_MAX_ARGUMENT_BYTES`` (64 KiB by default) are
refused with 413 before any policy work; the policy work of a large call runs in
one worker thread, off the event loop; large calls of one session take turns,
each decided on the facts the previous one committed, and are decided at most a
few times. bench/tenant_isolation.py measures the same over longer runs.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

import interceptor.calls
from interceptor.config import Project
from interceptor.state.redis import RedisStateStore
from interceptor.testing import Harness, StaticConfigStore, api_key_hash, running_interceptor
from sentinel_contract import b64url_encode, generate_keypair
from tests.conftest import REDIS_URL, free_port

KEY, VICTIM_KEY = "sk-flood-0123456789", "sk-victim-0123456789"
TOOLS = [
    {"name": "get_current_time", "description": "time", "input_schema": {"type": "object"}, "class": "SAFE_READ"},
    {"name": "read_inbox", "description": "mail", "input_schema": {"type": "object"}, "class": "UNTRUSTED_READ"},
    {"name": "send_email", "description": "send", "input_schema": {"type": "object"}, "class": "CONSEQUENTIAL_WRITE"},
]
POLICIES = {"rules": [
    {"name": "reads", "effect": "allow", "when": {"class": ["SAFE_READ", "UNTRUSTED_READ"]}},
    {"name": "no-exfil", "effect": "deny", "when": {"class": "CONSEQUENTIAL_WRITE", "flows_from_untrusted": True}},
    {"name": "writes", "effect": "allow", "when": {"class": "CONSEQUENTIAL_WRITE"}},
]}
WORDS = "the quarterly figures look fine see the attached notes for details "


def mail(size: int) -> dict[str, str]:
    return {"to": "team@corp.example", "subject": "s", "body": (WORDS * (size // len(WORDS) + 1))[:size]}


def projects() -> list[Project]:
    return [
        Project(name="flooder", api_key_sha256=api_key_hash(KEY), tools=TOOLS, policies=POLICIES, policy_version=1),
        Project(name="victim", api_key_sha256=api_key_hash(VICTIM_KEY), tools=TOOLS, policies=POLICIES,
                policy_version=1),
    ]


class Evaluations:
    """Counts the policy evaluations of the interceptor's call path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = interceptor.calls.evaluate

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(interceptor.calls, "evaluate", counting)


@pytest.fixture
async def redis_harness(tmp_path: Path, redis_prefix: str) -> AsyncIterator[Harness]:
    state = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    async with running_interceptor(StaticConfigStore(projects()), state_store=state,
                                   audit_log=tmp_path / "audit.jsonl") as harness:
        yield harness
    await state.close()


async def test_arguments_over_the_limit_are_refused_before_any_policy_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluations = Evaluations(monkeypatch)
    async with running_interceptor(StaticConfigStore(projects()), audit_log=tmp_path / "audit.jsonl") as harness:
        sid = await harness.start(KEY)
        response = await harness.call(KEY, sid, "send_email", mail(100_000))
        assert response.status_code == 413 and response.json()["error"]["code"] == "arguments_too_large"
        assert evaluations.count == 0
        assert not (tmp_path / "audit.jsonl").exists() or (tmp_path / "audit.jsonl").read_text() == ""
        assert harness.tool_server.executed == []
        fits = await harness.call(KEY, sid, "send_email", mail(60_000))  # under 64 KiB: decided and run
        assert fits.status_code == 200 and evaluations.count == 1


@pytest.mark.redis
async def test_concurrent_large_calls_of_one_session_do_not_redo_each_others_policy_work(
    redis_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = redis_harness
    sid = await harness.start(KEY)
    assert (await harness.call(KEY, sid, "read_inbox")).status_code == 200
    evaluations = Evaluations(monkeypatch)
    calls = 12
    answers = await asyncio.gather(*(harness.call(KEY, sid, "send_email", mail(30_000)) for _ in range(calls)))
    assert [a.status_code for a in answers] == [200] * calls
    # Each lost compare-and-set used to cost another whole evaluation: about calls**2 / 2 in all.
    assert evaluations.count <= calls + 2


# -- the real interceptor: another tenant's calls during the flood ------------------------


@pytest.fixture
def services(tmp_path: Path, redis_prefix: str) -> Iterator[int]:
    identity = generate_keypair()
    config = tmp_path / "tenants.yaml"
    config.write_text(orjson.dumps({"projects": [
        {"name": p.name, "api_key_sha256": p.api_key_sha256, "tools": TOOLS, "policies": POLICIES} for p in projects()
    ]}).decode())  # JSON is YAML
    mcp_port, port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")},
        "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64,
        "SENTINEL_IDENTITY_KEY": b64url_encode(identity.seed),
        "SENTINEL_CONFIG": str(config),
        "SENTINEL_MCP_AUDIT_LOG": str(tmp_path / "mcp-audit.jsonl"),
        "SENTINEL_MCP_DATA_DIR": str(tmp_path / "mcp-data"),
        "SENTINEL_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "MCP_UPSTREAM_URL": f"http://127.0.0.1:{mcp_port}",
    }
    cli = [sys.executable, "-m", "sentinel_cli", "serve"]
    processes = [
        subprocess.Popen([*cli, "mcp", "--port", str(mcp_port), "--log-level", "warning"], env=env, cwd=tmp_path),
        # Arguments up to 1 MB let in on purpose: what the worker thread keeps off the loop, not what the limit refuses.
        subprocess.Popen([*cli, "interceptor", "--port", str(port), "--log-level", "warning"], cwd=tmp_path,
                         env={**env, "SENTINEL_REDIS_URL": REDIS_URL, "SENTINEL_REDIS_PREFIX": redis_prefix,
                              "SENTINEL_MAX_ARGUMENT_BYTES": "1000000"}),
    ]
    try:
        for p in (mcp_port, port):
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=0.5)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        pytest.fail("a service did not start")
                    time.sleep(0.1)
        yield port
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def _raw(port: int, sid: str, key: str, call: dict[str, Any]) -> bytes:
    body = orjson.dumps(call)
    head = (f"POST /session/{sid}/call HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Sentinel-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    await reader.readexactly(int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0]))
    return int(head.split(b" ", 2)[1])


@pytest.mark.redis
def test_a_flood_of_large_calls_in_one_session_does_not_stall_another_tenants_calls(services: int) -> None:
    port = services
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        sids = {}
        for key in (KEY, VICTIM_KEY):
            sids[key] = client.post("/session/start", headers={"X-Sentinel-Key": key}).json()["session_id"]
            read = client.post(f"/session/{sids[key]}/call", headers={"X-Sentinel-Key": key},
                               json={"tool": "read_inbox", "arguments": {}})
            assert read.status_code == 200  # untrusted output: the data-flow rule reads every argument now
    flood = _raw(port, sids[KEY], KEY, {"tool": "send_email", "arguments": mail(900_000)})
    probe = _raw(port, sids[VICTIM_KEY], VICTIM_KEY, {"tool": "get_current_time", "arguments": {}})
    latencies: list[float] = []

    async def run() -> None:
        stop = time.monotonic() + 3.5

        async def flooder() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while time.monotonic() < stop:
                await _exchange(reader, writer, flood)
            writer.close()

        async def victim() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.sleep(0.5)  # the flood is under way
            while time.monotonic() < stop:
                started = time.perf_counter()
                assert await _exchange(reader, writer, probe) == 200
                latencies.append(time.perf_counter() - started)
            writer.close()

        await asyncio.gather(victim(), *(flooder() for _ in range(8)))

    asyncio.run(run())
    latencies.sort()
    p90 = latencies[int(len(latencies) * 0.9)]
    # Before: each 900 kB evaluation held the loop, and lost compare-and-sets redid them.
    assert len(latencies) >= 30 and p90 < 0.15, (len(latencies), statistics.median(latencies), p90)
