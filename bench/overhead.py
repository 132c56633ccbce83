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

The MCP path (opt-in: ``--targets mcp-direct mcp-governed mcp-governed-legacy
api-governed-upstream``, or ``--targets mcp``), one tool, ``echo``, on an upstream
MCP server built with the official SDK (``MCPServer``, streamable HTTP, JSON
answers, stateful: see ``upstream_app``) in a process of its own; the load
generator sends, byte for byte, the HTTP requests the official ``mcp.Client``
sends (captured from it), pre-built, on the same keep-alive connections:
    mcp-direct             tools/call (2026-07-28) straight to the upstream
    mcp-direct-legacy      tools/call (2025-11-25, after initialize) straight to it
    mcp-governed           tools/call (2026-07-28, X-Sentinel-Session) to the
                           interceptor's /mcp -> tool server -> upstream (Redis state)
    mcp-governed-legacy    the same after initialize (2025-11-25, Mcp-Session-Id)
    api-governed-upstream  POST /session/{sid}/call: the agent API, same path
The front door's cost is mcp-governed minus api-governed-upstream, paired in
each round. ``--sdk-client-calls N`` adds a run of the real ``mcp.Client`` at
one connection (client-side CPU included), against the upstream and /mcp.

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
MCP_TARGETS = ("mcp-direct", "mcp-direct-legacy", "mcp-governed", "mcp-governed-legacy", "api-governed-upstream")
GOVERNED_MCP = ("mcp-governed", "mcp-governed-legacy", "api-governed-upstream")
UPSTREAM = "up"  # the upstream's name at the tool server: its tools are served as up__NAME
UPSTREAM_TOOL, UPSTREAM_ARGUMENTS = "echo", {"text": "hello"}
GOVERNED_TOOL = f"{UPSTREAM}__{UPSTREAM_TOOL}"
MODERN, LEGACY = "2026-07-28", "2025-11-25"

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


# The MCP path's project: the upstream's tool behind the same CHECK_TAINT shape as above.
MCP_POLICY_YAML = """\
projects:
  - name: bench-mcp
    api_key_sha256: {key_hash}
    tools:
      - {{name: up__echo, description: echo, input_schema: {{type: object}}, class: SAFE_READ}}
      - {{name: read_inbox, description: mail, input_schema: {{type: object}}, class: UNTRUSTED_READ}}
    policies:
      staticRules: {{up__echo: ALLOW, read_inbox: ALLOW}}
      taintRules:
        - {{type: ADD_TAINT, tool: read_inbox, tag: untrusted}}
        - {{type: CHECK_TAINT, tool: up__echo, forbidden_tags: [untrusted]}}
"""


# --------------------------------------------------------------------------- the upstream MCP server


def upstream_app() -> Any:
    """A small, fast MCP server as users write them: the official SDK's ``MCPServer``, one ``echo`` tool.

    Streamable HTTP with JSON answers (no SSE: one request, one response, as
    Sentinel's own /mcp answers), stateful: a 2026-07-28 request is
    self-contained either way, and a 2025-11-25 session (the tool server's
    ``ClientSession`` opens one) is served by one kept transport instead of a
    new server instance per request, as the SDK's stateless mode does.
    """
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bench-upstream", log_level="WARNING")

    @server.tool(description="Echo the text back.")
    def echo(text: str) -> str:
        return text

    return server.streamable_http_app(json_response=True, stateless_http=False)


def serve_upstream(port: int) -> None:
    from sentinel_http import serve_app

    serve_app(upstream_app(), host="127.0.0.1", port=port, log_level="warning")  # the bench's server stack


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

    def tool_server(tag: str, verify: bool, redis_prefix: str | None, *extra: str) -> tuple[int, int]:
        port = free_port()
        env = base | {
            "SENTINEL_MCP_VERIFY": "true" if verify else "false",
            "SENTINEL_MCP_AUDIT_LOG": str(tmp / f"mcp-{tag}.jsonl"),
            "SENTINEL_MCP_DATA_DIR": str(tmp / f"data-{tag}"),
        }
        if redis_prefix:
            env |= {"SENTINEL_REDIS_URL": REDIS_URL, "SENTINEL_REDIS_PREFIX": redis_prefix}
        pid = launch(f"mcp-{tag}", [*cli, "mcp", "--port", str(port), *extra, *quiet], env,
                     f"http://127.0.0.1:{port}/healthz")
        return port, pid

    def interceptor(tag: str, tool_server_port: int, redis_prefix: str | None, config_file: Path) -> tuple[int, int]:
        port = free_port()
        env = base | {
            "MCP_UPSTREAM_URL": f"http://127.0.0.1:{tool_server_port}",
            "SENTINEL_AUDIT_LOG": str(tmp / f"audit-{tag}.jsonl"),
            "SENTINEL_CONFIG": str(config_file),
        }
        if redis_prefix:
            env |= {"SENTINEL_REDIS_URL": REDIS_URL, "SENTINEL_REDIS_PREFIX": redis_prefix}
        pid = launch(tag, [*cli, "interceptor", "--port", str(port), *quiet], env, f"http://127.0.0.1:{port}/healthz")
        return port, pid

    open_port, open_pid = tool_server("open", False, None) if {"direct", "proxy"} & set(targets) else (0, 0)
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
        port, pid = interceptor(backend, mcp_port, prefix, config)
        stack.ports[backend], stack.pids[backend] = port, [pid, mcp_pid]
        stack.roles[backend] = {"front": pid, "tool_server": mcp_pid}
        redis_pid = _local_redis_pid() if prefix else None
        if redis_pid:
            stack.roles[backend]["redis"] = redis_pid
    if set(MCP_TARGETS) & set(targets):
        try:
            _start_mcp_path(stack, tmp, targets, launch, tool_server, interceptor)
        except BaseException:
            stack.stop()
            raise
    try:
        for url in waits:
            _wait(url, deadline=60)
    except BaseException:
        stack.stop()
        raise
    return stack


def _start_mcp_path(stack: Stack, tmp: Path, targets: Sequence[str], launch: Any, tool_server: Any,
                    interceptor: Any) -> None:
    """One upstream MCP server; for the governed targets, a tool server fronting it behind an interceptor (Redis)."""
    from sentinel_cli.run import free_port

    up_port = free_port()
    up_pid = launch("upstream", [sys.executable, str(Path(__file__)), "--serve-upstream", str(up_port)],
                    {**os.environ, "PYTHONPATH": str(ROOT)}, f"http://127.0.0.1:{up_port}/mcp")
    _wait(f"http://127.0.0.1:{up_port}/mcp", deadline=60)  # the tool server lists its tools when it starts
    for target in ("mcp-direct", "mcp-direct-legacy"):
        if target in targets:
            stack.ports[target], stack.pids[target] = up_port, [up_pid]
            stack.roles[target] = {"upstream": up_pid}
    if not set(GOVERNED_MCP) & set(targets):
        return
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    stack.prefixes.append(prefix)
    config = tmp / "bench-mcp.yaml"
    config.write_text(MCP_POLICY_YAML.format(key_hash=_sha256(API_KEY)))
    mcp_port, mcp_pid = tool_server("upstream", True, prefix, "--upstream", f"{UPSTREAM}=http://127.0.0.1:{up_port}/mcp")
    port, pid = interceptor("mcp", mcp_port, prefix, config)
    redis_pid = _local_redis_pid()
    for target in GOVERNED_MCP:
        if target in targets:
            stack.ports[target], stack.pids[target] = port, [pid, mcp_pid, up_pid]
            stack.roles[target] = {"front": pid, "tool_server": mcp_pid, "upstream": up_pid}
            if redis_pid:
                stack.roles[target]["redis"] = redis_pid


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
    if target in MCP_TARGETS and target != "api-governed-upstream":
        return _mcp_requests(target, port, connections, per_connection)
    tool, arguments = (GOVERNED_TOOL, UPSTREAM_ARGUMENTS) if target == "api-governed-upstream" else (TOOL, ARGUMENTS)
    body = orjson.dumps({"tool": tool, "arguments": arguments})
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


# What the official client (mcp 2.3, httpx2) sends on every request, captured from it; then the revision's own.
_CLIENT_HEADERS = {"Accept-Encoding": "gzip, deflate", "Connection": "keep-alive", "User-Agent": "python-httpx2/2.17.0",
                   "Accept": "application/json, text/event-stream"}
_CLIENT_META = {"io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
                "io.modelcontextprotocol/clientCapabilities": {}}


def _mcp_requests(target: str, port: int, connections: int, per_connection: int) -> list[list[bytes]]:
    """tools/call as ``mcp.Client(..., mode=...)`` sends it; a legacy connection first runs its handshake."""
    host = f"Host: 127.0.0.1:{port}\r\n"
    governed = target.startswith("mcp-governed")
    legacy = target.endswith("-legacy")
    name = GOVERNED_TOOL if governed else UPSTREAM_TOOL
    common = {**_CLIENT_HEADERS, **({"Authorization": f"Bearer {API_KEY}"} if governed else {})}
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for c in range(connections):
            if legacy:
                session = _mcp_handshake(client, common)
                headers = {**common, "MCP-Protocol-Version": LEGACY, **session}
                params: dict[str, Any] = {"name": name, "arguments": UPSTREAM_ARGUMENTS}
            else:
                headers = {**common, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name}
                if governed:
                    response = client.post("/session/start", headers={"X-Sentinel-Key": API_KEY})
                    response.raise_for_status()
                    headers["X-Sentinel-Session"] = response.json()["session_id"]
                params = {"name": name, "arguments": UPSTREAM_ARGUMENTS, "_meta": _CLIENT_META}
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            out.append([_raw("/mcp", host, orjson.dumps({"jsonrpc": "2.0", "id": c * per_connection + i + 2,
                                                         "method": "tools/call", "params": params}), extra)
                        for i in range(per_connection)])
    return out


def _mcp_handshake(client: httpx.Client, headers: dict[str, str]) -> dict[str, str]:
    """initialize and notifications/initialized, as the client sends them; the Mcp-Session-Id header, if any."""
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "mcp", "version": "0.1.0"}}}
    response = client.post("/mcp", content=orjson.dumps(hello), headers={**headers, "Content-Type": "application/json"})
    response.raise_for_status()
    session = {"Mcp-Session-Id": response.headers["mcp-session-id"]} if "mcp-session-id" in response.headers else {}
    done = client.post("/mcp", content=b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
                       headers={**headers, "Content-Type": "application/json", "MCP-Protocol-Version": LEGACY,
                                **session})
    if done.status_code != 202:
        raise RuntimeError(f"notifications/initialized: HTTP {done.status_code} {done.text[:200]}")
    return session


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
        # The servers on the path (front + tool server + upstream MCP server): what docs/performance.md compares.
        "server_cpu_us_per_call": round(sum(cpu.get(role, 0) for role in ("front", "tool_server", "upstream"))
                                        * 1e6 / (calls + warm_calls), 1),
        # Each process on its own; Redis only when it runs here (its CPU counts any other client too).
        **{f"cpu_{role}_us": round(seconds_used * 1e6 / (calls + warm_calls), 1) for role, seconds_used in cpu.items()},
        # How many of the machine's cores were busy with anything, over warm-up and phase.
        "machine_busy_cores": round((os.cpu_count() or 1) * (1 - machine_idle / machine_all), 2) if machine_all else 0.0,
    }


# --------------------------------------------------------------------------- the real client


def _sdk_client_rows(stack: Stack, calls: int) -> dict[str, dict[str, Any]]:
    """``mcp.Client`` itself, one call at a time: what the client costs on top of the bytes it sends."""
    out = {}
    for target, mode in (("mcp-direct", MODERN), ("mcp-governed", MODERN), ("mcp-governed-legacy", "legacy")):
        if target in stack.ports:
            out[target] = asyncio.run(_sdk_client_run(stack, target, mode, calls))
    return out


async def _sdk_client_run(stack: Stack, target: str, mode: str, calls: int) -> dict[str, Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    port, governed = stack.ports[target], target.startswith("mcp-governed")
    headers = {"Authorization": f"Bearer {API_KEY}"} if governed else {}
    if governed and mode == MODERN:
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            response = await http.post("/session/start", headers={"X-Sentinel-Key": API_KEY})
            headers["X-Sentinel-Session"] = response.json()["session_id"]
    name = GOVERNED_TOOL if governed else UPSTREAM_TOOL
    latencies = []
    async with httpx2.AsyncClient(headers=headers, timeout=10) as http:
        transport = streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
            for _ in range(min(50, calls)):  # warm: its first call also lists the tools (output schemas)
                await client.call_tool(name, UPSTREAM_ARGUMENTS)
            roles = stack.roles[target]
            cpu_before = {role: _cpu_seconds(pid) for role, pid in roles.items()}
            own_before, started = time.process_time(), time.perf_counter()
            for _ in range(calls):
                t0 = time.perf_counter()
                result = await client.call_tool(name, UPSTREAM_ARGUMENTS)
                latencies.append(time.perf_counter() - t0)
                if result.is_error:
                    raise RuntimeError(f"{target}: the SDK client's call failed: {result}")
            wall = time.perf_counter() - started
            own = time.process_time() - own_before
            cpu = {role: _cpu_seconds(pid) - cpu_before[role] for role, pid in roles.items()}
    ms = sorted(x * 1000 for x in latencies)
    return {
        "calls": calls, "calls_per_s": round(calls / wall, 1), "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(calls - 1, int(calls * 0.99))], 3),
        "cpu_client_us": round(own * 1e6 / calls, 1),
        "server_cpu_us_per_call": round(sum(cpu.get(r, 0) for r in ("front", "tool_server", "upstream")) * 1e6 / calls, 1),
        **{f"cpu_{role}_us": round(used * 1e6 / calls, 1) for role, used in cpu.items()},
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
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=[*TARGETS, *MCP_TARGETS, "mcp"],
                        help="default: the agent API's targets; mcp = the MCP path's four main targets")
    parser.add_argument("--sdk-client-calls", type=int, default=0, metavar="N",
                        help="also N calls of the real mcp.Client at one connection (MCP targets only)")
    parser.add_argument("--serve-proxy", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-upstream", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_proxy:
        serve_proxy(args.serve_proxy, args.upstream)
        return
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    mcp_main = ["mcp-direct", "mcp-governed", "mcp-governed-legacy", "api-governed-upstream"]
    args.targets = list(dict.fromkeys(t for name in args.targets for t in (mcp_main if name == "mcp" else [name])))
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
            sdk = _sdk_client_rows(stack, args.sdk_client_calls) if args.sdk_client_calls else {}
        finally:
            stack.stop()

    rows = _median_rows(rounds)
    compare = {}
    pairs = [(gov, base) for gov in ("redis", "memory") for base in ("direct", "proxy")] + [
        ("mcp-governed", "api-governed-upstream"), ("mcp-governed-legacy", "api-governed-upstream"),
        ("mcp-governed", "mcp-direct"), ("mcp-governed-legacy", "mcp-direct-legacy"),
        ("api-governed-upstream", "mcp-direct")]
    for c in args.connections:
        for gov, base in pairs:
            pair = _ratios(rounds, gov, base, c)
            if pair:
                compare[f"{gov}_vs_{base}@{c}"] = pair
    targets = _targets(rows, compare)
    report = {"seconds": args.seconds, "repeat": args.repeat, "rows": rows, "compare": compare,
              "targets": targets, "sdk_client": sdk, "rounds": rounds}
    print(json.dumps(report, indent=2))
    w = max(20, *(len(name) + 2 for name in rows))
    print(f"\n{'target@connections':<{w}}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'server CPU µs/call':>20}")
    for name, r in rows.items():
        print(f"{name:<{w}}{r['calls_per_s']:>10.0f}{r['p50_ms']:>9.3f}{r['p99_ms']:>9.3f}"
              f"{r['server_cpu_us_per_call']:>20.0f}")
    roles = ("front", "tool_server", "upstream", "redis", "load_generator")
    print(f"\n{'CPU µs per call':<{w}}{'front':>8}{'tool srv':>10}{'upstream':>10}{'Redis':>8}{'load gen':>10}"
          f"{'busy cores':>12}")
    for name, r in rows.items():
        split = [r.get(f"cpu_{role}_us") for role in roles]
        cells = "".join(f"{'-' if v is None else round(v):>{cw}}" for v, cw in zip(split, (8, 10, 10, 8, 10), strict=True))
        print(f"{name:<{w}}{cells}{r['machine_busy_cores']:>12.2f}")
    cw = max(22, *(len(name) + 2 for name in compare)) if compare else 22
    print(f"\n{'comparison':<{cw}}{'added p50':>10}{'added p99':>10}{'calls/s ratio':>15}{'added CPU µs':>14}")
    for name, pair in compare.items():
        print(f"{name:<{cw}}{pair['added_p50_ms']:>10.3f}{pair['added_p99_ms']:>10.3f}"
              f"{pair['throughput_ratio']:>15.3f}{pair['added_cpu_us_per_call']:>14.0f}")
    if sdk:
        print(f"\n{'mcp.Client, 1 connection':<{w}}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'client CPU µs':>15}"
              f"{'servers CPU µs':>16}")
        for name, r in sdk.items():
            print(f"{name:<{w}}{r['calls_per_s']:>10.0f}{r['p50_ms']:>9.3f}{r['p99_ms']:>9.3f}"
                  f"{r['cpu_client_us']:>15.0f}{r['server_cpu_us_per_call']:>16.0f}")
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
    door = compare.get("mcp-governed_vs_api-governed-upstream@1")
    if door:
        out["MCP front door added p50 at 1 connection (ms)"] = {"value": door["added_p50_ms"], "target": "<= 0.3",
                                                                "met": door["added_p50_ms"] <= 0.3}
    door = compare.get("mcp-governed-legacy_vs_api-governed-upstream@1")
    if door:
        out["MCP front door (2025-11-25) added p50 at 1 (ms)"] = {"value": door["added_p50_ms"], "target": "<= 0.3",
                                                                  "met": door["added_p50_ms"] <= 0.3}
    vs_proxy = compare.get("redis_vs_proxy@32")
    if vs_proxy:
        ratio = vs_proxy["throughput_ratio"]
        out["governed / plain proxy calls/s at 32"] = {"value": ratio, "target": ">= 0.40", "met": ratio >= 0.40}
    return out


if __name__ == "__main__":
    main()
