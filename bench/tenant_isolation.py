"""Tenant isolation under a flood of large calls (issue 16.6): another tenant's latency, measured.

    .venv/bin/python bench/tenant_isolation.py                         # this tree, about a minute
    git worktree add /tmp/wt-before HEAD                               # the code before a change
    .venv/bin/python bench/tenant_isolation.py --pythonpath /tmp/wt-before --label before
    .venv/bin/python bench/tenant_isolation.py --max-argument-bytes 1000000   # let 900 kB calls be decided

Starts the real services as processes (``sentinel serve mcp`` with verification
on, ``sentinel serve interceptor`` with Redis state by default), the servers
running the code found on ``--pythonpath`` (default: this tree; a ``git
worktree`` of an older commit gives the "before" number). Two projects share the
interceptor, each with a data-flow rule (``flows_from_untrusted``) that reads
every string of a write's arguments, so policy work grows with their size.

Phases, each ``--seconds`` long:
    alone      the victim tenant alone: one connection, calls back to back
    flood      the same, while one session of the other tenant floods with
               ``--flood-connections`` concurrent calls of ``--argument-bytes`` each
    flood-1mb  the same flood with 900 kB arguments

The victim's call is ``get_current_time`` (its whole governed path: policy,
state commit, signing, forwarding, verification). The flooder runs in its own
process, so its client work does not land in the victim's measurements. Prints
one JSON object and a table: the victim's calls, p50, p99 and max, and what the
flood got (calls answered, by status). Loopback only; the machine is shared and
noisy, so compare phases of one run, and runs only side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("SENTINEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
VICTIM_KEY, FLOODER_KEY = "sk-bench-victim", "sk-bench-flooder"

PROJECT = """\
  - name: {name}
    api_key_sha256: {key_hash}
    tools:
      - {{name: get_current_time, description: time, input_schema: {{type: object}}, class: SAFE_READ}}
      - {{name: read_inbox, description: mail, input_schema: {{type: object}}, class: UNTRUSTED_READ}}
      - {{name: send_email, description: send, input_schema: {{type: object}}, class: CONSEQUENTIAL_WRITE}}
    policies:
      rules:
        - {{name: reads, effect: allow, when: {{class: [SAFE_READ, UNTRUSTED_READ]}}}}
        - {{name: no-exfil, effect: deny, when: {{class: CONSEQUENTIAL_WRITE, flows_from_untrusted: true}}}}
        - {{name: writes, effect: allow, when: {{class: CONSEQUENTIAL_WRITE}}}}
"""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- raw HTTP/1.1


def _request(port: int, path: str, key: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Sentinel-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    body = await reader.readexactly(length)
    return int(head.split(b" ", 2)[1]), body


def _post(port: int, path: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    import httpx

    response = httpx.post(f"http://127.0.0.1:{port}{path}", json=payload, headers={"X-Sentinel-Key": key}, timeout=30)
    response.raise_for_status()
    return dict(response.json())


# --------------------------------------------------------------------------- the flooder (its own process)


async def _flood(port: int, sid: str, argument_bytes: int, connections: int, seconds: float) -> dict[str, Any]:
    words = "the quarterly figures look fine see the attached notes for details "
    body = (words * (argument_bytes // len(words) + 1))[:argument_bytes]
    payload = json.dumps({"tool": "send_email", "arguments": {"to": "team@corp.example", "subject": "s", "body": body}})
    request = _request(port, f"/session/{sid}/call", FLOODER_KEY, payload.encode())
    statuses: dict[str, int] = {}
    stop = time.monotonic() + seconds

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
        try:
            while time.monotonic() < stop:
                status, _ = await _exchange(reader, writer, request)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return {"answered": sum(statuses.values()), "statuses": statuses}


# --------------------------------------------------------------------------- the victim


async def _victim(port: int, sid: str, seconds: float) -> dict[str, Any]:
    request = _request(port, f"/session/{sid}/call", VICTIM_KEY, b'{"tool":"get_current_time","arguments":{}}')
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies: list[float] = []
    failures = 0
    stop = time.monotonic() + seconds
    try:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            status, _ = await _exchange(reader, writer, request)
            latencies.append((time.perf_counter() - t0) * 1000)
            failures += status != 200
    finally:
        writer.close()
    ms = sorted(latencies)
    return {
        "calls": len(ms),
        "failed": failures,
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        "max_ms": round(ms[-1], 2),
    }


def _phase(port: int, victim_sid: str, flooder_sid: str | None, argument_bytes: int, connections: int,
           seconds: float) -> dict[str, Any]:
    flooder = None
    if flooder_sid is not None:
        flooder = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--flood", str(port), flooder_sid, str(argument_bytes),
             str(connections), str(seconds + 1)],
            stdout=subprocess.PIPE,
        )
        time.sleep(0.5)  # the flood is under way before the victim's first call
    victim = asyncio.run(_victim(port, victim_sid, seconds))
    row: dict[str, Any] = {"victim": victim}
    if flooder is not None:
        out, _ = flooder.communicate(timeout=seconds + 120)
        row["flood"] = json.loads(out)
    return row


# --------------------------------------------------------------------------- the stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pythonpath", default=str(ROOT), help="PYTHONPATH of the servers (default: this tree)")
    parser.add_argument("--max-argument-bytes", type=int, help="SENTINEL_MAX_ARGUMENT_BYTES of the interceptor")
    parser.add_argument("--label", default="", help="a name for this run in the output")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per phase (default 8)")
    parser.add_argument("--flood-connections", type=int, default=8)
    parser.add_argument("--argument-bytes", type=int, default=60_000, help="the flood's argument size (default 60000)")
    parser.add_argument("--state", choices=["redis", "memory"], default="redis")
    parser.add_argument("--flood", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood:
        port, sid, size, connections, seconds = args.flood
        print(json.dumps(asyncio.run(_flood(int(port), sid, int(size), int(connections), float(seconds)))))
        return

    sys.path.insert(0, str(ROOT))
    from sentinel_contract import b64url_encode, generate_keypair

    identity = generate_keypair()
    prefix = f"bench:isolation:{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "tenants.yaml"
        config.write_text("projects:\n" + PROJECT.format(name="victim", key_hash=_sha256(VICTIM_KEY))
                          + PROJECT.format(name="flooder", key_hash=_sha256(FLOODER_KEY)))
        mcp_port, port = _free_port(), _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")},
            "PYTHONPATH": args.pythonpath,
            "SENTINEL_INTERCEPTOR_PUBLIC_KEYS": identity.public_b64,
            "SENTINEL_IDENTITY_KEY": b64url_encode(identity.seed),
            "SENTINEL_CONFIG": str(config),
            "SENTINEL_MCP_AUDIT_LOG": str(tmp / "mcp-audit.jsonl"),
            "SENTINEL_MCP_DATA_DIR": str(tmp / "mcp-data"),
            "SENTINEL_AUDIT_LOG": str(tmp / "audit.jsonl"),
            "MCP_UPSTREAM_URL": f"http://127.0.0.1:{mcp_port}",
        }
        if args.state == "redis":
            env |= {"SENTINEL_REDIS_URL": REDIS_URL, "SENTINEL_REDIS_PREFIX": prefix}
        if args.max_argument_bytes:
            env["SENTINEL_MAX_ARGUMENT_BYTES"] = str(args.max_argument_bytes)
        cli = [sys.executable, "-m", "sentinel_cli", "serve"]
        quiet = ["--log-level", "warning"]
        processes = [
            subprocess.Popen([*cli, "mcp", "--port", str(mcp_port), *quiet], env={**env, "SENTINEL_REDIS_URL": ""},
                             cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([*cli, "interceptor", "--port", str(port), *quiet], env=env, cwd=tmp,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        try:
            _wait_up(mcp_port)
            _wait_up(port)
            victim_sid = _post(port, "/session/start", VICTIM_KEY, {})["session_id"]
            flooder_sid = _post(port, "/session/start", FLOODER_KEY, {})["session_id"]
            for key, sid in ((VICTIM_KEY, victim_sid), (FLOODER_KEY, flooder_sid)):
                # Untrusted output in each session's history: the data-flow rule now reads every argument.
                _post(port, f"/session/{sid}/call", key, {"tool": "read_inbox", "arguments": {"limit": 5}})
            asyncio.run(_victim(port, victim_sid, 1.0))  # warm-up
            phases = {
                "alone": _phase(port, victim_sid, None, 0, 0, args.seconds),
                "flood": _phase(port, victim_sid, flooder_sid, args.argument_bytes, args.flood_connections,
                                args.seconds),
                "flood-1mb": _phase(port, victim_sid, flooder_sid, 900_000, args.flood_connections, args.seconds),
            }
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=10)
            if args.state == "redis":
                from sentinel_redis import delete_prefix

                delete_prefix(REDIS_URL, prefix)
    report = {"label": args.label, "pythonpath": args.pythonpath, "state": args.state, "seconds": args.seconds,
              "flood_connections": args.flood_connections, "argument_bytes": args.argument_bytes, "phases": phases}
    print(json.dumps(report, indent=2))
    limit = args.max_argument_bytes or "default"
    print(f"\n{args.label or args.pythonpath}  (state: {args.state}; flood: {args.flood_connections} connections; "
          f"max argument bytes: {limit})")
    print(f"{'phase':<11}{'victim calls':>13}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}   flood answered (by status)")
    for name, row in phases.items():
        v = row["victim"]
        flood = row.get("flood")
        flood_text = f"{flood['answered']} {flood['statuses']}" if flood else "-"
        print(f"{name:<11}{v['calls']:>13}{v['p50_ms']:>9}{v['p99_ms']:>9}{v['max_ms']:>9}   {flood_text}")


def _wait_up(port: int, deadline: float = 30) -> None:
    import httpx

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not come up")


if __name__ == "__main__":
    main()
