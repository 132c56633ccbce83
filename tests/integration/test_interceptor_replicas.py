"""Interceptor replicas sharing one Redis: any replica serves any session; and a
Redis outage fails closed (503, nothing forwarded)."""

from __future__ import annotations

from pathlib import Path

from interceptor.state.redis import RedisStateStore
from interceptor.testing import StaticConfigStore, StubToolServer, running_interceptor, running_replicas
from sentinel_contract import b64url_encode, generate_keypair
from tests.conftest import free_port
from tests.integration.test_interceptor_api import KEY, demo_projects


async def test_a_session_started_on_one_replica_is_served_by_another(
    redis_state_stores: tuple[RedisStateStore, RedisStateStore], tmp_path: Path
) -> None:
    config = StaticConfigStore(demo_projects())
    async with running_replicas(config, redis_state_stores, tmp_path) as (a, b):
        tool_server = a.tool_server
        sid = await a.start(KEY)
        assert (await b.call(KEY, sid, "list_calendar")).status_code == 200  # B unseals the key from Redis
        assert (await a.call(KEY, sid, "read_inbox")).status_code == 200  # taint committed through A
        denied = await b.call(KEY, sid, "send_email")  # ...is seen by B
        assert denied.status_code == 403 and denied.json()["error"]["rule"] == "CHECK_TAINT:send_email"
        ended = await b.client.post(f"/session/{sid}/end", headers={"X-Sentinel-Key": KEY})
        assert ended.status_code == 200
        assert (await a.call(KEY, sid, "list_calendar")).status_code == 404  # A's cached key is no help
    assert [item.tool for item in tool_server.executed] == ["list_calendar", "read_inbox"]


async def test_a_replica_with_another_identity_key_cannot_serve_the_session(
    redis_state_stores: tuple[RedisStateStore, RedisStateStore], tmp_path: Path
) -> None:
    config = StaticConfigStore(demo_projects())
    async with running_replicas(config, redis_state_stores, tmp_path, same_identity=False) as (a, b):
        tool_server = a.tool_server
        sid = await a.start(KEY)
        response = await b.call(KEY, sid, "list_calendar")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "session_key_unreadable"
    assert tool_server.executed == []


async def test_a_rotated_identity_key_keeps_the_live_sessions_with_the_retired_key_listed(
    redis_state_stores: tuple[RedisStateStore, RedisStateStore], tmp_path: Path
) -> None:
    # The operator guide's rotation: interceptors switch to a new identity key and list the
    # old one in SENTINEL_PREVIOUS_IDENTITY_KEYS; sessions started before keep working.
    old, new = generate_keypair(), generate_keypair()
    tool_server = StubToolServer(old.public)
    config = StaticConfigStore(demo_projects())
    async with running_interceptor(config, state_store=redis_state_stores[0], identity=old,
                                   tool_server=tool_server, audit_log=tmp_path / "old.jsonl") as before:
        sid = await before.start(KEY)
        assert (await before.call(KEY, sid, "read_inbox")).status_code == 200  # tainted before the switch
    tool_server.identity = new.public  # the tool servers now trust the new identity key
    async with running_interceptor(config, state_store=redis_state_stores[1], identity=new, tool_server=tool_server,
                                   audit_log=tmp_path / "new.jsonl", previous_identity_keys=b64url_encode(old.seed)) as after:
        assert (await after.call(KEY, sid, "list_calendar")).status_code == 200  # unsealed with the retired seed
        denied = await after.call(KEY, sid, "send_email")  # the session's taint came through the rotation
        assert denied.status_code == 403 and denied.json()["error"]["rule"] == "CHECK_TAINT:send_email"
        fresh = await after.start(KEY)  # registered with the new identity key, sealed under it
        assert (await after.call(KEY, fresh, "list_calendar")).status_code == 200
    async with running_interceptor(config, state_store=redis_state_stores[1], identity=new, tool_server=tool_server,
                                   audit_log=tmp_path / "bare.jsonl") as without:
        response = await without.call(KEY, sid, "list_calendar")  # the retired key is not listed: refuse
        assert response.status_code == 503 and response.json()["error"]["code"] == "session_key_unreadable"
    assert [item.tool for item in tool_server.executed] == ["read_inbox", "list_calendar", "list_calendar"]


async def test_redis_down_is_503_and_nothing_is_forwarded(tmp_path: Path) -> None:
    down = RedisStateStore(f"redis://127.0.0.1:{free_port()}/0", prefix="down:", connect_timeout=0.2)
    async with running_interceptor(StaticConfigStore(demo_projects()), state_store=down, audit_log=tmp_path / "a.jsonl") as h:
        start = await h.client.post("/session/start", headers={"X-Sentinel-Key": KEY})
        assert start.status_code == 503 and start.json()["error"]["code"] == "state_unavailable"
        call = await h.call(KEY, "any-session", "list_calendar")
        assert call.status_code == 503
        ready = await h.client.get("/readyz")  # not ready, naming why; still alive
        assert ready.status_code == 503 and ready.json()["not_ready"] == ["state_store"]
        assert (await h.client.get("/healthz")).status_code == 200
        assert h.tool_server.keys == {}  # no session registered either
    await down.close()
    assert h.tool_server.executed == []


async def test_redis_down_mid_session_is_503_and_nothing_is_forwarded(
    redis_state_stores: tuple[RedisStateStore, RedisStateStore], tmp_path: Path
) -> None:
    identity = generate_keypair()
    tool_server = StubToolServer(identity.public)
    config = StaticConfigStore(demo_projects())
    down = RedisStateStore(f"redis://127.0.0.1:{free_port()}/0", prefix="down:", connect_timeout=0.2)
    async with (
        running_interceptor(config, state_store=redis_state_stores[0], identity=identity, tool_server=tool_server, audit_log=tmp_path / "a.jsonl") as up,
        running_interceptor(config, state_store=down, identity=identity, tool_server=tool_server, audit_log=tmp_path / "b.jsonl") as cut_off,
    ):
        sid = await up.start(KEY)
        response = await cut_off.call(KEY, sid, "read_inbox")
        assert response.status_code == 503
        assert response.json()["error"]["retryable"] is True  # nothing ran: safe to retry
        # Nothing executed, and nothing tainted half-way: the session is as it was.
        assert tool_server.executed == []
        assert (await up.call(KEY, sid, "send_email")).status_code == 200
    await down.close()
