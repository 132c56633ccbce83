"""``POST /rpc`` served as raw ASGI before FastAPI: the same answers as the FastAPI route gave.

The app is driven like an ASGI server drives it (a scope, ``receive`` handing
out the body chunk by chunk, ``send`` recording the answer), so these tests see
what a client would: how much of the body was read, the status, the headers,
and that the answer is one body message. Every other route still goes through
FastAPI, and so does ``/rpc`` when the fast dispatch does not take it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from mcp_server.testing import McpHarness

EMAIL = {"to": "friend@example.com", "subject": "Lunch", "body": "See you at noon."}
CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "send_email", "arguments": EMAIL}}
MIB = 1024 * 1024


@dataclass
class Exchange:
    """One request as an ASGI server would run it, and what the app answered."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    receives: int = 0

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.sent[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])

    def json(self) -> Any:
        return orjson.loads(self.body)


async def exchange(
    app: Any,
    chunks: Iterable[bytes] = (b"",),
    *,
    method: str = "POST",
    path: str = "/rpc",
    root_path: str = "",
    headers: Iterable[tuple[bytes, bytes]] = (),
    more_after_last: bool = False,
) -> Exchange:
    """``chunks`` are handed out one per ``receive``; after the last, the client is gone (disconnect)."""
    done = Exchange()
    source = iter(chunks)
    pending = next(source, None)

    async def receive() -> dict[str, Any]:
        nonlocal pending
        done.receives += 1
        if pending is None:
            return {"type": "http.disconnect"}
        chunk, pending = pending, next(source, None)
        return {"type": "http.request", "body": chunk, "more_body": pending is not None or more_after_last}

    async def send(message: dict[str, Any]) -> None:
        done.sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": root_path, "headers": [(b"host", b"mcp.test"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 9000),
    }
    await app(scope, receive, send)
    return done


def assert_one_json_answer(done: Exchange) -> dict[str, Any]:
    """HTTP 200, content-length and content-type, the whole body in one message; the JSON-RPC answer."""
    assert [m["type"] for m in done.sent] == ["http.response.start", "http.response.body"], done.sent
    assert done.status == 200
    assert done.headers == [(b"content-length", str(len(done.body)).encode()), (b"content-type", b"application/json")]
    assert not done.sent[1].get("more_body", False)
    return dict(done.json())


class PathRecorder:
    """A pure ASGI middleware: which requests went through FastAPI's middleware stack."""

    def __init__(self, app: Any, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append(f'{scope["method"]} {scope["path"]}')
        await self.app(scope, receive, send)


@pytest.fixture
async def mcp(tmp_path):
    async with McpHarness.open(tmp_path) as harness:
        yield harness


def _bearer(token: str) -> tuple[bytes, bytes]:
    return (b"authorization", f"Bearer {token}".encode())


# -- bodies --------------------------------------------------------------------------


async def test_declared_oversized_body_is_refused_before_a_byte_is_read(mcp):
    done = await exchange(mcp.app, itertools.repeat(b" " * 65536), more_after_last=True,
                          headers=[(b"content-length", b"5000000"), _bearer("x")])
    answer = assert_one_json_answer(done)
    assert answer == {"jsonrpc": "2.0", "id": None, "error": {
        "code": -32006, "message": f"the body exceeds {MIB} bytes", "data": {"reason": "payload_too_large"}}}
    assert done.receives == 0
    assert [(r["event"], r["reason"]) for r in mcp.audit()] == [("rejected", "payload_too_large")]


async def test_chunked_body_without_content_length_is_cut_off_past_the_limit(mcp):
    done = await exchange(mcp.app, itertools.repeat(b" " * 65536), more_after_last=True, headers=[_bearer("x")])
    assert assert_one_json_answer(done)["error"]["data"]["reason"] == "payload_too_large"
    assert done.receives == 17  # 16 chunks fill the 1 MiB limit; the 17th passes it and ends the read
    assert [(r["event"], r["reason"]) for r in mcp.audit()] == [("rejected", "payload_too_large")]


async def test_lying_content_length_is_cut_off_past_the_limit(mcp):
    done = await exchange(mcp.app, itertools.repeat(b" " * 65536), more_after_last=True,
                          headers=[(b"content-length", b"100"), _bearer("x")])
    assert assert_one_json_answer(done)["error"]["code"] == -32006
    assert done.receives == 17


async def test_body_of_exactly_the_limit_is_read(mcp):
    session = await mcp.register()
    body = orjson.dumps(CALL)
    padded = body + b" " * (MIB - len(body))  # JSON allows trailing whitespace
    token = mcp.sign(session, "send_email", EMAIL)
    done = await exchange(mcp.app, [padded[:MIB // 2], padded[MIB // 2:]],
                          headers=[(b"content-length", str(MIB).encode()), _bearer(token)])
    assert assert_one_json_answer(done)["result"]["isError"] is False
    assert [m["to"] for m in mcp.outbox()] == ["friend@example.com"]


async def test_client_gone_mid_body_gets_no_answer_and_nothing_runs(mcp):
    session = await mcp.register()
    before = len(mcp.audit())
    # The whole call arrives, but the client says more is coming and then disconnects:
    # a reader that took the disconnect for the end of the body would send the email.
    done = await exchange(mcp.app, [orjson.dumps(CALL)], more_after_last=True,
                          headers=[_bearer(mcp.sign(session, "send_email", EMAIL))])
    assert done.sent == []
    assert done.receives == 2
    assert mcp.outbox() == [] and len(mcp.audit()) == before


async def test_malformed_content_length_is_an_invalid_request(mcp):
    done = await exchange(mcp.app, [orjson.dumps(CALL)], headers=[(b"content-length", b"12abc")])
    error = assert_one_json_answer(done)["error"]
    assert (error["code"], error["data"]["reason"]) == (-32600, "invalid_request")
    assert error["message"] == "bad Content-Length"


async def test_session_routes_read_bodies_through_the_same_limit(mcp):
    too_large = {"error": {"code": "payload_too_large", "message": f"the body exceeds {MIB} bytes"}}
    declared = await exchange(mcp.app, itertools.repeat(b" " * 65536), more_after_last=True, path="/sessions",
                              headers=[(b"content-length", b"5000000")])
    assert (declared.status, declared.json(), declared.receives) == (413, too_large, 0)
    streamed = await exchange(mcp.app, itertools.repeat(b" " * 65536), more_after_last=True, method="DELETE",
                              path="/sessions/s-1")
    assert (streamed.status, streamed.json(), streamed.receives) == (413, too_large, 17)
    assert [(r["event"], r["reason"], r["method"]) for r in mcp.audit()] == [
        ("rejected", "payload_too_large", "sessions/register"), ("rejected", "payload_too_large", "sessions/revoke")]


# -- answers -------------------------------------------------------------------------


async def test_signed_call_runs_once_and_answers_with_its_id(mcp):
    session = await mcp.register()
    token = mcp.sign(session, "send_email", EMAIL)
    body = orjson.dumps(CALL)
    first = assert_one_json_answer(await exchange(mcp.app, [body[:40], b"", body[40:]], headers=[_bearer(token)]))
    again = assert_one_json_answer(await exchange(mcp.app, [body], headers=[_bearer(token)]))
    assert (first["id"], first["result"]["isError"]) == (7, False)
    assert (again["id"], again["error"]["code"], again["error"]["data"]["reason"]) == (7, -32005, "replayed_jti")
    assert [m["to"] for m in mcp.outbox()] == ["friend@example.com"]


async def test_missing_authorization_is_a_jsonrpc_error_with_http_200(mcp):
    done = await exchange(mcp.app, [orjson.dumps(CALL)])
    answer = assert_one_json_answer(done)
    assert answer["id"] == 7 and answer["error"]["code"] == -32001
    assert answer["error"]["data"]["reason"] == "missing_token"
    assert mcp.outbox() == []
    assert [(r["event"], r["reason"]) for r in mcp.audit()] == [("rejected", "missing_token")]


async def test_only_the_first_authorization_header_counts(mcp):
    session = await mcp.register()
    token = mcp.sign(session, "send_email", EMAIL)
    done = await exchange(mcp.app, [orjson.dumps(CALL)], headers=[(b"authorization", b"Basic eA=="), _bearer(token)])
    assert assert_one_json_answer(done)["error"]["data"]["reason"] == "missing_token"
    assert mcp.outbox() == []


async def test_parse_error_answers_null_id(mcp):
    answer = assert_one_json_answer(await exchange(mcp.app, [b'{"jsonrpc": "2.0", "id": 3,'], headers=[_bearer("x")]))
    assert answer == {"jsonrpc": "2.0", "id": None, "error": {
        "code": -32700, "message": "the body is not valid JSON", "data": {"reason": "parse_error"}}}


async def test_unexpected_failure_answers_a_fixed_internal_error(mcp, monkeypatch):
    session = await mcp.register()
    runtime = mcp.app.holder.runtime

    def broken_audit(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full at /srv/secret-path")

    monkeypatch.setattr(runtime.audit, "record", broken_audit)
    done = await exchange(mcp.app, [orjson.dumps(CALL)], headers=[_bearer(mcp.sign(session, "send_email", "x"))])
    answer = assert_one_json_answer(done)
    assert answer == {"jsonrpc": "2.0", "id": None, "error": {
        "code": -32603, "message": "internal error", "data": {"reason": "internal_error"}}}
    assert b"secret-path" not in done.body and b"OSError" not in done.body


# -- routing -------------------------------------------------------------------------


async def test_get_rpc_is_405_from_fastapi_as_before(mcp):
    done = await exchange(mcp.app, method="GET")
    assert done.status == 405
    assert (b"allow", b"POST") in done.headers
    assert done.json() == {"detail": "Method Not Allowed"}
    assert mcp.audit() == []


async def test_post_rpc_skips_fastapi_and_every_other_route_goes_through_it(mcp):
    seen: list[str] = []
    mcp.app.add_middleware(PathRecorder, seen=seen)
    session = await mcp.register()  # POST /sessions
    assert (await mcp.client.get("/healthz")).json() == {"status": "ok"}
    assert (await exchange(mcp.app, method="GET")).status == 405
    assert (await exchange(mcp.app, path="/rpc/")).status == 307  # FastAPI's slash redirect, as before
    answer = await mcp.call(session, "send_email", EMAIL)
    assert answer["result"]["isError"] is False
    assert (await mcp.revoke(session)).status_code == 200  # DELETE /sessions/{sid}
    assert seen == ["POST /sessions", "GET /healthz", "GET /rpc", "POST /rpc/", f"DELETE /sessions/{session.sid}"]


async def test_rpc_under_a_root_path_goes_through_fastapi_with_the_same_answer(mcp):
    seen: list[str] = []
    mcp.app.add_middleware(PathRecorder, seen=seen)
    body = orjson.dumps({"jsonrpc": "2.0", "id": "q", "method": "tools/list"})
    fast = await exchange(mcp.app, [body])
    framework = await exchange(mcp.app, [body], path="/mount/rpc", root_path="/mount")
    assert seen == ["POST /mount/rpc"]
    assert assert_one_json_answer(framework) == assert_one_json_answer(fast)
    assert framework.body == fast.body and framework.headers == fast.headers
    assert fast.json()["error"]["data"]["reason"] == "missing_token"


async def test_before_the_lifespan_rpc_is_not_answered_by_the_fast_path(tmp_path):
    from mcp_server.app import create_app
    from mcp_server.settings import McpSettings
    from sentinel_contract import generate_keypair

    app = create_app(McpSettings(interceptor_public_keys=generate_keypair().public_b64,
                                 mcp_audit_log=tmp_path / "audit.jsonl", mcp_data_dir=tmp_path / "data"))
    with pytest.raises(AssertionError, match="lifespan"):
        await exchange(app, [orjson.dumps(CALL)])
