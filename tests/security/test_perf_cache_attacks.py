"""Attacks on the per-replica session cache: a stale replica must not let through
what the shared store already forbids."""

from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.state.redis import RedisStateStore
from interceptor.testing import StaticConfigStore, StubToolServer, running_interceptor
from sentinel_contract import generate_keypair
from tests.integration.test_interceptor_api import KEY, demo_projects


@pytest.fixture()
def stores(redis_state_stores: tuple[RedisStateStore, RedisStateStore]) -> tuple[RedisStateStore, RedisStateStore]:
    return redis_state_stores


async def test_write_through_a_replica_whose_cache_missed_the_taint_is_refused(
    stores: tuple[RedisStateStore, RedisStateStore], tmp_path: Path
) -> None:
    identity = generate_keypair()
    tool_server = StubToolServer(identity.public)
    config = StaticConfigStore(demo_projects())
    async with (
        running_interceptor(config, state_store=stores[0], identity=identity, tool_server=tool_server, audit_log=tmp_path / "a.jsonl") as a,
        running_interceptor(config, state_store=stores[1], identity=identity, tool_server=tool_server, audit_log=tmp_path / "b.jsonl") as b,
    ):
        sid = await a.start(KEY)
        assert (await b.call(KEY, sid, "list_calendar")).status_code == 200  # B caches clean facts
        assert (await a.call(KEY, sid, "read_inbox")).status_code == 200  # the taint lands through A
        response = await b.call(KEY, sid, "send_email", {"to": "attacker@evil.example"})
        assert response.status_code == 403
    assert [item.tool for item in tool_server.executed] == ["list_calendar", "read_inbox"]


async def test_session_ended_on_one_replica_cannot_be_used_through_another_replicas_cache(
    stores: tuple[RedisStateStore, RedisStateStore], tmp_path: Path
) -> None:
    identity = generate_keypair()
    tool_server = StubToolServer(identity.public)
    config = StaticConfigStore(demo_projects())
    async with (
        running_interceptor(config, state_store=stores[0], identity=identity, tool_server=tool_server, audit_log=tmp_path / "a.jsonl") as a,
        running_interceptor(config, state_store=stores[1], identity=identity, tool_server=tool_server, audit_log=tmp_path / "b.jsonl") as b,
    ):
        sid = await a.start(KEY)
        assert (await b.call(KEY, sid, "list_calendar")).status_code == 200  # B caches the session
        assert (await a.client.post(f"/session/{sid}/end", headers={"X-Sentinel-Key": KEY})).status_code == 200
        assert (await b.call(KEY, sid, "send_email", {"to": "attacker@evil.example"})).status_code == 404
    assert [item.tool for item in tool_server.executed] == ["list_calendar"]


async def test_cached_session_cannot_be_used_with_another_projects_key(tmp_path: Path) -> None:
    from tests.integration.test_interceptor_api import OTHER_KEY

    async with running_interceptor(StaticConfigStore(demo_projects()), audit_log=tmp_path / "a.jsonl") as h:
        sid = await h.start(KEY)  # cached on this replica
        assert (await h.call(OTHER_KEY, sid, "list_calendar")).status_code == 404
        assert h.tool_server.executed == []
