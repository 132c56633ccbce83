"""Memory with many live sessions: the interceptor's resident size, and Redis bytes per session.

    .venv/bin/python bench/memory.py                      # 100,000 sessions, about 2 minutes
    .venv/bin/python bench/memory.py --sessions 5000      # quick

Starts the tool server and the interceptor (both on Redis, under a unique key
prefix) as processes, opens ``--sessions`` sessions through the interceptor's
API (32 connections, raw keep-alive HTTP), makes a call in a sample of them,
then reports: the interceptor's and the tool server's RSS before and after;
Redis ``MEMORY USAGE`` of each kind of key a session leaves (the interceptor's
session hash, the tool server's session key, a used jti), averaged over a
sample; and the growth of Redis ``used_memory`` divided by the session count
(noisy: the server is shared). The keys are deleted afterwards; the database is
never flushed. Prints one JSON object, then a short table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import orjson  # noqa: E402
import redis  # noqa: E402
from interceptor_cost import REDIS_URL  # noqa: E402
from overhead import API_KEY, ARGUMENTS, TOOL, _raw, start_stack  # noqa: E402


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bytes:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{head.splitlines()[0]!r} {body[:200]!r}")
    return body


async def _open_sessions(port: int, count: int, connections: int) -> list[str]:
    host = f"Host: 127.0.0.1:{port}\r\n"
    start = _raw("/session/start", host, b"{}", f"X-Sentinel-Key: {API_KEY}\r\n")
    sids: list[str] = []
    remaining = [count]
    began = time.monotonic()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                sids.append(orjson.loads(await _exchange(reader, writer, start))["session_id"])
                if len(sids) % 10_000 == 0:
                    print(f"  {len(sids)} sessions, {len(sids) / (time.monotonic() - began):.0f}/s", file=sys.stderr)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return sids


async def _call_some(port: int, sids: list[str]) -> None:
    host = f"Host: 127.0.0.1:{port}\r\n"
    body = orjson.dumps({"tool": TOOL, "arguments": ARGUMENTS})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for sid in sids:
            await _exchange(reader, writer, _raw(f"/session/{sid}/call", host, body, f"X-Sentinel-Key: {API_KEY}\r\n"))
    finally:
        writer.close()


def _usage(client: redis.Redis, keys: list[str]) -> float:
    sizes = [client.memory_usage(key) or 0 for key in keys]
    return sum(sizes) / max(1, len(sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass

    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    report: dict[str, Any] = {"sessions": args.sessions}
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), ["redis"])
        try:
            port = stack.ports["redis"]
            interceptor_pid, mcp_pid = stack.pids["redis"]
            prefix = stack.prefixes[0]
            before = {"interceptor": _rss_kib(interceptor_pid), "tool_server": _rss_kib(mcp_pid)}
            used_before = int(client.info("memory")["used_memory"])
            began = time.monotonic()
            sids = asyncio.run(_open_sessions(port, args.sessions, args.connections))
            report["sessions_per_s"] = round(len(sids) / (time.monotonic() - began), 1)
            sample = random.Random(1).sample(sids, min(1000, len(sids)))
            asyncio.run(_call_some(port, sample))
            used_after = int(client.info("memory")["used_memory"])
            after = {"interceptor": _rss_kib(interceptor_pid), "tool_server": _rss_kib(mcp_pid)}
            jti_keys = list(client.scan_iter(match=f"{prefix}j:*", count=1000))[:1000]
            per_key = {
                "interceptor_session_hash": _usage(client, [f"{prefix}session:{sid}" for sid in sample]),
                "tool_server_session_key": _usage(client, [f"{prefix}s:{{{sid}}}" for sid in sample]),
                "used_jti_key (lives until the token expires)": _usage(client, jti_keys),
            }
            report |= {
                "rss_kib_before": before,
                "rss_kib_after": after,
                "redis_bytes_per_key": {k: round(v, 1) for k, v in per_key.items()},
                "redis_bytes_per_live_session": round(
                    per_key["interceptor_session_hash"] + per_key["tool_server_session_key"], 1
                ),
                "redis_used_memory_growth_per_session": round((used_after - used_before) / len(sids), 1),
            }
        finally:
            stack.stop()
            client.close()
    print(json.dumps(report, indent=2))
    print(f"\n{len(sids)} live sessions in Redis")
    for name in ("interceptor", "tool_server"):
        print(f"  {name:<12} RSS {before[name] / 1024:7.1f} MiB -> {after[name] / 1024:7.1f} MiB")
    for name, size in report["redis_bytes_per_key"].items():
        print(f"  Redis {name:<46} {size:8.0f} B")
    print(f"  Redis per live session (both services)                  {report['redis_bytes_per_live_session']:8.0f} B"
          f"   (target <= 2048)")


if __name__ == "__main__":
    main()
