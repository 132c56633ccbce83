"""What Sentinel adds to a tool call, measured end to end over real processes (``make bench``).

    .venv/bin/python bench/overhead.py                  # one round, about 40 s
    .venv/bin/python bench/overhead.py --repeat 5       # medians over 5 interleaved rounds
    .venv/bin/python bench/overhead.py --seconds 1      # quicker, noisier

Processes (uvicorn, one worker each, started as ``sentinel serve``): a tool server
with verification off; a plain pass-through proxy in front of it, built like the
interceptor (same server stack, same forwarding client, no governance); and for
each state backend (memory, Redis) a tool server with verification on behind an
interceptor (a taint rule on the called tool, Redis state, signing, verification,
the replay check). The load generator runs here, in its own process: raw
keep-alive HTTP/1.1 over asyncio sockets, requests pre-built, so it costs little
of the two cores. Every phase is bounded in time and in count; loopback only.

Targets, at 1 connection and at 32 concurrent ones (32 sessions):
    direct    POST /rpc to the tool server, verification off        (a)
    proxy     the same through the pass-through proxy               (hop cost)
    memory    through Sentinel, in-process state
    redis     through Sentinel, Redis state and Redis replay set    (b)

Prints one JSON object, then a table: calls/s, p50, p99, the server CPU per call,
and the added latency and throughput ratio of (b) against (a) and against the
proxy. The machine is shared and noisy: compare the rows of one run (paired, and
interleaved round by round), not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import orjson  # noqa: E402
from interceptor_cost import REDIS_URL, _delete_prefix, _start, _wait  # noqa: E402

API_KEY = "sk-bench-overhead"
TOOL, ARGUMENTS = "get_current_time", {"timezone": "UTC"}
MAX_CALLS_PER_PHASE = 200_000
TARGETS = ("direct", "proxy", "memory", "redis")

# The governed project: the called tool sits behind a CHECK_TAINT rule, so every
# call reads the session's taint and commits against its version.
POLICY_YAML = """\
projects:
  - name: bench
    api_key_sha256: {key_hash}
    tools:
      - {{name: get_current_time, description: time, input_schema: {{type: object}}, class: SAFE_READ}}
      - {{name: read_inbox, description: mail, input_schema: {{type: object}}, class: UNTRUSTED_READ}}
      - {{name: send_email, description: send, input_schema: {{type: object}}, class: CONSEQUENTIAL_WRITE}}
    policies:
      staticRules: {{get_current_time: ALLOW, read_inbox: ALLOW, send_email: ALLOW}}
      taintRules:
        - {{type: ADD_TAINT, tool: read_inbox, tag: untrusted}}
        - {{type: CHECK_TAINT, tool: get_current_time, forbidden_tags: [untrusted]}}
        - {{type: CHECK_TAINT, tool: send_email, forbidden_tags: [untrusted]}}
"""


# --------------------------------------------------------------------------- the pass-through proxy


def proxy_app(upstream_url: str) -> Any:
    """The interceptor's shape without governance: read the body, forward it, answer the result.

    Built like the interceptor's call path (raw ASGI dispatch in front of the
    framework, the same body handling and JSON codec, the same ToolServerClient),
    so governed minus proxy is the cost of governance, not of the hop.
    """
    from interceptor.forwarding import ToolServerClient

    client: list[ToolServerClient] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    client.append(ToolServerClient(upstream_url, 10.0))
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await client[0].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        parts = []
        while True:
            message = await receive()
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["path"] == "/healthz":
            payload = b'{"status":"ok"}'
        else:
            body = orjson.loads(b"".join(parts))
            arguments_json = orjson.dumps(body.get("arguments", {}))
            result = await client[0].call_tool("unsigned", uuid.uuid4().hex, body["tool"], arguments_json)
            payload = orjson.dumps({"result": result})
        headers = [(b"content-length", str(len(payload)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return app


def serve_proxy(port: int, upstream: str) -> None:
    from sentinel_http import serve_app

    serve_app(proxy_app(upstream), host="127.0.0.1", port=port, log_level="warning")  # as `sentinel serve`


# --------------------------------------------------------------------------- processes


@dataclass
class Stack:
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)  # target -> port the load goes to
    pids: dict[str, list[int]] = field(default_factory=dict)  # target -> server pids on its path
    roles: dict[str, dict[str, int]] = field(default_factory=dict)  # target -> role -> pid (Redis too, if local)
    prefixes: list[str] = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for prefix in self.prefixes:
            _delete_prefix(prefix)


def start_stack(tmp: Path, targets: Sequence[str]) -> Stack:
    from sentinel_cli.run import free_port
    from sentinel_contract import b64url_encode, generate_keypair

    identity = generate_keypair()
    config = tmp / "bench.yaml"
    config.write_text(POLICY_YAML.format(key_hash=_sha256(API_KEY)))
    base = {
        **os.environ,
        "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64,
        "SENTINEL_IDENTITY_KEY": b64url_encode(identity.seed),
        "SENTINEL_CONFIG": str(config),
        "PYTHONPATH": str(ROOT),
    }
    for name in ("SENTINEL_REDIS_URL", "SENTINEL_REDIS_PREFIX", "SENTINEL_MCP_VERIFY"):
        base.pop(name, None)
    cli = [sys.executable, "-m", "sentinel_cli", "serve"]
    quiet = ["--log-level", "warning"]
    stack = Stack()
    waits: list[str] = []

    def launch(name: str, command: list[str], env: dict[str, str], health: str) -> int:
        process = _start(command, env, tmp)
        stack.processes.append(process)
        waits.append(health)
        return process.pid

    def tool_server(tag: str, verify: bool, redis_prefix: str | None) -> tuple[int, int]:
        port = free_port()
        env = base | {
            "SENTINEL_MCP_VERIFY": "true" if verify else "false",
            "SENTINEL_MCP_AUDIT_LOG": str(tmp / f"mcp-{tag}.jsonl"),
            "SENTINEL_MCP_DATA_DIR": str(tmp / f"data-{tag}"),
        }
        if redis_prefix:
            env |= {"SENTINEL_REDIS_URL": REDIS_URL, "SENTINEL_REDIS_PREFIX": redis_prefix}
        pid = launch(f"mcp-{tag}", [*cli, "mcp", "--port", str(port), *quiet], env, f"http://127.0.0.1:{port}/healthz")
        return port, pid

    open_port, open_pid = tool_server("open", False, None)
    if "direct" in targets:
        stack.ports["direct"], stack.pids["direct"] = open_port, [open_pid]
        stack.roles["direct"] = {"tool_server": open_pid}
    if "proxy" in targets:
        port = free_port()
        pid = launch("proxy", [sys.executable, str(Path(__file__)), "--serve-proxy", str(port),
                               "--upstream", f"http://127.0.0.1:{open_port}"], base,
                     f"http://127.0.0.1:{port}/healthz")
        stack.ports["proxy"], stack.pids["proxy"] = port, [pid, open_pid]
        stack.roles["proxy"] = {"front": pid, "tool_server": open_pid}
    for backend in ("memory", "redis"):
        if backend not in targets:
            continue
        prefix = f"bench:{uuid.uuid4().hex[:8]}:" if backend == "redis" else None
        if prefix:
            stack.prefixes.append(prefix)
        mcp_port, mcp_pid = tool_server(backend, True, prefix)
        port = free_port()
        env = base | {
            "MCP_UPSTREAM_URL": f"http://127.0.0.1:{mcp_port}",
            "SENTINEL_AUDIT_LOG": str(tmp / f"audit-{backend}.jsonl"),
        }
        if prefix:
            env |= {"SENTINEL_REDIS_URL": REDIS_URL, "SENTINEL_REDIS_PREFIX": prefix}
        pid = launch(backend, [*cli, "interceptor", "--port", str(port), *quiet], env,
                     f"http://127.0.0.1:{port}/healthz")
        stack.ports[backend], stack.pids[backend] = port, [pid, mcp_pid]
        stack.roles[backend] = {"front": pid, "tool_server": mcp_pid}
        redis_pid = _local_redis_pid() if prefix else None
        if redis_pid:
            stack.roles[backend]["redis"] = redis_pid
    try:
        for url in waits:
            _wait(url, deadline=60)
    except BaseException:
        stack.stop()
        raise
    return stack


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _local_redis_pid() -> int | None:
    """Redis's pid when it runs on this machine and its CPU can be read (else its cost is not shown)."""
    import redis

    try:
        with redis.Redis.from_url(REDIS_URL) as client:
            pid = int(client.info("server")["process_id"])
        _cpu_seconds(pid)
    except (OSError, ValueError, KeyError, redis.RedisError):
        return None
    return pid


def _machine_busy() -> tuple[int, int]:
    """(all, idle) jiffies of the whole machine, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the load generator


def _requests(target: str, port: int, connections: int, per_connection: int) -> list[list[bytes]]:
    """Pre-built requests, one list per connection (one session per connection when governed)."""
    host = f"Host: 127.0.0.1:{port}\r\n"
    if target == "direct":
        out = []
        for c in range(connections):
            reqs = []
            for i in range(per_connection):
                body = orjson.dumps({"jsonrpc": "2.0", "id": c * per_connection + i, "method": "tools/call",
                                     "params": {"name": TOOL, "arguments": ARGUMENTS}})
                reqs.append(_raw("/rpc", host, body, ""))
            out.append(reqs)
        return out
    body = orjson.dumps({"tool": TOOL, "arguments": ARGUMENTS})
    auth = f"X-Sentinel-Key: {API_KEY}\r\n"
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for _ in range(connections):
            if target == "proxy":
                sid = uuid.uuid4().hex
            else:
                response = client.post("/session/start", headers={"X-Sentinel-Key": API_KEY})
                response.raise_for_status()
                sid = response.json()["session_id"]
            request = _raw(f"/session/{sid}/call", host, body, auth)
            out.append([request] * per_connection)
    return out


def _raw(path: str, host: str, body: bytes, extra: str) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\n{host}Content-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _drive(port: int, requests: list[list[bytes]], seconds: float, warmup: float) -> dict[str, Any]:
    latencies: list[float] = []
    failures: dict[str, int] = {}
    measuring = False
    stop_at = 0.0

    async def connection(queue: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in queue:
                if measuring and time.perf_counter() >= stop_at:
                    return
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                if measuring:
                    latencies.append(time.perf_counter() - t0)
                if not head.startswith(b"HTTP/1.1 200") or b'"isError":false' not in body:
                    key = head.split(b"\r\n")[0].decode() + " " + body[:120].decode(errors="replace")
                    failures[key] = failures.get(key, 0) + 1
        finally:
            writer.close()

    split = [list(reversed(q)) for q in requests]
    warm = [[q.pop() for _ in range(min(len(q) // 10, 200))] for q in split]
    if warmup > 0:
        await asyncio.gather(*(connection(q) for q in warm))
    measuring = True
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(connection(list(reversed(q))) for q in split))
    wall = time.perf_counter() - started
    return {"wall": wall, "latencies": latencies, "failures": failures}


def measure(stack: Stack, target: str, connections: int, seconds: float) -> dict[str, Any]:
    # Enough requests for the phase at 12k/s, bounded: the phase ends at `seconds` or when they run out.
    per_connection = min(MAX_CALLS_PER_PHASE // connections, int(12_000 * seconds / connections) + 300)
    requests = _requests(target, stack.ports[target], connections, per_connection)
    roles = stack.roles[target]
    cpu_before = {role: _cpu_seconds(pid) for role, pid in roles.items()}
    own_before, machine_before = time.process_time(), _machine_busy()
    outcome = asyncio.run(_drive(stack.ports[target], requests, seconds, warmup=1))
    # The warm-up is inside the CPU window; count its calls too (per connection: len//10 capped at 200).
    warm_calls = connections * min(per_connection // 10, 200)
    cpu = {role: _cpu_seconds(roles[role]) - before for role, before in cpu_before.items()}
    cpu["load_generator"] = time.process_time() - own_before
    machine_all, machine_idle = (a - b for a, b in zip(_machine_busy(), machine_before, strict=True))
    ms = sorted(x * 1000 for x in outcome["latencies"])
    calls = len(ms)
    if outcome["failures"]:
        raise RuntimeError(f"{target}: failed calls: {outcome['failures']}")
    return {
        "calls": calls,
        "calls_per_s": round(calls / outcome["wall"], 1),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(calls - 1, int(calls * 0.99))], 3),
        # The servers on the path (front + tool server): the figure docs/performance.md compares between rounds.
        "server_cpu_us_per_call": round((cpu.get("front", 0) + cpu["tool_server"]) * 1e6 / (calls + warm_calls), 1),
        # Each process on its own; Redis only when it runs here (its CPU counts any other client too).
        **{f"cpu_{role}_us": round(seconds_used * 1e6 / (calls + warm_calls), 1) for role, seconds_used in cpu.items()},
        # How many of the machine's cores were busy with anything, over warm-up and phase.
        "machine_busy_cores": round((os.cpu_count() or 1) * (1 - machine_idle / machine_all), 2) if machine_all else 0.0,
    }


# --------------------------------------------------------------------------- report


def _median_rows(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key in rounds[0]:
        out[key] = {m: round(statistics.median(r[key][m] for r in rounds), 3) for m in rounds[0][key]}
    return out


def _ratios(rounds: list[dict[str, dict[str, Any]]], gov: str, base: str, c: int) -> dict[str, float]:
    """Paired per round, then the median: the noise of the machine cancels within a round."""
    g, b = f"{gov}@{c}", f"{base}@{c}"
    if g not in rounds[0] or b not in rounds[0]:
        return {}
    return {
        "added_p50_ms": round(statistics.median(r[g]["p50_ms"] - r[b]["p50_ms"] for r in rounds), 3),
        "added_p99_ms": round(statistics.median(r[g]["p99_ms"] - r[b]["p99_ms"] for r in rounds), 3),
        "throughput_ratio": round(statistics.median(r[g]["calls_per_s"] / r[b]["calls_per_s"] for r in rounds), 3),
        "added_cpu_us_per_call": round(
            statistics.median(r[g]["server_cpu_us_per_call"] - r[b]["server_cpu_us_per_call"] for r in rounds), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="measured seconds per phase (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds; medians are reported")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--serve-proxy", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_proxy:
        serve_proxy(args.serve_proxy, args.upstream)
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        pass

    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), args.targets)
        try:
            for _ in range(args.repeat):
                row: dict[str, dict[str, Any]] = {}
                for c in args.connections:
                    for target in args.targets:
                        row[f"{target}@{c}"] = measure(stack, target, c, args.seconds)
                rounds.append(row)
        finally:
            stack.stop()

    rows = _median_rows(rounds)
    compare = {}
    for c in args.connections:
        for gov in ("redis", "memory"):
            for base in ("direct", "proxy"):
                pair = _ratios(rounds, gov, base, c)
                if pair:
                    compare[f"{gov}_vs_{base}@{c}"] = pair
    targets = _targets(rows, compare)
    report = {"seconds": args.seconds, "repeat": args.repeat, "rows": rows, "compare": compare,
              "targets": targets, "rounds": rounds}
    print(json.dumps(report, indent=2))
    print(f"\n{'target@connections':<20}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'server CPU µs/call':>20}")
    for name, r in rows.items():
        print(f"{name:<20}{r['calls_per_s']:>10.0f}{r['p50_ms']:>9.3f}{r['p99_ms']:>9.3f}"
              f"{r['server_cpu_us_per_call']:>20.0f}")
    print(f"\n{'CPU µs per call':<20}{'front':>8}{'tool srv':>10}{'Redis':>8}{'load gen':>10}{'busy cores':>12}")
    for name, r in rows.items():
        split = [r.get(f"cpu_{role}_us") for role in ("front", "tool_server", "redis", "load_generator")]
        cells = "".join(f"{'-' if v is None else round(v):>{w}}" for v, w in zip(split, (8, 10, 8, 10), strict=True))
        print(f"{name:<20}{cells}{r['machine_busy_cores']:>12.2f}")
    print(f"\n{'comparison':<22}{'added p50':>10}{'added p99':>10}{'calls/s ratio':>15}{'added CPU µs':>14}")
    for name, pair in compare.items():
        print(f"{name:<22}{pair['added_p50_ms']:>10.3f}{pair['added_p99_ms']:>10.3f}"
              f"{pair['throughput_ratio']:>15.3f}{pair['added_cpu_us_per_call']:>14.0f}")
    if targets:
        print()
        for name, verdict in targets.items():
            print(f"{name:<46}{verdict['value']:>10} {'met' if verdict['met'] else 'NOT met'} (target {verdict['target']})")


def _targets(rows: dict[str, dict[str, float]], compare: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    one = compare.get("redis_vs_direct@1")
    if one:
        out["added latency p50 at 1 connection (ms)"] = {"value": one["added_p50_ms"], "target": "<= 1.0",
                                                         "met": one["added_p50_ms"] <= 1.0}
        out["added latency p99 at 1 connection (ms)"] = {"value": one["added_p99_ms"], "target": "<= 3.0",
                                                         "met": one["added_p99_ms"] <= 3.0}
    if "redis@32" in rows:
        rate = rows["redis@32"]["calls_per_s"]
        out["governed calls/s at 32 connections (Redis)"] = {"value": rate, "target": ">= 1000", "met": rate >= 1000}
    vs_proxy = compare.get("redis_vs_proxy@32")
    if vs_proxy:
        ratio = vs_proxy["throughput_ratio"]
        out["governed / plain proxy calls/s at 32"] = {"value": ratio, "target": ">= 0.40", "met": ratio >= 0.40}
    return out


if __name__ == "__main__":
    main()
