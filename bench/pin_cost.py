"""What pinning a tool's definition costs the tool server per call (docs/performance.md, "Pinned definitions").

    .venv/bin/python bench/pin_cost.py [--calls 20000] [--rounds 5]

Rows, each the median over ``--rounds`` of CPU µs per call (``time.process_time``):

- ``check/registry``: the pin check of a call on a ``--tools`` registry
  (``ToolSource.definition_sha256`` + the comparison), the definition hashed once;
- ``check/upstream-fresh``: the same on an upstream whose listing is younger than
  ``tools_ttl_seconds`` (mcp-server-time over stdio, the real ``UpstreamSource``);
- ``verify/plain`` and ``verify/pinned``: ``verify_call`` of a token without and
  with the ``tool_sha256`` claim;
- ``relist/upstream``: one re-read of the upstream's listing (wall ms, what a
  pinned call pays once per TTL, or after ``notifications/tools/list_changed``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from mcp_server.demo import build_registry
from mcp_server.sources import RegistrySource, UpstreamSource, parse_upstream
from sentinel_contract import generate_keypair, sign_call, verify_call

TIME_SERVER = str(Path(sys.executable).parent / "mcp-server-time")


async def _per_call(check, calls: int, rounds: int) -> float:  # type: ignore[no-untyped-def]
    results = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            await check()
        results.append((time.process_time() - started) / calls * 1e6)
    return statistics.median(results)


async def main(calls: int, rounds: int) -> dict[str, float]:
    rows: dict[str, float] = {}
    registry = RegistrySource(build_registry(Path("/tmp")))
    pin = await registry.definition_sha256("get_current_time")

    async def registry_check() -> None:
        assert await registry.definition_sha256("get_current_time") == pin

    rows["check/registry µs"] = await _per_call(registry_check, calls, rounds)
    upstream = UpstreamSource(parse_upstream(f"time=stdio:{TIME_SERVER} --local-timezone UTC", tools_ttl_seconds=3600))
    await upstream.open()
    try:
        upstream_pin = await upstream.definition_sha256("time__get_current_time")

        async def upstream_check() -> None:
            assert await upstream.definition_sha256("time__get_current_time") == upstream_pin

        rows["check/upstream-fresh µs"] = await _per_call(upstream_check, calls, rounds)
    finally:
        await upstream.close()
    # tools_ttl_seconds 0: every pinned call re-reads the listing first, so each check is one re-read.
    relisting = UpstreamSource(parse_upstream(f"time=stdio:{TIME_SERVER} --local-timezone UTC", tools_ttl_seconds=0))
    await relisting.open()
    try:
        relists = []
        for _ in range(50):
            started = time.perf_counter()
            await relisting.definition_sha256("time__get_current_time")
            relists.append((time.perf_counter() - started) * 1000)
        rows["relist/upstream ms (wall)"] = statistics.median(relists)
    finally:
        await relisting.close()
    key = generate_keypair()
    arguments = {"timezone": "Europe/Paris"}
    for label, claim in (("verify/plain µs", None), ("verify/pinned µs", pin)):
        tokens = [sign_call(key.private, iss="i", aud="a", sid="s", tool="t", arguments=arguments, tool_sha256=claim)[0]
                  for _ in range(calls)]
        samples = []
        for _ in range(rounds):
            started = time.process_time()
            for token in tokens:
                verify_call(token, key.public, audience="a", tool="t", arguments=arguments)
            samples.append((time.process_time() - started) / calls * 1e6)
        rows[label] = statistics.median(samples)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    rows = asyncio.run(main(options.calls, options.rounds))
    print(json.dumps({k: round(v, 3) for k, v in rows.items()}, indent=2, ensure_ascii=False))
