"""Approvals in-process, against both state stores: a held call is approved and runs once, is denied,
or expires; approvers are who the policy names, with admin keys; agents' keys never pass; the SDK
waits; every state change reaches a signed webhook."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from interceptor.config import Project
from interceptor.state import StateStore
from interceptor.testing import Harness, StaticConfigStore, api_key_hash, running_interceptor
from sentinel_sdk import ApprovalDenied, ApprovalRequired, SentinelClient, WebhookSignatureError, verify_webhook
from tests.integration.test_interceptor_api import (
    KEY,
    OTHER_KEY,
    TOOLS,
    demo_projects,
    state_store,  # noqa: F401  (memory and Redis)
)

ALICE, BOB, CAROL = "adm-alice-0123456789", "adm-bob-0123456789", "adm-carol-0123456789"
ADMIN_KEYS = ",".join(f"{name}:{hashlib.sha256(key.encode()).hexdigest()}"
                      for name, key in (("alice", ALICE), ("bob", BOB), ("carol", CAROL)))
POLICIES = {
    "staticRules": {"read_inbox": "ALLOW", "list_calendar": "ALLOW"},
    "taintRules": [{"type": "ADD_TAINT", "tool": "read_inbox", "tag": "untrusted"}],
    "approvals": {"approvers": ["alice", "bob"], "ttl_seconds": 600},
    "rules": [
        {"name": "hold-mail", "effect": "require_approval", "when": {"tool": "send_email"}},
        {"name": "hold-notes", "effect": "require_approval", "when": {"tool": "write_note"}, "approvers": ["carol"]},
    ],
}
MAIL = {"to": "boss@corp.example", "subject": "Q3", "body": "numbers attached"}
WEBHOOK_SECRET = "whsec-test-0123456789"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    """A webhook receiver: its URL and what it was sent (body, signature header)."""
    received: list[tuple[bytes, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((body, self.headers["x-sentinel-signature"]))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture
async def harness(state_store: StateStore, tmp_path: Path,  # noqa: F811
                  receiver: tuple[str, list[tuple[bytes, str]]]) -> AsyncIterator[Harness]:
    projects = [Project(name="demo", api_key_sha256=api_key_hash(KEY), tools=TOOLS, policies=POLICIES,
                        policy_version=1), demo_projects()[1]]
    async with running_interceptor(StaticConfigStore(projects), state_store=state_store,
                                   audit_log=tmp_path / "audit.jsonl", admin_keys=ADMIN_KEYS,
                                   webhook_url=receiver[0],
                                   webhook_secret=WEBHOOK_SECRET) as running:
        yield running


def admin(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def held_call(harness: Harness, sid: str, tool: str = "send_email", arguments: Any = None) -> str:
    response = await harness.call(KEY, sid, tool, MAIL if arguments is None else arguments)
    assert response.status_code == 202, response.text
    return str(response.json()["approval_id"])


async def decide(harness: Harness, approval_id: str, verdict: str, key: str = ALICE, **body: Any) -> httpx.Response:
    return await harness.client.post(f"/admin/approvals/{approval_id}/{verdict}", headers=admin(key), json=body)


def executed(harness: Harness) -> list[str]:
    return [item.tool for item in harness.tool_server.executed]


async def test_an_approved_call_runs_once_exactly_as_approved(harness: Harness) -> None:
    sid = await harness.start(KEY)
    approval_id = await held_call(harness, sid)
    shown = await harness.client.get(f"/admin/approvals/{approval_id}", headers=admin(BOB))
    assert shown.status_code == 200 and shown.json()["arguments"] == MAIL  # what the approver decides on
    assert shown.json()["status"] == "pending" and shown.json()["rule"] == "hold-mail"
    assert executed(harness) == []
    approved = await decide(harness, approval_id, "approve", note="expected")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "alice"
    other = await harness.call(KEY, sid, "send_email", {**MAIL, "to": "attacker@evil.example"})
    assert other.status_code == 202  # other arguments: not what was approved, held on its own
    runs = await harness.call(KEY, sid, "send_email", MAIL)
    assert runs.status_code == 200 and runs.json()["decision"]["rule"] == "hold-mail"
    assert "approved by alice" in runs.json()["decision"]["reason"]
    again = await harness.call(KEY, sid, "send_email", MAIL)
    assert again.status_code == 202  # used: a second try needs a new approval
    assert executed(harness) == ["send_email"]
    final = await harness.client.get(f"/admin/approvals/{approval_id}", headers=admin(ALICE))
    assert final.json()["status"] == "used"


async def test_a_denied_call_never_runs_and_cannot_then_be_approved(harness: Harness) -> None:
    sid = await harness.start(KEY)
    approval_id = await held_call(harness, sid)
    denied = await decide(harness, approval_id, "deny", key=BOB, note="not today")
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    late = await decide(harness, approval_id, "approve")
    assert late.status_code == 409 and late.json()["error"]["code"] == "approval_not_pending"
    assert late.json()["error"]["state"] == "denied"
    assert (await harness.call(KEY, sid, "send_email", MAIL)).status_code == 202
    assert executed(harness) == []


async def test_an_expired_approval_is_neither_decided_nor_used(harness: Harness) -> None:
    sid = await harness.start(KEY)
    approval_id = await held_call(harness, sid)
    runtime = harness.app.state.runtime
    later = dataclasses.replace(runtime.approvals, clock=lambda: time.time() + 601)  # past ttl_seconds
    runtime.approvals = later
    runtime.enforcer._approvals = later
    expired = await decide(harness, approval_id, "approve")
    assert expired.status_code == 409 and expired.json()["error"]["state"] == "expired"
    assert (await harness.call(KEY, sid, "send_email", MAIL)).status_code == 202
    assert executed(harness) == []


async def test_only_the_approvers_the_policy_names_may_decide(harness: Harness) -> None:
    sid = await harness.start(KEY)
    mail = await held_call(harness, sid)
    note = await held_call(harness, sid, "write_note", {"text": "hi"})
    refused = await decide(harness, mail, "approve", key=CAROL)  # not in approvals.approvers
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_an_approver"
    assert (await decide(harness, note, "approve", key=ALICE)).status_code == 403  # the rule names carol
    assert (await decide(harness, note, "approve", key=CAROL)).status_code == 200


@pytest.mark.parametrize("key", [KEY, OTHER_KEY, "adm-unknown", ""])
async def test_an_agents_key_or_a_wrong_key_never_reaches_the_admin_api(harness: Harness, key: str) -> None:
    sid = await harness.start(KEY)
    approval_id = await held_call(harness, sid)
    for response in (
        await harness.client.get("/admin/approvals", params={"project": "demo"}, headers=admin(key)),
        await harness.client.get(f"/admin/approvals/{approval_id}", headers=admin(key)),
        await decide(harness, approval_id, "approve", key=key),
        await harness.client.post(f"/admin/approvals/{approval_id}/approve", headers={"X-Sentinel-Key": KEY}),
    ):
        assert response.status_code == 401 and response.json()["error"]["code"] == "admin_key_required"
        assert "boss@corp.example" not in response.text
    assert (await harness.call(KEY, sid, "send_email", MAIL)).status_code == 202
    assert executed(harness) == []


@pytest.mark.parametrize("approval_id", ["nope", "x" * 200, "a.b"])
async def test_approving_an_unknown_approval_is_404(harness: Harness, approval_id: str) -> None:
    response = await decide(harness, approval_id, "approve")
    assert response.status_code == 404 and response.json()["error"]["code"] == "approval_not_found"


async def test_the_admin_list_shows_the_projects_approvals_without_their_arguments(harness: Harness) -> None:
    sid = await harness.start(KEY)
    approval_id = await held_call(harness, sid)
    listed = await harness.client.get("/admin/approvals", params={"project": "demo"}, headers=admin(ALICE))
    assert [a["approval_id"] for a in listed.json()["approvals"]] == [approval_id]
    assert "arguments" not in listed.json()["approvals"][0] and "boss@corp" not in listed.text
    other = await harness.client.get("/admin/approvals", params={"project": "other"}, headers=admin(ALICE))
    assert other.json()["approvals"] == []


async def test_ending_the_session_removes_its_approvals(harness: Harness) -> None:
    sid = await harness.start(KEY)
    approval_id = await held_call(harness, sid)
    await harness.client.post(f"/session/{sid}/end", headers={"X-Sentinel-Key": KEY})
    assert (await decide(harness, approval_id, "approve")).status_code == 404


async def test_pending_approvals_are_bounded_per_session(harness: Harness) -> None:
    sid = await harness.start(KEY)
    for index in range(20):
        await held_call(harness, sid, arguments={**MAIL, "subject": str(index)})
    over = await harness.call(KEY, sid, "send_email", {**MAIL, "subject": "one more"})
    assert over.status_code == 429 and over.json()["error"]["code"] == "approval_limit"


async def test_an_agent_sees_only_its_own_sessions_approvals(harness: Harness) -> None:
    sid, other = await harness.start(KEY), await harness.start(KEY)
    approval_id = await held_call(harness, sid)
    mine = await harness.client.get(f"/session/{sid}/approvals/{approval_id}", headers={"X-Sentinel-Key": KEY})
    assert mine.status_code == 200 and mine.json()["status"] == "pending" and "arguments" not in mine.json()
    theirs = await harness.client.get(f"/session/{other}/approvals/{approval_id}", headers={"X-Sentinel-Key": KEY})
    assert theirs.status_code == 404


async def test_the_sdk_waits_for_an_approval_and_the_call_then_runs(harness: Harness) -> None:
    sid_box: list[str] = []

    async def approve_when_held() -> None:
        while not sid_box:
            await asyncio.sleep(0.05)
        for _ in range(100):
            listed = await harness.client.get("/admin/approvals", params={"project": "demo"}, headers=admin(ALICE))
            pending = [a for a in listed.json()["approvals"] if a["status"] == "pending"]
            if pending:
                await decide(harness, pending[0]["approval_id"], "approve")
                return
            await asyncio.sleep(0.05)

    async with SentinelClient(api_key=KEY, base_url="http://interceptor", transport=httpx.ASGITransport(app=harness.app)) as client:
        sid_box.append(client.session_id or "")
        approver = asyncio.create_task(approve_when_held())
        result = await client.call_tool_result("send_email", MAIL, wait_for_approval=10)
        await approver
        assert not result.is_error and executed(harness) == ["send_email"]
        with pytest.raises(ApprovalRequired):  # not waiting: held, raised at once
            await client.call_tool("send_email", MAIL)


async def test_the_sdk_reports_a_denial_while_waiting(harness: Harness) -> None:
    async with SentinelClient(api_key=KEY, base_url="http://interceptor", transport=httpx.ASGITransport(app=harness.app)) as client:
        async def deny_when_held() -> None:
            for _ in range(100):
                listed = await harness.client.get("/admin/approvals", params={"project": "demo"}, headers=admin(BOB))
                if listed.json()["approvals"]:
                    await decide(harness, listed.json()["approvals"][0]["approval_id"], "deny", key=BOB, note="no")
                    return
                await asyncio.sleep(0.05)

        denier = asyncio.create_task(deny_when_held())
        with pytest.raises(ApprovalDenied) as denied:
            await client.call_tool("send_email", MAIL, wait_for_approval=10)
        await denier
    assert denied.value.approval_status == "denied" and denied.value.decided_by == "bob"
    assert executed(harness) == []


async def test_every_state_change_reaches_the_webhook_signed(
    harness: Harness, receiver: tuple[str, list[tuple[bytes, str]]]
) -> None:
    sid = await harness.start(KEY)
    approval_id = await held_call(harness, sid)
    await decide(harness, approval_id, "approve")
    await harness.call(KEY, sid, "send_email", MAIL)
    await harness.app.state.runtime.approvals.events.webhook.drain()
    events = [verify_webhook(WEBHOOK_SECRET, body, header) for body, header in receiver[1]]
    assert [e["event"] for e in events] == ["approval.pending", "approval.approved", "approval.used"]
    assert {e["approval"]["approval_id"] for e in events} == {approval_id}
    assert all("boss@corp" not in json.dumps(e) for e in events)  # hashes, never arguments
    body, header = receiver[1][0]
    with pytest.raises(WebhookSignatureError):
        verify_webhook(WEBHOOK_SECRET, body.replace(b"pending", b"approved"), header)  # altered
    with pytest.raises(WebhookSignatureError):
        verify_webhook("another-secret", body, header)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(WEBHOOK_SECRET, body, header, now=time.time() + 3600)  # replayed later


async def test_approval_events_are_in_the_audit_trail(harness: Harness) -> None:
    sid = await harness.start(KEY)
    approval_id = await held_call(harness, sid)
    await decide(harness, approval_id, "deny", note="no")
    lines = [json.loads(line) for line in Path(harness.settings.audit_log).read_text().splitlines()]
    events = [(r["event"], r.get("by")) for r in lines if "event" in r]
    assert events == [("approval.pending", None), ("approval.denied", "alice")]


async def test_an_approved_call_of_a_pinned_tool_carries_its_pin(tmp_path: Path) -> None:
    from sentinel_contract import definition_sha256

    pin = definition_sha256("send_email", "Send mail", {"type": "object"})
    tools = [{"name": "send_email", "description": "Send mail", "input_schema": {"type": "object"},
              "class": "CONSEQUENTIAL_WRITE", "definition_sha256": pin}]
    policies = {"rules": [{"name": "hold-mail", "effect": "require_approval", "when": {"tool": "send_email"}}]}
    store = StaticConfigStore([Project("demo", api_key_hash(KEY), tools, policies, 1)])
    async with running_interceptor(store, audit_log=tmp_path / "audit.jsonl", admin_keys=ADMIN_KEYS) as harness:
        sid = await harness.start(KEY)
        approval_id = await held_call(harness, sid)
        assert (await decide(harness, approval_id, "approve")).status_code == 200
        assert (await harness.call(KEY, sid, "send_email", MAIL)).status_code == 200
    assert [(e.tool, e.tool_sha256) for e in harness.tool_server.executed] == [("send_email", pin)]
