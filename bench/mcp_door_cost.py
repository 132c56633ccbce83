"""What the interceptor's ``/mcp`` costs over the agent API's call, in-process (no sockets).

    .venv/bin/python bench/mcp_door_cost.py                 # about 20 s
    .venv/bin/python bench/mcp_door_cost.py --calls 500 --profile

Part 1: the interceptor's ASGI app (memory state, the example config) in front
of the real tool server (in-process, ASGI transport), one governed call at a
time, the three shapes in alternating blocks: ``POST /session/{sid}/call``,
``/mcp`` at 2026-07-28 (``_meta`` envelope, routing headers, X-Sentinel-Session)
and ``/mcp`` at 2025-11-25 (after initialize), each with the headers the
official client sends. µs per call (median); the differences are the door's.
Part 2: the door's own steps, each timed alone on the same request (µs, median
of many): what ``/mcp`` does that the agent API's call does not. ``--profile``
prints what the door's functions call, under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from interceptor import mcp_endpoint, routes  # noqa: E402
from interceptor.app import create_app  # noqa: E402
from interceptor.settings import load_settings  # noqa: E402
from interceptor.state import open_state_store  # noqa: E402
from mcp_server.app import create_app as create_tool_server  # noqa: E402
from mcp_server.settings import McpSettings  # noqa: E402
from sentinel_contract import b64url_encode, generate_keypair  # noqa: E402

KEY = "sk-sentinel-demo"
EXAMPLE = ROOT / "examples" / "sentinel.yaml"
TOOL, ARGUMENTS = "get_current_time", {"timezone": "UTC"}
MODERN, LEGACY = "2026-07-28", "2025-11-25"
CLIENT_HEADERS = {"host": "127.0.0.1:9", "accept-encoding": "gzip, deflate", "connection": "keep-alive",
                  "user-agent": "python-httpx2/2.17.0", "accept": "application/json, text/event-stream",
                  "content-type": "application/json"}
META = {"io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
        "io.modelcontextprotocol/clientCapabilities": {}}


class Request:
    """One pre-built ASGI request: scope headers and body, sent again and again."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path, self.body = path, body
        self.headers = [(k.encode(), v.encode()) for k, v in {**headers, "content-length": str(len(body))}.items()]

    async def send_to(self, app: Any) -> tuple[int, bytes]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": self.path, "raw_path": self.path.encode(), "query_string": b"",
                 "root_path": "", "headers": list(self.headers), "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 9)}
        sent = False
        out: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            elif message["type"] == "http.response.body":
                out["body"] = out.get("body", b"") + message.get("body", b"")

        await app(scope, receive, send)
        return out["status"], out["body"]


async def _requests(app: Any) -> dict[str, Request]:
    sids = []
    for _ in range(2):
        status, body = await Request("/session/start", {**CLIENT_HEADERS, "x-sentinel-key": KEY}, b"").send_to(app)
        assert status == 200, body
        sids.append(orjson.loads(body)["session_id"])
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "mcp", "version": "0.1.0"}}}
    auth = {**CLIENT_HEADERS, "authorization": f"Bearer {KEY}"}
    initialize = Request("/mcp", auth, orjson.dumps(hello))
    status, body = await initialize.send_to(app)
    assert status == 200, body
    mcp_sid = orjson.loads(await _session_of(app, initialize))
    call = {"name": TOOL, "arguments": ARGUMENTS}
    return {
        "api": Request(f"/session/{sids[0]}/call", {**CLIENT_HEADERS, "x-sentinel-key": KEY},
                       orjson.dumps({"tool": TOOL, "arguments": ARGUMENTS})),
        "mcp 2026-07-28": Request("/mcp", {**auth, "mcp-protocol-version": MODERN, "mcp-method": "tools/call",
                                           "mcp-name": TOOL, "x-sentinel-session": sids[1]},
                                  orjson.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                                "params": {**call, "_meta": META}})),
        "mcp 2025-11-25": Request("/mcp", {**auth, "mcp-protocol-version": LEGACY, "mcp-session-id": mcp_sid},
                                  orjson.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call})),
    }


async def _session_of(app: Any, initialize: Request) -> bytes:
    """The Mcp-Session-Id an initialize answers (as a JSON string)."""
    scope_headers: list[tuple[bytes, bytes]] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            scope_headers.extend(message["headers"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": initialize.body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": initialize.headers, "query_string": b""}
    await app(scope, receive, send)
    return json.dumps(dict(scope_headers)[b"mcp-session-id"].decode()).encode()


async def whole_calls(app: Any, requests: dict[str, Request], calls: int, profile: bool) -> dict[str, Any]:
    times: dict[str, list[float]] = {name: [] for name in requests}
    for request in requests.values():  # warm
        for _ in range(50):
            status, body = await request.send_to(app)
            assert status == 200 and b'"isError":false' in body, body[:300]
    block = 50
    for _ in range(max(1, calls // block)):
        for name, request in requests.items():
            for _ in range(block):
                t0 = time.perf_counter()
                await request.send_to(app)
                times[name].append((time.perf_counter() - t0) * 1e6)
    out = {name: round(statistics.median(t), 1) for name, t in times.items()}
    if profile:  # cProfile's clock is unreliable across awaits: read the call counts and relative shares
        for name, request in requests.items():
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(calls):
                await request.send_to(app)
            profiler.disable()
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
            stats.print_callees("answer_call" if name == "api" else "serve_mcp|_read_message|_call_tool")
            print(f"--- cProfile, {name}, {calls} calls: what the door's functions call (cumulative s)\n"
                  + text.getvalue().strip())
    return out


def _time(fn: Callable[[], Any], n: int = 5000) -> float:
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) * 1e6 / n)
    return round(statistics.median(samples), 2)


def steps(requests: dict[str, Request]) -> dict[str, float]:
    """The door's own steps on the 2026-07-28 request, against the agent API's equivalents."""
    api, modern, legacy = requests["api"], requests["mcp 2026-07-28"], requests["mcp 2025-11-25"]
    api_scope, modern_scope = {"headers": api.headers}, {"headers": modern.headers}
    headers = mcp_endpoint._headers(modern_scope)
    legacy_headers = mcp_endpoint._headers({"headers": legacy.headers})
    message = orjson.loads(modern.body)
    legacy_message = orjson.loads(legacy.body)
    result = {"content": [{"type": "text", "text": "2026-01-01T00:00:00+00:00"}], "isError": False}
    body = {"result": result, "decision": {"rule": "staticRules.get_current_time", "reason": "allowed"}, "jti": "x" * 22}

    def answer() -> bytes:
        out = dict(body["result"])
        out["_meta"] = {"sentinel/decision": body["decision"], "sentinel/jti": body["jti"]}
        out["resultType"] = "complete"
        return orjson.dumps({"jsonrpc": "2.0", "id": 2, "result": out})

    return {
        "api: first_headers (2 wanted)": _time(lambda: routes.sentinel_http.first_headers(api_scope, routes._CALL_HEADERS)),
        "mcp: _headers (the ones it reads, as a dict)": _time(lambda: mcp_endpoint._headers(modern_scope)),
        "api: orjson.loads + duplicate-key check (body)": _time(
            lambda: routes._parse_object(api.body, required=True, fields=routes._CALL_FIELDS)),
        "mcp: orjson.loads (body)": _time(lambda: orjson.loads(modern.body)),
        "mcp: duplicate-key check (2026 body)": _time(
            lambda: routes.refuse_duplicate_keys(modern.body, orjson.loads(modern.body))),
        "mcp: duplicate-key check (2025 body)": _time(
            lambda: routes.refuse_duplicate_keys(legacy.body, orjson.loads(legacy.body))),
        "mcp: _check_envelope": _time(lambda: mcp_endpoint._check_envelope(message)),
        "mcp: _version, 2026-07-28 (SDK classify_inbound_request)": _time(lambda: mcp_endpoint._version(message, headers)),
        "mcp: _version, 2025-11-25": _time(lambda: mcp_endpoint._version(legacy_message, legacy_headers)),
        "api: orjson.dumps(outcome.body)": _time(lambda: orjson.dumps(body)),
        "mcp: result + _meta + JSON-RPC answer": _time(answer),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="calls per shape (in blocks of 50, alternating)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions per shape")
    args = parser.parse_args()
    identity = generate_keypair()
    with tempfile.TemporaryDirectory() as tmp:
        tool_server = create_tool_server(McpSettings(
            interceptor_public_keys=identity.public_b64, mcp_audit_log=Path(tmp) / "mcp-audit.jsonl",
            mcp_data_dir=Path(tmp) / "mcp-data",
        ))
        async with tool_server.router.lifespan_context(tool_server):
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=tool_server))
            settings = load_settings(identity_key=b64url_encode(identity.seed), config_path=EXAMPLE,
                                     audit_log=Path(tmp) / "audit.jsonl")
            store = open_state_store(None)
            app = create_app(settings, state_store=store, http_client=http)
            async with app.router.lifespan_context(app):
                requests = await _requests(app)
                whole = await whole_calls(app, requests, args.calls, args.profile)
            await http.aclose()
            await store.close()
    parts = steps(requests)
    report = {"whole_call_us": whole, "door_added_us": {name: round(us - whole["api"], 1)
                                                        for name, us in whole.items() if name != "api"},
              "steps_us": parts}
    print(json.dumps(report, indent=2))
    print(f"\n{'one governed call, in-process (interceptor + tool server)':<58}{'µs':>8}")
    for name, us in whole.items():
        print(f"{name:<58}{us:>8.0f}")
    print(f"\n{'a step of one call, alone':<58}{'µs':>8}")
    for name, us in parts.items():
        print(f"{name:<58}{us:>8.2f}")


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(main())
