"""Break-glass in-process, against both state stores: opened by a person the policy names, with a reason,
it lets one session's refused calls through until it closes or expires, marked in the audit trail; it is
bounded by the policy's minutes, cooldown and day quota; everything else is a clear refusal."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from interceptor.config import Project
from interceptor.state import StateStore
from interceptor.testing import Harness, StaticConfigStore, api_key_hash, running_interceptor
from tests.integration.test_interceptor_api import (
    KEY,
    POLICIES,
    TOOLS,
    state_store,  # noqa: F401  (memory and Redis)
)

ONCALL, ALICE = "adm-oncall-0123456789", "adm-alice-0123456789"
ADMIN_KEYS = ",".join(f"{n}:{hashlib.sha256(k.encode()).hexdigest()}" for n, k in (("oncall-1", ONCALL),
                                                                                  ("alice", ALICE)))
BREAKGLASS = {"openers": ["oncall-*"], "max_minutes": 30, "cooldown_minutes": 0, "per_day": 2,
              "tools": ["send_email", "delete_file"]}
OPEN = {"project": "demo", "reason_code": "incident", "justification": "INC-4711: mail the outage report", "minutes": 10}


@pytest.fixture
async def harness(state_store: StateStore, tmp_path: Path) -> AsyncIterator[Harness]:  # noqa: F811
    policies = {**POLICIES, "breakglass": BREAKGLASS}
    store = StaticConfigStore([Project("demo", api_key_hash(KEY), TOOLS, policies, 1)])
    async with running_interceptor(store, state_store=state_store, audit_log=tmp_path / "audit.jsonl",
                                   admin_keys=ADMIN_KEYS) as running:
        yield running


async def open_for(harness: Harness, sid: str, key: str = ONCALL, **changes: Any) -> httpx.Response:
    return await harness.client.post("/admin/breakglass", headers={"Authorization": f"Bearer {key}"},
                                     json={**OPEN, "session_id": sid, **changes})


def executed(harness: Harness) -> list[str]:
    return [e.tool for e in harness.tool_server.executed]


async def test_open_break_glass_lets_the_sessions_refused_calls_through_until_closed(harness: Harness) -> None:
    sid, other = await harness.start(KEY), await harness.start(KEY)
    await harness.call(KEY, sid, "read_inbox")
    assert (await harness.call(KEY, sid, "send_email", {"to": "ops@corp.example"})).status_code == 403  # tainted
    opened = await open_for(harness, sid)
    assert opened.status_code == 201 and opened.json()["status"] == "open"
    grant = opened.json()["breakglass_id"]
    through = await harness.call(KEY, sid, "send_email", {"to": "ops@corp.example"})
    assert through.status_code == 200 and through.json()["decision"]["rule"] == f"breakglass:{grant}"
    assert "CHECK_TAINT:send_email" in through.json()["decision"]["reason"]
    assert (await harness.call(KEY, sid, "write_note")).status_code == 403  # denied, and not a tool it covers
    await harness.call(KEY, other, "read_inbox")
    assert (await harness.call(KEY, other, "send_email", {"to": "x@y.z"})).status_code == 403  # another session
    closed = await harness.client.post(f"/admin/breakglass/{grant}/close", headers={"Authorization": f"Bearer {ALICE}"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["closed_by"] == "alice"
    assert (await harness.call(KEY, sid, "send_email", {"to": "ops@corp.example"})).status_code == 403
    assert executed(harness) == ["read_inbox", "send_email", "read_inbox"]
    records = [json.loads(line) for line in Path(harness.settings.audit_log).read_text().splitlines()]
    events = [(r["event"], r["by"]) for r in records if "event" in r]
    assert events == [("breakglass.opened", "oncall-1"), ("breakglass.closed", "alice")]
    marked = [r for r in records if r.get("rule") == f"breakglass:{grant}"]
    assert [(r["tool"], r["decision"]) for r in marked] == [("send_email", "allow")]


async def test_break_glass_ends_by_itself(harness: Harness) -> None:
    sid = await harness.start(KEY)
    assert (await open_for(harness, sid, minutes=1)).status_code == 201
    assert (await harness.call(KEY, sid, "delete_file")).status_code == 200  # statically denied, let through
    runtime = harness.app.state.runtime
    later = dataclasses.replace(runtime.breakglass, clock=lambda: time.time() + 61)
    runtime.breakglass = runtime.enforcer._breakglass = later
    assert (await harness.call(KEY, sid, "delete_file")).status_code == 403
    listed = await harness.client.get("/admin/breakglass?project=demo", headers={"Authorization": f"Bearer {ALICE}"})
    assert [g["status"] for g in listed.json()["breakglass"]] == ["expired"]


@pytest.mark.parametrize(("key", "changes", "status", "code"), [
    (ALICE, {}, 403, "breakglass_refused"),  # not an opener
    (KEY, {}, 401, "admin_key_required"),  # an agent's key
    (ONCALL, {"justification": ""}, 400, "justification_required"),
    (ONCALL, {"justification": "   because "}, 400, "justification_required"),
    (ONCALL, {"reason_code": "boredom"}, 400, "invalid_reason_code"),
    (ONCALL, {"minutes": 31}, 400, "invalid_minutes"),  # over the policy's max_minutes
    (ONCALL, {"minutes": 0}, 400, "invalid_minutes"),
    (ONCALL, {"session_id": "no-such-session"}, 404, "session_not_found"),
    (ONCALL, {"extra": True}, 400, "unknown_field"),
])
async def test_a_bad_opening_is_a_clear_refusal_and_lets_nothing_through(
    harness: Harness, key: str, changes: dict[str, Any], status: int, code: str
) -> None:
    sid = await harness.start(KEY)
    refused = await open_for(harness, sid, key=key, **changes)
    assert refused.status_code == status and refused.json()["error"]["code"] == code
    assert (await harness.call(KEY, sid, "delete_file")).status_code == 403


async def test_one_open_break_glass_per_session_and_a_day_quota_per_person(harness: Harness) -> None:
    first, second, third = [await harness.start(KEY) for _ in range(3)]
    assert (await open_for(harness, first)).status_code == 201
    again = await open_for(harness, first)
    assert again.status_code == 409 and again.json()["error"]["code"] == "breakglass_open"
    assert (await open_for(harness, second)).status_code == 201
    over = await open_for(harness, third)  # per_day: 2
    assert over.status_code == 429 and over.json()["error"]["code"] == "breakglass_quota"
    assert "retry-after" in over.headers
    assert (await harness.call(KEY, third, "delete_file")).status_code == 403


async def test_a_policy_without_breakglass_refuses_every_opening(tmp_path: Path) -> None:
    store = StaticConfigStore([Project("demo", api_key_hash(KEY), TOOLS, POLICIES, 1)])
    async with running_interceptor(store, audit_log=tmp_path / "a.jsonl", admin_keys=ADMIN_KEYS) as harness:
        sid = await harness.start(KEY)
        refused = await open_for(harness, sid)
        assert refused.status_code == 403 and "no breakglass" in refused.json()["error"]["message"]
