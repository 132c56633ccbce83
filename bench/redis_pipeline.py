"""What one Lua script call costs a process: redis-py's own path against ``ScriptPipeline``.

    .venv/bin/python bench/redis_pipeline.py                       # about 10 s
    .venv/bin/python bench/redis_pipeline.py --calls 20000 --rounds 5
    .venv/bin/python bench/redis_pipeline.py --calls 100 --rounds 1  # smoke

Against the machine's Redis (``SENTINEL_TEST_REDIS_URL``, default
redis://127.0.0.1:6379/0), on uvloop as the services run, in one process:
``--calls`` EVALSHA calls of the tool server's claim-once script shape (SET NX
EX on a fresh key, as ``admit.lua`` does for a ``jti``), first one at a time,
then ``--concurrency`` callers at once, for each path:

    redis-py    ``await script(keys=..., args=...)``: the client, its pool, its parser
    pipeline    ``sentinel_redis.ScriptPipeline.run``: what both zones use

Rounds alternate the order. For each phase: CPU µs per call of this process
(``time.process_time``: the client's cost; Redis's own is not in it) and wall µs
per call; medians over rounds, and the pipeline's ratio to redis-py. Keys are
written under a prefix of their own and deleted afterwards. The machine is
shared and noisy: compare the paired rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402

from sentinel_redis import ScriptPipeline, delete_prefix  # noqa: E402

REDIS_URL = os.environ.get("SENTINEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLAIM = "if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 'ok' end return 'replayed_jti'"


async def _phase(call: Any, prefix: str, calls: int, concurrency: int) -> tuple[float, float]:
    per_caller = max(1, calls // concurrency)

    async def caller(k: int) -> None:
        for i in range(per_caller):
            assert await call([f"{prefix}{k}:{i}"], [60]) == b"ok"

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller(k) for k in range(concurrency)))
    done = per_caller * concurrency
    return (time.process_time() - cpu) * 1e6 / done, (time.perf_counter() - wall) * 1e6 / done


async def run(calls: int, rounds: int, concurrency: int) -> dict[str, Any]:
    client = aioredis.Redis.from_url(REDIS_URL, socket_timeout=2.0)
    script = client.register_script(CLAIM)
    await client.script_load(CLAIM)
    pipeline = ScriptPipeline(client)
    paths = {
        "redis-py": lambda keys, args: script(keys=keys, args=args),
        "pipeline": lambda keys, args: pipeline.run(script, keys, args),
    }
    samples: dict[str, list[tuple[float, float]]] = {}
    base = f"bench:pipeline:{uuid.uuid4().hex[:8]}:"
    try:
        for r in range(rounds):
            order = list(paths) if r % 2 == 0 else list(reversed(paths))
            for name in order:
                for c in (1, concurrency):
                    prefix = f"{base}{name}:{r}:{c}:"
                    await paths[name]([prefix + "warm"], [60])
                    samples.setdefault(f"{name}@{c}", []).append(await _phase(paths[name], prefix, calls, c))
    finally:
        await pipeline.aclose()
        await client.aclose()
        delete_prefix(REDIS_URL, base)
    rows = {
        key: {
            "cpu_us_per_call": round(statistics.median(s[0] for s in values), 1),
            "wall_us_per_call": round(statistics.median(s[1] for s in values), 1),
        }
        for key, values in samples.items()
    }
    ratios = {
        f"pipeline/redis-py@{c}": {
            "cpu": round(statistics.median(p[0] / b[0] for p, b in zip(samples[f"pipeline@{c}"], samples[f"redis-py@{c}"], strict=True)), 2),
            "wall": round(statistics.median(p[1] / b[1] for p, b in zip(samples[f"pipeline@{c}"], samples[f"redis-py@{c}"], strict=True)), 2),
        }
        for c in (1, concurrency)
    }
    return {"calls": calls, "rounds": rounds, "concurrency": concurrency, "rows": rows, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000, help="calls per phase (default 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    import uvloop

    report = uvloop.run(run(args.calls, args.rounds, args.concurrency))
    print(json.dumps(report, indent=2))
    print(f"\n{'path@callers':<16}{'CPU µs/call':>13}{'wall µs/call':>14}")
    for name, row in report["rows"].items():
        print(f"{name:<16}{row['cpu_us_per_call']:>13.1f}{row['wall_us_per_call']:>14.1f}")
    for name, ratio in report["ratios"].items():
        print(f"{name:<26} CPU x{ratio['cpu']:.2f}  wall x{ratio['wall']:.2f}")


if __name__ == "__main__":
    main()
