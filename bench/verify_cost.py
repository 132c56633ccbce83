"""What the tool server costs per call: ``tools/call`` of ``get_current_time``
with verification on vs off, in one run.

    .venv/bin/python bench/verify_cost.py                 # in-process (ASGI, no network), memory + Redis
    .venv/bin/python bench/verify_cost.py --http          # also real uvicorn processes over HTTP (+ server CPU)
    .venv/bin/python bench/verify_cost.py --calls 5000 --no-redis
    .venv/bin/python bench/verify_cost.py --app-only --calls 3000 --rounds 5   # the "app" rows alone

Tokens are signed before the clock starts (signing is the interceptor's cost).
"guard" times the check alone (``CallGuard.check``: kid, key lookup, EdDSA
verify, claims, args hash, jti). "asgi" rows go through httpx's ASGITransport
(the test harness), whose own cost is in the figure. "app" rows call the ASGI
app directly with a prebuilt scope and a fake receive/send (no httpx, no
sockets): the server's whole work for a request, as CPU µs per request
(``time.process_time`` over the round / calls), median of ``--rounds`` rounds
that alternate verification off and on. Prints one JSON object, then tables.
The machine is shared and noisy: compare the paired rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
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

from mcp_server.guard import CallGuard  # noqa: E402
from mcp_server.testing import McpHarness  # noqa: E402
from mcp_server.trust import MemoryTrustStore, RedisTrustStore  # noqa: E402
from sentinel_contract import generate_keypair  # noqa: E402

REDIS_URL = os.environ.get("SENTINEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOOL, ARGS = "get_current_time", {"timezone": "UTC"}


def _stats(samples_s: list[float], wall_s: float) -> dict[str, float]:
    us = sorted(s * 1e6 for s in samples_s)
    return {
        "calls": len(us),
        "median_us": round(statistics.median(us), 1),
        "p99_us": round(us[min(len(us) - 1, int(len(us) * 0.99))], 1),
        "rps": round(len(us) / wall_s, 1),
    }


def _body(i: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                       "params": {"name": TOOL, "arguments": ARGS}}).encode()


async def _in_process(root: Path, *, verify: bool, backend: str, calls: int) -> dict[str, float]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    async with McpHarness.open(root / f"{backend}-{verify}", backend=backend, redis_url=REDIS_URL,
                               redis_prefix=prefix, mcp_verify=verify) as mcp:
        session = await mcp.register() if verify else None
        tokens = [mcp.sign(session, TOOL, ARGS) if session else "unused" for _ in range(calls)]
        bodies = [_body(i) for i in range(calls)]
        for i in range(min(50, calls)):  # warm-up, with tokens of its own
            await mcp.post_rpc(_body(i), mcp.sign(session, TOOL, ARGS) if session else None)
        samples = []
        started = time.perf_counter()
        for token, body in zip(tokens, bodies, strict=True):
            t0 = time.perf_counter()
            response = await mcp.post_rpc(body, token)
            samples.append(time.perf_counter() - t0)
            assert b'"isError":false' in response.content, response.text
        wall = time.perf_counter() - started
    if backend == "redis":
        await _cleanup(prefix)
    return _stats(samples, wall)


def _scope(token: str | None, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"mcp.test"), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/rpc", "raw_path": b"/rpc", "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 9000)}


async def _app_round(app: Any, requests: list[tuple[dict[str, Any], bytes]]) -> tuple[float, list[float]]:
    """Drive ``app`` once per request like an ASGI server would; (CPU seconds, wall samples)."""
    answers: list[Any] = []

    async def send(message: Any) -> None:
        answers.append(message)

    samples = []
    gc.collect()
    cpu0 = time.process_time()
    for scope, body in requests:
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive(message: Any = message) -> Any:
            return message

        t0 = time.perf_counter()
        await app(scope, receive, send)
        samples.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    for start, body_message in zip(answers[::2], answers[1::2], strict=True):
        assert start["status"] == 200 and b'"isError":false' in body_message["body"], body_message
    return cpu, samples


async def _app_rows(root: Path, *, backend: str, calls: int, rounds: int) -> dict[str, dict[str, float]]:
    """CPU µs per request of the whole app, verification off and on, alternating round by round."""
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    rows: dict[str, dict[str, float]] = {}
    async with McpHarness.open(root / f"app-{backend}-off", mcp_verify=False) as off, \
            McpHarness.open(root / f"app-{backend}-on", backend=backend, redis_url=REDIS_URL,
                            redis_prefix=prefix, mcp_verify=True) as on:
        session = await on.register()
        cpu: dict[str, list[float]] = {"verify-off": [], "verify-on": []}
        walls: dict[str, list[float]] = {"verify-off": [], "verify-on": []}
        for round_no in range(rounds + 1):  # round 0 warms up and is not counted
            for name, mcp in (("verify-off", off), ("verify-on", on)):
                n = min(calls, 100) if round_no == 0 else calls
                requests = []
                for i in range(n):
                    body = _body(i)
                    token = mcp.sign(session, TOOL, ARGS) if mcp is on else None
                    requests.append((_scope(token, body), body))
                spent, samples = await _app_round(mcp.app, requests)
                if round_no:
                    cpu[name].append(spent / n * 1e6)
                    walls[name].extend(samples)
        for name in cpu:
            row = _stats(walls[name], sum(walls[name]))
            row["cpu_us_per_request"] = round(statistics.median(cpu[name]), 1)
            row["cpu_us_rounds"] = [round(x, 1) for x in cpu[name]]  # type: ignore[assignment]
            rows[f"app/{backend}/{name}"] = row
    if backend == "redis":
        await _cleanup(prefix)
    return rows


async def _guard_only(*, backend: str, calls: int) -> dict[str, float]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    store = RedisTrustStore.from_url(REDIS_URL, prefix=prefix) if backend == "redis" else MemoryTrustStore()
    identity, key = generate_keypair(), generate_keypair()
    now = time.time()
    await store.register("s-bench", key.public_b64, int(now) + 600, now=now)
    guard = CallGuard(store, [identity.public], audience="sentinel-mcp", leeway=5)
    from sentinel_contract import sign_call

    tokens = [sign_call(key.private, iss="i", aud="sentinel-mcp", sid="s-bench", tool=TOOL, arguments=ARGS)[0]
              for _ in range(calls)]
    samples = []
    started = time.perf_counter()
    for token in tokens:
        t0 = time.perf_counter()
        await guard.check(f"Bearer {token}", method="tools/call", tool=TOOL, arguments=ARGS)
        samples.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    await store.close()
    if backend == "redis":
        await _cleanup(prefix)
    return _stats(samples, wall)


async def _cleanup(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=prefix + "*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def _over_http(root: Path, *, verify: bool, calls: int, concurrency: int) -> dict[str, float]:
    from sentinel_cli.run import free_port

    identity = generate_keypair()
    port = free_port()
    env = {**os.environ, "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64,
           "SENTINEL_MCP_VERIFY": "true" if verify else "false",
           "SENTINEL_MCP_AUDIT_LOG": str(root / f"http-{verify}.jsonl"), "SENTINEL_MCP_DATA_DIR": str(root / "http-data")}
    env.pop("SENTINEL_REDIS_URL", None)
    # Started once, before anything is timed: blocking the loop here costs no measurement.
    process = subprocess.Popen([sys.executable, "-m", "mcp_server", "--port", str(port)], cwd=ROOT, env=env,  # noqa: ASYNC220
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await _wait_healthy(port)
        from sentinel_contract import sign_call, sign_registration

        key = generate_keypair()
        registration = sign_registration(identity.private, iss="i", aud="sentinel-mcp", sid="s-http",
                                         public_key=key.public_b64, exp=int(time.time()) + 600)
        async with httpx.AsyncClient() as client:
            await client.post(f"http://127.0.0.1:{port}/sessions", json={"token": registration})
        tokens = [sign_call(key.private, iss="i", aud="sentinel-mcp", sid="s-http", tool=TOOL, arguments=ARGS)[0]
                  for _ in range(calls + 100)]
        requests = [_raw_request(i, token) for i, token in enumerate(tokens)]
        warm, queue = requests[:100], requests[100:]
        samples: list[float] = []

        async def worker(items: list[bytes], record: bool) -> None:
            # A minimal keep-alive HTTP/1.1 client: httpx would cost more CPU than the server.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                while items:
                    request = items.pop()
                    t0 = time.perf_counter()
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    body = await reader.readexactly(length)
                    if record:
                        samples.append(time.perf_counter() - t0)
                    assert b'"isError":false' in body, body
            finally:
                writer.close()
                await writer.wait_closed()

        await worker(warm, False)
        cpu0 = _process_cpu(process.pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker(queue, True) for _ in range(concurrency)))
        wall = time.perf_counter() - started
        cpu = _process_cpu(process.pid) - cpu0
    finally:
        process.terminate()
        process.wait(timeout=10)
    row = _stats(samples, wall)
    row["cpu_us_per_request"] = round(cpu / len(samples) * 1e6, 1)  # the server process alone
    return row


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _raw_request(i: int, token: str) -> bytes:
    body = _body(i)
    return (f"POST /rpc HTTP/1.1\r\nHost: mcp\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def _wait_healthy(port: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(150):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the tool server did not start")


def _pair(on: dict[str, float], off: dict[str, float]) -> dict[str, float]:
    cpu = {"verify_cpu_us": round(on["cpu_us_per_request"] - off["cpu_us_per_request"], 1)} \
        if "cpu_us_per_request" in on else {}
    return {**cpu, "verify_cost_median_us": round(on["median_us"] - off["median_us"], 1),
            "verify_cost_p99_us": round(on["p99_us"] - off["p99_us"], 1),
            "rps_ratio_on_off": round(on["rps"] / off["rps"], 3),
            # per-call time at full load: with every core busy this approximates CPU per call
            "added_us_per_call_at_load": round(1e6 / on["rps"] - 1e6 / off["rps"], 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--http", action="store_true", help="also measure two real uvicorn processes")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the app rows (median reported)")
    parser.add_argument("--app-only", action="store_true", help="only the app rows (whole ASGI app, in-process)")
    args = parser.parse_args()

    report: dict[str, Any] = {"tool": TOOL, "calls": args.calls, "rows": {}, "paired": {}}
    rows = report["rows"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for backend in ("memory",) if args.no_redis else ("memory", "redis"):
            rows.update(await _app_rows(root, backend=backend, calls=args.calls, rounds=args.rounds))
            report["paired"][f"app/{backend}"] = _pair(rows[f"app/{backend}/verify-on"],
                                                       rows[f"app/{backend}/verify-off"])
        if args.app_only:
            _print(report)
            return
        rows["guard/memory"] = await _guard_only(backend="memory", calls=args.calls)
        rows["asgi/memory/verify-off"] = await _in_process(root, verify=False, backend="memory", calls=args.calls)
        rows["asgi/memory/verify-on"] = await _in_process(root, verify=True, backend="memory", calls=args.calls)
        report["paired"]["asgi/memory"] = _pair(rows["asgi/memory/verify-on"], rows["asgi/memory/verify-off"])
        if not args.no_redis:
            rows["guard/redis"] = await _guard_only(backend="redis", calls=args.calls)
            rows["asgi/redis/verify-on"] = await _in_process(root, verify=True, backend="redis", calls=args.calls)
            report["paired"]["asgi/redis"] = _pair(rows["asgi/redis/verify-on"], rows["asgi/memory/verify-off"])
        if args.http:
            rows["http/verify-off"] = await _over_http(root, verify=False, calls=args.calls * 2,
                                                       concurrency=args.concurrency)
            rows["http/verify-on"] = await _over_http(root, verify=True, calls=args.calls * 2,
                                                      concurrency=args.concurrency)
            report["paired"]["http"] = _pair(rows["http/verify-on"], rows["http/verify-off"])
    _print(report)


def _print(report: dict[str, Any]) -> None:
    rows = report["rows"]
    print(json.dumps(report, indent=2))
    print(f"\n{'mode':<26}{'calls':>7}{'median µs':>12}{'p99 µs':>10}{'req/s':>10}{'CPU µs/req':>12}")
    for name, row in rows.items():
        print(f"{name:<26}{row['calls']:>7}{row['median_us']:>12}{row['p99_us']:>10}{row['rps']:>10}"
              f"{row.get('cpu_us_per_request', ''):>12}")
    print(f"\n{'verification cost':<26}{'median µs':>12}{'p99 µs':>10}{'rps on/off':>12}{'µs/call at load':>17}")
    for name, pair in report["paired"].items():
        print(f"{name:<26}{pair['verify_cost_median_us']:>12}{pair['verify_cost_p99_us']:>10}"
              f"{pair['rps_ratio_on_off']:>12}{pair['added_us_per_call_at_load']:>17}")


if __name__ == "__main__":
    asyncio.run(main())
