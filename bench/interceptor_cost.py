"""The interceptor's own cost per call, and end-to-end calls per second.

    .venv/bin/python bench/interceptor_cost.py            # about 15 s
    .venv/bin/python bench/interceptor_cost.py --e2e-seconds 0 --calls 5000
    .venv/bin/python bench/interceptor_cost.py --e2e-seconds 0 --calls 5000 --traces

Part 1, in-process: CallEnforcer.call (argument hash, session load, policy,
compare-and-set commit, Ed25519 signing, audit record) with the tool server
stubbed out (answers at once, no HTTP); µs per call, median and p99, with the
memory and the Redis store. Part 2, real processes: `sentinel serve mcp` and
`sentinel serve interceptor` (uvicorn, one worker each), 32 calls in flight
over 32 sessions for a few seconds; calls/s and latency, memory and Redis.
With --traces, part 1 runs with tracing on: spans built and batched as for
OTLP, the exporter dropping them (what an export costs is the collector's).
The machine is shared and noisy: compare paired runs, not single figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interceptor.approvals import Approvals  # noqa: E402
from interceptor.audit import AuditLog  # noqa: E402
from interceptor.breakglass import BreakGlassDesk  # noqa: E402
from interceptor.calls import CallEnforcer  # noqa: E402
from interceptor.config import KeyHolder, Project  # noqa: E402
from interceptor.events import Events  # noqa: E402
from interceptor.forwarding import ToolServerClient  # noqa: E402
from interceptor.limits import RateLimiter  # noqa: E402
from interceptor.projects import ProjectDirectory  # noqa: E402
from interceptor.sessions import SessionIdentity, Sessions  # noqa: E402
from interceptor.signing import KeySealer, SessionKeyRing  # noqa: E402
from interceptor.state import ApprovalBounds, StateStore, open_state_store  # noqa: E402
from interceptor.testing import StaticConfigStore, api_key_hash  # noqa: E402
from sentinel_contract import b64url_encode, generate_keypair  # noqa: E402

REDIS_URL = os.environ.get("SENTINEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ARGUMENTS = {"to": "bob@example.com", "subject": "quarterly numbers", "body": "x" * 900}  # about 1 KB
RESULT = {"content": [{"type": "text", "text": "ok"}], "isError": False}


class InstantToolServer(ToolServerClient):
    """The forwarding hop removed: what is left is the interceptor's own work."""

    def __init__(self) -> None:
        super().__init__("http://unused", 1.0)

    async def register(self, token: str, sid: str) -> None:
        return None

    async def forward_call(
        self, token: str, request_id: str, tool: str, arguments_json: bytes, trace_headers: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], int]:
        return RESULT, 64


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def own_cost(store: StateStore, calls: int, audit_path: Path) -> list[float]:
    import orjson

    tools = [{"name": "send_email"}, {"name": "read_inbox"}]
    policies = {
        "staticRules": {"send_email": "ALLOW", "read_inbox": "ALLOW"},
        "taintRules": [
            {"type": "ADD_TAINT", "tool": "read_inbox", "tag": "untrusted"},
            {"type": "CHECK_TAINT", "tool": "send_email", "forbidden_tags": ["untrusted"]},
        ],
    }
    project = Project("bench", api_key_hash("k"), tools, policies, 1)
    identity = generate_keypair()
    sealer = KeySealer(identity.seed)
    upstream = InstantToolServer()
    audit = AuditLog(audit_path)
    audit.open()
    sessions = Sessions(
        SessionIdentity("i", "m", identity), store, upstream, sealer, SessionKeyRing(sealer),
        ttl_seconds=3600, call_ttl_seconds=30,
    )
    directory = ProjectDirectory(StaticConfigStore([project]))
    events = Events(audit)
    approvals = Approvals(store, sealer, events, ApprovalBounds(20, 1000, 3600))
    enforcer = CallEnforcer(sessions, directory, upstream, audit, approvals, RateLimiter(store),
                            BreakGlassDesk(store, events))
    arguments_json = orjson.dumps(ARGUMENTS)
    caller = KeyHolder(project, None, project.api_key_sha256)
    samples: list[float] = []
    sid = (await sessions.start("bench")).sid
    for index in range(calls + 200):
        if index % 25 == 0:  # a fresh session now and then: history stays typical, not at its bound
            sid = (await sessions.start("bench")).sid
        began = time.perf_counter()
        await enforcer.call(caller, sid, "send_email", ARGUMENTS, arguments_json, began)
        elapsed = time.perf_counter() - began
        if index >= 200:  # warm-up excluded
            samples.append(elapsed * 1e6)
    audit.close()
    await upstream.close()
    return samples


def _delete_prefix(prefix: str) -> None:
    """Remove this run's keys (never FLUSHDB: the server is shared)."""
    from sentinel_redis import delete_prefix

    delete_prefix(REDIS_URL, prefix)


def _start(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(url: str, deadline: float = 20) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def _drive(base: str, seconds: float, in_flight: int) -> tuple[int, list[float], dict[int, int]]:
    headers = {"X-Sentinel-Key": "sk-sentinel-demo"}
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=10) as client:
        sids = [(await client.post("/session/start")).json()["session_id"] for _ in range(in_flight)]
        body = {"tool": "get_current_time", "arguments": {"timezone": "UTC"}}
        stop = time.monotonic() + seconds

        async def worker(sid: str) -> None:
            while time.monotonic() < stop:
                began = time.perf_counter()
                response = await client.post(f"/session/{sid}/call", json=body)
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(worker(sid) for sid in sids))
    return len(latencies), latencies, statuses


def end_to_end(redis: bool, seconds: float, in_flight: int) -> str:
    from sentinel_cli.run import free_port

    identity = generate_keypair()
    mcp_port, port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64,
            "SENTINEL_MCP_AUDIT_LOG": f"{tmp}/mcp-audit.jsonl",
            "SENTINEL_MCP_DATA_DIR": f"{tmp}/data",
            "SENTINEL_IDENTITY_KEY": b64url_encode(identity.seed),
            "MCP_UPSTREAM_URL": f"http://127.0.0.1:{mcp_port}",
            "SENTINEL_CONFIG": str(ROOT / "examples" / "sentinel.yaml"),
            "SENTINEL_AUDIT_LOG": f"{tmp}/audit.jsonl",
        }
        prefix = f"bench:{uuid.uuid4().hex[:8]}:"
        if redis:
            env |= {"SENTINEL_REDIS_URL": REDIS_URL, "SENTINEL_REDIS_PREFIX": prefix}
        cli = [sys.executable, "-m", "sentinel_cli", "serve"]
        quiet = ["--log-level", "warning"]
        processes = [
            _start([*cli, "mcp", "--port", str(mcp_port), *quiet], env, Path(tmp)),
            _start([*cli, "interceptor", "--port", str(port), *quiet], env, Path(tmp)),
        ]
        try:
            _wait(f"http://127.0.0.1:{mcp_port}/")
            _wait(f"http://127.0.0.1:{port}/healthz")
            count, latencies, statuses = asyncio.run(_drive(f"http://127.0.0.1:{port}", seconds, in_flight))
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)
            if redis:
                _delete_prefix(prefix)
    rate = count / seconds
    return (
        f"{'redis' if redis else 'memory':>6}: {rate:7.0f} calls/s with {in_flight} in flight; "
        f"latency p50 {statistics.median(latencies):.2f} ms, p99 {_percentile(latencies, 0.99):.2f} ms; statuses {statuses}"
    )


def _trace_to_nowhere() -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from interceptor import tracing

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracing.start(processor=BatchSpanProcessor(Dropped()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="calls per store for the own-cost part")
    parser.add_argument("--e2e-seconds", type=float, default=3.0, help="seconds per store for the end-to-end part (0: skip)")
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--traces", action="store_true", help="part 1 with tracing on (spans batched, then dropped)")
    args = parser.parse_args()
    if args.traces:
        _trace_to_nowhere()

    print("interceptor's own cost per allowed call (hash + load + policy + CAS commit + sign + audit; no HTTP)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in (("memory", None), ("redis", REDIS_URL)):
            prefix = f"bench:{uuid.uuid4().hex[:8]}:"
            store = open_state_store(url, prefix=prefix)

            async def run(store: StateStore = store) -> list[float]:
                try:
                    return await own_cost(store, args.calls, Path(tmp) / "audit.jsonl")
                finally:
                    await store.close()

            samples = asyncio.run(run())
            if url:
                _delete_prefix(prefix)
            print(
                f"{name:>6}: median {statistics.median(samples):7.1f} µs   p99 {_percentile(samples, 0.99):7.1f} µs"
                f"   ({len(samples)} calls)"
            )

    if args.e2e_seconds > 0:
        print(f"\nend to end: agent -> interceptor -> tool server, real processes, {args.e2e_seconds:.0f} s each")
        for redis in (False, True):
            print(end_to_end(redis, args.e2e_seconds, args.in_flight))


if __name__ == "__main__":
    main()
