"""The kill switch: an admin revokes one session, an agent's sessions or a project's, and the next call
fails at the interceptor, and at the real tool server even with a token signed before the revocation.
In-process, the real tool server behind the interceptor, real Redis."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from interceptor.state.redis import RedisStateStore
from sentinel_contract import args_sha256
from sentinel_policy import ToolCall
from tests.conftest import REDIS_URL, in_process_stack

DEMO_KEY = "sk-sentinel-demo"
ADMIN = "adm-ops-0123456789"


@dataclass
class Stack:
    app: Any
    client: httpx.AsyncClient
    tool_server: httpx.AsyncClient
    audit_log: Path

    async def start(self, agent: str | None = None) -> str:
        body = {"agent": agent} if agent else {}
        response = await self.client.post("/session/start", headers={"X-Sentinel-Key": DEMO_KEY}, json=body)
        return str(response.json()["session_id"])

    async def call(self, sid: str, tool: str = "get_current_time") -> httpx.Response:
        return await self.client.post(f"/session/{sid}/call", headers={"X-Sentinel-Key": DEMO_KEY},
                                      json={"tool": tool, "arguments": {}})

    async def admin(self, path: str, body: Any = None, key: str = ADMIN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        if body is None:
            return await self.client.get(path, headers=headers)
        return await self.client.post(path, headers=headers, json=body)


@pytest.fixture
async def stack(redis_prefix: str, tmp_path: Path) -> AsyncIterator[Stack]:
    state = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    admin = f"ops:{hashlib.sha256(ADMIN.encode()).hexdigest()}"
    try:
        async with in_process_stack(tmp_path, state_store=state, admin_keys=admin) as (app, client, upstream):
            yield Stack(app, client, upstream, tmp_path / "audit.jsonl")
    finally:
        await state.close()


async def test_a_revoked_session_fails_its_next_call_and_its_presigned_token_fails_at_the_tool_server(
    stack: Stack,
) -> None:
    sid = await stack.start()
    assert (await stack.call(sid)).status_code == 200
    runtime = stack.app.state.runtime
    session, _ = await runtime.sessions.resolve(sid, "demo", agent=None)
    arguments = {"timezone": "UTC"}
    signed = runtime.sessions.sign_call(session, ToolCall("get_current_time", arguments, "demo", None),
                                        args_sha256(arguments), None)  # signed before the revocation
    revoked = await stack.admin(f"/admin/sessions/{sid}/revoke", {})
    assert revoked.status_code == 200
    assert revoked.json() == {"revoked": [sid], "confirmed_by_tool_server": [sid]}
    after = await stack.call(sid)
    assert after.status_code == 404 and after.json()["error"]["code"] == "session_not_found"
    direct = await stack.tool_server.post("/rpc", headers={"authorization": f"Bearer {signed.token}"}, json={
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "get_current_time", "arguments": arguments}})
    assert "error" in direct.json() and "result" not in direct.json()
    events = [json.loads(line) for line in stack.audit_log.read_text().splitlines()]
    assert [(e["event"], e["by"]) for e in events if e.get("event")] == [("session.revoked", "ops")]


async def test_revoking_an_agents_sessions_leaves_the_others_running(stack: Stack) -> None:
    interns = [await stack.start("intern-1"), await stack.start("intern-1")]
    lead = await stack.start("lead")
    listed = await stack.admin("/admin/sessions?project=demo&agent=intern-1")
    assert sorted(s["session_id"] for s in listed.json()["sessions"]) == sorted(interns)
    revoked = await stack.admin("/admin/revocations", {"project": "demo", "agent": "intern-1"})
    assert sorted(revoked.json()["revoked"]) == sorted(interns)
    assert [(await stack.call(sid)).status_code for sid in interns] == [404, 404]
    assert (await stack.call(lead)).status_code == 200


async def test_revoking_a_project_ends_every_live_session_of_it(stack: Stack) -> None:
    sids = [await stack.start(), await stack.start("bot")]
    await stack.call(sids[0], "read_inbox")
    listed = (await stack.admin("/admin/sessions?project=demo")).json()["sessions"]
    tainted = next(s for s in listed if s["session_id"] == sids[0])
    assert tainted["taint"] == ["untrusted"] and tainted["calls"] == 1
    revoked = await stack.admin("/admin/revocations", {"project": "demo"})
    assert sorted(revoked.json()["revoked"]) == sorted(sids)
    assert [(await stack.call(sid)).status_code for sid in sids] == [404, 404]
    assert (await stack.admin("/admin/sessions?project=demo")).json()["sessions"] == []
    assert (await stack.call(await stack.start())).status_code == 200  # a new session starts clean


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/admin/sessions/unknown-session/revoke", {}, 404, "session_not_found"),
    ("/admin/revocations", {"project": "nope"}, 404, "project_not_found"),
    ("/admin/revocations", {"project": "demo", "extra": 1}, 400, "unknown_field"),
    ("/admin/revocations", {}, 400, "invalid_body"),
    ("/admin/sessions", None, 400, "project_required"),
])
async def test_bad_kill_switch_requests_are_clear_errors(
    stack: Stack, path: str, body: Any, status: int, code: str
) -> None:
    response = await stack.admin(path, body)
    assert response.status_code == status and response.json()["error"]["code"] == code


async def test_an_agents_key_cannot_revoke(stack: Stack) -> None:
    sid = await stack.start()
    response = await stack.admin(f"/admin/sessions/{sid}/revoke", {}, key=DEMO_KEY)
    assert response.status_code == 401 and response.json()["error"]["code"] == "admin_key_required"
    assert (await stack.call(sid)).status_code == 200
