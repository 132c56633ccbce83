"""What the forwarding hop costs the interceptor: ``ToolServerClient.call_tool`` per client.

    .venv/bin/python bench/forwarding_cost.py                        # about 15 s
    .venv/bin/python bench/forwarding_cost.py --calls 20000 --rounds 5    # about 1 min
    .venv/bin/python bench/forwarding_cost.py --calls 50 --rounds 1  # smoke

A tiny raw ASGI app answers every ``POST /rpc`` with a fixed CallToolResult,
served by uvicorn (uvloop + httptools, one response in one write: as
``sentinel serve``) in a subprocess. In this process, on uvloop (as the
interceptor runs; ``--loop asyncio`` for the plain loop), ``--calls`` calls of
``ToolServerClient.call_tool`` with about 1 KB of arguments, first one at a
time, then ``--concurrency`` in flight, for each client:

    keepalive   the default: sentinel_http.KeepAliveClient (asyncio Protocols + httptools)
    aiohttp     a pooled aiohttp ClientSession, the alternative it is measured against;
                only when aiohttp is installed (it is not a dependency)

Why the default is what it is, with the numbers: docs/performance.md (item 8).

Rounds alternate the order of the clients. For each phase: calls/s, p50 and
p99 latency, and CPU µs per call of THIS process (``time.process_time`` over
the phase / calls: the client's cost) and of the server (``/proc``, the same
for every client: a check that the load was the same). Medians over rounds.
The machine is shared and noisy: compare the paired rows of one run, not runs.
Prints one JSON object, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from interceptor.errors import ToolServerError, ToolServerTimeout  # noqa: E402
from interceptor.forwarding import _KEEPALIVE_SECONDS, ToolServerClient  # noqa: E402

ARGUMENTS = orjson.dumps({"to": "bob@example.com", "subject": "quarterly numbers", "body": "x" * 900})
RESULT = orjson.dumps(
    {"jsonrpc": "2.0", "id": "1", "result": {"content": [{"type": "text", "text": "ok"}], "isError": False}}
)
TOKEN = "e" * 300  # about the size of a signed call token


# --------------------------------------------------------------------------- the tool server stand-in


async def tool_server_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Raw ASGI: read the body, answer the fixed result (JSON), nothing else."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(RESULT)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": RESULT})


def serve(port: int) -> None:
    from sentinel_http import serve_app

    serve_app(tool_server_app, host="127.0.0.1", port=port, log_level="warning")


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    from sentinel_cli.run import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--serve", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import socket

    end = time.monotonic() + 30
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError("the tool server stand-in exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the tool server stand-in did not come up")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the aiohttp client


class AiohttpTransport:
    """A pooled aiohttp transport behind the same ``ToolServerClient``, for comparison (docs/performance.md, item 8)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._base = base_url
        self._timeout = timeout
        self._session: Any = None

    def _open(self) -> Any:
        aiohttp = self._aiohttp
        connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=_KEEPALIVE_SECONDS, ttl_dns_cache=60)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
        )
        return self._session

    async def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        aiohttp = self._aiohttp
        session = self._session or self._open()
        try:
            async with session.request(
                method, self._base + path, data=body, headers=headers, allow_redirects=False
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise ToolServerTimeout("the tool server did not answer in time") from exc
        except aiohttp.ClientConnectorError as exc:
            raise ToolServerError("the tool server is unreachable", code="tool_server_unreachable") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise ToolServerError("broken", code="tool_server_unreachable", retryable=False) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def make_client(kind: str, base_url: str) -> ToolServerClient:
    client = ToolServerClient(base_url, 10.0)
    if kind == "aiohttp":
        client._transport = AiohttpTransport(base_url, 10.0)
    return client


# --------------------------------------------------------------------------- the load


async def phase(client: ToolServerClient, calls: int, in_flight: int, server_pid: int) -> dict[str, float]:
    latencies: list[float] = []
    per_worker = max(1, calls // in_flight)
    clock = time.perf_counter

    async def worker() -> None:
        for _ in range(per_worker):
            start = clock()
            await client.call_tool(TOKEN, "1", "send_email", ARGUMENTS)
            latencies.append(clock() - start)

    for _ in range(5):  # warm: connections open, code paths hot
        await asyncio.gather(*(client.call_tool(TOKEN, "1", "send_email", ARGUMENTS) for _ in range(in_flight)))
    gc.collect()
    gc.disable()  # a collection lands on whichever client is running: noise, not cost
    try:
        server_cpu, cpu, wall = _cpu_seconds(server_pid), time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        server_cpu = _cpu_seconds(server_pid) - server_cpu
    finally:
        gc.enable()
    done = len(latencies)
    ordered = sorted(latencies)
    return {
        "calls_per_s": done / wall,
        "p50_ms": ordered[done // 2] * 1e3,
        "p99_ms": ordered[min(done - 1, int(done * 0.99))] * 1e3,
        "client_cpu_us": cpu / done * 1e6,
        "server_cpu_us": server_cpu / done * 1e6,
    }


async def run(kinds: list[str], calls: int, concurrency: int, rounds: int, base_url: str, pid: int) -> dict[str, Any]:
    samples: dict[str, dict[str, list[dict[str, float]]]] = {k: {"1": [], str(concurrency): []} for k in kinds}
    for round_number in range(rounds):
        order = kinds if round_number % 2 == 0 else kinds[::-1]
        for kind in order:
            client = make_client(kind, base_url)
            try:
                for in_flight in (1, concurrency):
                    samples[kind][str(in_flight)].append(await phase(client, calls, in_flight, pid))
            finally:
                await client.close()
    return {
        kind: {
            in_flight: {key: round(statistics.median(s[key] for s in runs), 2) for key in runs[0]}
            for in_flight, runs in by_flight.items()
        }
        for kind, by_flight in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000, help="calls per phase (default 5000)")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight in the concurrent phase")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--clients", nargs="+", choices=("keepalive", "aiohttp"), default=["keepalive", "aiohttp"])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    kinds = [k for k in args.clients if k != "aiohttp" or importlib.util.find_spec("aiohttp")]
    skipped = sorted(set(args.clients) - set(kinds))
    if args.loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        args.loop = "asyncio"
    process, base_url = start_server()
    try:
        coro = run(kinds, args.calls, args.concurrency, args.rounds, base_url, process.pid)
        if args.loop == "uvloop":
            import uvloop

            results = uvloop.run(coro)
        else:
            results = asyncio.run(coro)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    print(json.dumps({"loop": args.loop, "calls": args.calls, "rounds": args.rounds,
                      "not_installed": skipped, "results": results}))
    print(f"\nforwarding hop, {args.loop}, {args.calls} calls a phase, medians of {args.rounds} round(s)")
    print(f"{'client':<10} {'in flight':>9} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'client CPU µs/call':>19} {'server CPU µs/call':>19}")
    for kind, by_flight in results.items():
        for in_flight, r in by_flight.items():
            print(f"{kind:<10} {in_flight:>9} {r['calls_per_s']:>9.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} "
                  f"{r['client_cpu_us']:>19.1f} {r['server_cpu_us']:>19.1f}")
    if skipped:
        print(f"not installed, not measured: {', '.join(skipped)}")


if __name__ == "__main__":
    main()
