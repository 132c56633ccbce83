"""Attacks on the per-replica session cache: a stale replica must not let through
what the shared store already forbids."""

from __future__ import annotations

from pathlib import Path

from interceptor.state.redis import RedisStateStore
from interceptor.testing import StaticConfigStore, running_interceptor, running_replicas
from tests.integration.test_interceptor_api import KEY, demo_projects


async def test_write_through_a_replica_whose_cache_missed_the_taint_is_refused(
    redis_state_stores: tuple[RedisStateStore, RedisStateStore], tmp_path: Path
) -> None:
    config = StaticConfigStore(demo_projects())
    async with running_replicas(config, redis_state_stores, tmp_path) as (a, b):
        tool_server = a.tool_server
        sid = await a.start(KEY)
        assert (await b.call(KEY, sid, "list_calendar")).status_code == 200  # B caches clean facts
        assert (await a.call(KEY, sid, "read_inbox")).status_code == 200  # the taint lands through A
        response = await b.call(KEY, sid, "send_email", {"to": "attacker@evil.example"})
        assert response.status_code == 403
    assert [item.tool for item in tool_server.executed] == ["list_calendar", "read_inbox"]


async def test_session_ended_on_one_replica_cannot_be_used_through_another_replicas_cache(
    redis_state_stores: tuple[RedisStateStore, RedisStateStore], tmp_path: Path
) -> None:
    config = StaticConfigStore(demo_projects())
    async with running_replicas(config, redis_state_stores, tmp_path) as (a, b):
        tool_server = a.tool_server
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
