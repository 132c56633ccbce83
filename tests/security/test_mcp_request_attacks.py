"""Malformed, oversized, batched or unknown requests, failing tools and sandbox escapes.
Each is refused (or contained) and executes nothing. Run against the in-process store and real Redis."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from mcp_server import ToolRegistry
from mcp_server.testing import BACKENDS, McpHarness, Session, assert_refused
from mcp_server.trust import MemoryTrustStore
from sentinel_contract import generate_keypair

EMAIL = {"to": "friend@example.com", "subject": "Lunch", "body": "See you at noon."}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
async def mcp(backend, tmp_path, redis_url, redis_prefix):
    async with McpHarness.open(tmp_path, backend=backend, redis_url=redis_url, redis_prefix=redis_prefix) as h:
        yield h


@pytest.fixture
async def session(mcp):
    return await mcp.register()


async def test_malformed_json_is_a_parse_error(mcp, session):
    before = len(mcp.audit())
    response = await mcp.post_rpc(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {', "x")
    assert response.status_code == 200
    assert_refused(mcp, response.json(), code=-32700, reason="parse_error", audit_before=before)


async def test_jsonrpc_batch_is_refused(mcp, session):
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "send_email", "arguments": EMAIL}}
    token = mcp.sign(session, "send_email", EMAIL)
    before = len(mcp.audit())
    response = await mcp.post_rpc([call, {**call, "id": 2}], token)
    assert_refused(mcp, response.json(), code=-32600, reason="batch_not_supported", audit_before=before)


async def test_notification_is_refused(mcp, session):
    token = mcp.sign(session, "send_email", EMAIL)
    before = len(mcp.audit())
    body = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "send_email", "arguments": EMAIL}}
    response = await mcp.post_rpc(body, token)
    assert_refused(mcp, response.json(), code=-32600, reason="notification_not_supported", audit_before=before)


async def test_body_over_1_mib_with_content_length_is_refused(mcp, session):
    arguments = {**EMAIL, "body": "x" * (1024 * 1024)}
    token = mcp.sign(session, "send_email", arguments)  # even a validly signed call
    before = len(mcp.audit())
    response = await mcp.post_rpc({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                   "params": {"name": "send_email", "arguments": arguments}}, token)
    assert_refused(mcp, response.json(), code=-32006, reason="payload_too_large", audit_before=before)


async def test_streamed_body_over_1_mib_is_refused_without_reading_it_all(mcp, session):
    sent = []

    async def chunks():
        for _ in range(64):  # 4 MiB in 64 KiB chunks, no Content-Length
            sent.append(1)
            yield b" " * 65536

    before = len(mcp.audit())
    response = await mcp.client.post("/rpc", content=chunks(), headers={"authorization": "Bearer x"})
    assert_refused(mcp, response.json(), code=-32006, reason="payload_too_large", audit_before=before)
    assert len(sent) <= 17  # stopped just past 1 MiB


async def test_unknown_method_is_method_not_found(mcp, session):
    before = len(mcp.audit())
    answer = await mcp.rpc("tools/delete_everything", {}, mcp.sign(session, "tools/delete_everything", {}))
    assert_refused(mcp, answer, code=-32601, reason="method_not_found", audit_before=before)


async def test_unknown_tool_is_invalid_params(mcp, session):
    before = len(mcp.audit())
    answer = await mcp.call(session, "format_disk", {})
    assert_refused(mcp, answer, code=-32602, reason="unknown_tool", audit_before=before)


async def test_unknown_method_without_token_is_refused_before_dispatch(mcp):
    answer = await mcp.rpc("tools/delete_everything", {}, None)
    assert_refused(mcp, answer, code=-32001, reason="missing_token", audit_before=0)


async def test_tool_raising_returns_is_error_not_500(backend, tmp_path, redis_url, redis_prefix):
    registry = ToolRegistry()

    @registry.tool(description="Always fails")
    def explode(what: str) -> str:
        raise RuntimeError(f"database password hunter2 leaked in {what}")

    async with McpHarness.open(tmp_path, backend=backend, redis_url=redis_url, redis_prefix=redis_prefix,
                               registry=registry) as mcp:
        session = await mcp.register()
        answer = await mcp.call(session, "explode", {"what": "traceback"})
        result = answer["result"]
        assert result["isError"] is True
        text = result["content"][0]["text"]
        assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
        assert (mcp.audit()[-1]["event"], mcp.audit()[-1]["reason"]) == ("executed", "tool_error")


async def test_read_file_with_dotdot_cannot_escape_the_sandbox(mcp, session):
    answer = await mcp.call(session, "read_file", {"path": "reports/../../mcp-audit.jsonl"})
    assert answer["result"]["isError"] is True and "sid" not in answer["result"]["content"][0]["text"]


async def test_read_file_with_an_absolute_path_is_refused(mcp, session):
    answer = await mcp.call(session, "read_file", {"path": "/etc/passwd"})
    assert answer["result"]["isError"] is True and "root:" not in answer["result"]["content"][0]["text"]


async def test_read_file_through_a_symlink_out_of_the_sandbox_is_refused(mcp, session, tmp_path):
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("TOP SECRET OUTSIDE")
    os.symlink(outside, mcp.settings.mcp_data_dir / "files" / "innocent.txt")
    answer = await mcp.call(session, "read_file", {"path": "innocent.txt"})
    assert answer["result"]["isError"] is True
    assert "TOP SECRET" not in answer["result"]["content"][0]["text"]
    listing = await mcp.call(session, "list_files", {"directory": "."})
    assert "innocent.txt" not in {e["name"] for e in listing["result"]["structuredContent"]["entries"]}


async def test_list_files_cannot_list_outside_the_sandbox(mcp, session):
    answer = await mcp.call(session, "list_files", {"directory": ".."})
    assert answer["result"]["isError"] is True


async def test_delete_file_cannot_delete_outside_the_sandbox(mcp, session, tmp_path):
    outside = tmp_path / "keep-me.txt"
    outside.write_text("keep")
    os.symlink(outside, mcp.settings.mcp_data_dir / "files" / "link.txt")
    for path in ("../outbox.jsonl", str(outside), "link.txt"):
        answer = await mcp.call(session, "delete_file", {"path": path})
        assert answer["result"]["isError"] is True, path
    assert outside.exists() and (mcp.settings.mcp_data_dir / "outbox.jsonl").exists()


async def test_transfer_of_a_non_positive_amount_is_a_tool_error(mcp, session):
    for amount in (0, -5000):
        answer = await mcp.call(session, "transfer_funds", {"to_iban": "DE89370400440532013000", "amount": amount})
        assert answer["result"]["isError"] is True
    assert mcp.ledger() == []


@pytest.fixture
async def strict(backend, tmp_path, redis_url, redis_prefix):
    """A harness whose tools record the exact values they were called with."""
    registry = ToolRegistry()
    calls: list[tuple[str, dict[str, object]]] = []

    @registry.tool(inline=True)
    def delete_folder(path: str, recursive: bool = False) -> str:
        calls.append(("delete_folder", {"path": path, "recursive": recursive}))
        return "deleted"

    @registry.tool(inline=True)
    def pay(amount: float, count: int = 1) -> str:
        calls.append(("pay", {"amount": amount, "count": count}))
        return "paid"

    async with McpHarness.open(tmp_path, backend=backend, redis_url=redis_url, redis_prefix=redis_prefix,
                               registry=registry) as mcp:
        yield mcp, calls


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("delete_folder", {"path": "docs", "recursive": "yes"}),
        ("delete_folder", {"path": "docs", "recursive": 1}),
        ("delete_folder", {"path": "docs", "recursive": "true"}),
        ("pay", {"amount": "NaN"}),
        ("pay", {"amount": "Infinity"}),
        ("pay", {"amount": "-inf"}),
        ("pay", {"amount": "10"}),
        ("pay", {"amount": 5, "count": "10"}),
        ("pay", {"amount": 5, "count": 10.0}),
        ("pay", {"amount": 5, "count": True}),
    ],
)
async def test_signed_arguments_that_would_be_coerced_are_refused_not_executed(strict, tool, arguments):
    # The token is signed over exactly these values and policy checked them; the tool must not
    # run on a coerced version of them ("yes" -> True, "10" -> 10, "NaN" -> nan).
    mcp, calls = strict
    session = await mcp.register()
    before = len(mcp.audit())
    answer = await mcp.call(session, tool, arguments)
    assert_refused(mcp, answer, code=-32602, reason="invalid_params", audit_before=before)
    assert calls == []


async def test_exact_json_arguments_still_run_and_an_int_is_a_float(strict):
    mcp, calls = strict
    session = await mcp.register()
    for tool, arguments in [("delete_folder", {"path": "docs", "recursive": True}), ("pay", {"amount": 5, "count": 2})]:
        assert (await mcp.call(session, tool, arguments))["result"]["isError"] is False
    assert calls == [("delete_folder", {"path": "docs", "recursive": True}), ("pay", {"amount": 5.0, "count": 2})]
    assert isinstance(calls[1][1]["amount"], float)


@pytest.fixture
async def failing(backend, tmp_path, redis_url, redis_prefix):
    """Tools that have run and then die with a BaseException that is not an Exception."""
    registry = ToolRegistry()
    effects: list[str] = []

    @registry.tool
    def exit_process(code: int) -> str:  # sync: runs in a worker thread
        effects.append("exit_process")
        sys.exit(code)

    @registry.tool
    async def fetch_with_cancelled_subtask(url: str) -> str:
        effects.append("fetch_with_cancelled_subtask")
        subtask = asyncio.ensure_future(asyncio.sleep(10))
        await asyncio.sleep(0)
        subtask.cancel()
        await subtask  # the subtask's CancelledError escapes the tool; the request was not cancelled
        return "never"

    async with McpHarness.open(tmp_path, backend=backend, redis_url=redis_url, redis_prefix=redis_prefix,
                               registry=registry) as mcp:
        yield mcp, effects


@pytest.mark.parametrize(("tool", "arguments"), [
    ("exit_process", {"code": 3}),
    ("fetch_with_cancelled_subtask", {"url": "https://example.com/"}),
])
async def test_tool_raising_a_base_exception_is_a_tool_error_with_its_audit_record(failing, tool, arguments):
    mcp, effects = failing
    session = await mcp.register()
    before = len(mcp.audit())
    response = await mcp.post_rpc({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                                   "params": {"name": tool, "arguments": arguments}}, mcp.sign(session, tool, arguments))
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["id"] == 7 and answer["result"]["isError"] is True
    text = answer["result"]["content"][0]["text"]
    assert text == f"the tool {tool} failed" and "SystemExit" not in text and "Cancelled" not in text
    assert effects == [tool]
    records = mcp.audit()[before:]
    assert [(r["event"], r["reason"], r["tool"]) for r in records] == [("executed", "tool_error", tool)]


async def test_a_base_exception_outside_any_tool_still_answers_json_rpc(tmp_path):
    class ExitingStore(MemoryTrustStore):
        async def admit(self, *args: object, **kwargs: object) -> None:
            raise SystemExit(1)

    store = ExitingStore()
    async with McpHarness.open(tmp_path) as healthy:  # only to sign a registration and a call
        session = Session(sid="s-exit", key=generate_keypair(), expires_at=int(time.time()) + 600)
        await store.register(session.sid, session.key.public_b64, session.expires_at, now=time.time())
        token = healthy.sign(session, "send_email", EMAIL)
        identity = healthy.identity
    async with McpHarness.open(tmp_path / "exiting", identity=identity, trust_store=store) as mcp:
        answer = await mcp.rpc("tools/call", {"name": "send_email", "arguments": EMAIL}, token)
        assert answer["error"]["data"]["reason"] == "internal_error"
        assert [(r["event"], r["reason"]) for r in mcp.audit()] == [("rejected", "internal_error")]
        assert mcp.outbox() == []


async def test_a_base_exception_escaping_the_service_still_answers_json_rpc(tmp_path, monkeypatch):
    async with McpHarness.open(tmp_path) as mcp:
        session = await mcp.register()

        class Abort(BaseException):  # like KeyboardInterrupt, which would stop pytest itself
            pass

        def record(*args: object, **kwargs: object) -> None:
            raise Abort

        monkeypatch.setattr(mcp.app.holder.runtime.audit, "record", record)
        response = await mcp.post_rpc({"jsonrpc": "2.0", "id": 1, "method": "ping"}, mcp.sign(session, "ping", {}))
        assert response.status_code == 200
        assert response.json()["error"] == {"code": -32603, "message": "internal error",
                                            "data": {"reason": "internal_error"}}


async def test_arguments_that_cannot_be_canonicalised_are_invalid_params_and_run_nothing(mcp, session):
    # An integer past 2**53 has no RFC 8785 form: the request is bad (-32602), whatever the token.
    token = mcp.sign(session, "send_email", EMAIL)
    before = len(mcp.audit())
    arguments = EMAIL | {"subject": 2**53}
    answer = await mcp.rpc("tools/call", {"name": "send_email", "arguments": arguments}, token)
    assert_refused(mcp, answer, code=-32602, reason="bad_arguments", audit_before=before)
