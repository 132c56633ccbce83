"""The per-replica session cache: one state round trip for an allowed call, the
store still decides, and expired sessions leave nothing behind anywhere."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from interceptor.state import Commit, StateStore
from interceptor.state.memory import MemoryStateStore
from interceptor.state.redis import RedisStateStore
from interceptor.testing import StaticConfigStore, running_interceptor
from mcp_server.trust import RedisTrustStore
from sentinel_contract import generate_keypair
from sentinel_policy import SessionFacts
from tests.conftest import REDIS_URL
from tests.integration.test_interceptor_api import KEY, demo_projects


class CountingStore:
    """A real store that counts the round trips the interceptor makes."""

    def __init__(self, inner: StateStore) -> None:
        self._inner = inner
        self.loads = 0
        self.commits = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def load(self, sid: str) -> object:
        self.loads += 1
        return await self._inner.load(sid)

    def begin_commit(self, sid: str, expected_version: int, new_facts: SessionFacts) -> Awaitable[Commit]:
        self.commits += 1
        return self._inner.begin_commit(sid, expected_version, new_facts)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[CountingStore]:
    if request.param == "memory":
        yield CountingStore(MemoryStateStore())
        return
    inner = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    yield CountingStore(inner)
    await inner.close()


async def test_an_allowed_call_costs_one_state_round_trip(store: CountingStore, tmp_path: Path) -> None:
    async with running_interceptor(StaticConfigStore(demo_projects()), state_store=store, audit_log=tmp_path / "a.jsonl") as h:  # type: ignore[arg-type]
        sid = await h.start(KEY)
        for _ in range(5):
            assert (await h.call(KEY, sid, "list_calendar")).status_code == 200
        assert (store.loads, store.commits) == (0, 5)


async def test_a_denial_on_cached_facts_is_confirmed_with_one_load(store: CountingStore, tmp_path: Path) -> None:
    async with running_interceptor(StaticConfigStore(demo_projects()), state_store=store, audit_log=tmp_path / "a.jsonl") as h:  # type: ignore[arg-type]
        h.tool_server.outputs["read_inbox"] = lambda _: "mail from eve@evil.example"
        sid = await h.start(KEY)
        assert (await h.call(KEY, sid, "read_inbox")).status_code == 200
        assert (await h.call(KEY, sid, "send_email", {"to": "bob@example.com"})).status_code == 403
        # The denial was decided on cached facts that already held the taint, then confirmed on the store's.
        assert store.loads == 1


async def test_a_denial_on_stale_cached_facts_is_decided_again_on_the_stores(store: CountingStore, tmp_path: Path) -> None:
    async with running_interceptor(StaticConfigStore(demo_projects()), state_store=store, audit_log=tmp_path / "a.jsonl") as h:  # type: ignore[arg-type]
        sid = await h.start(KEY)
        cache = h.app.state.runtime.sessions.cache
        record, facts = cache.get(sid)
        cache.put(record, replace(facts, tags=frozenset({"untrusted"})))  # a cache that is wrong
        response = await h.call(KEY, sid, "send_email", {"to": "bob@example.com"})
        assert response.status_code == 200  # the store's facts are clean
        assert [item.tool for item in h.tool_server.executed] == ["send_email"]


async def test_a_denied_call_in_a_session_ended_elsewhere_is_404(store: CountingStore, tmp_path: Path) -> None:
    async with running_interceptor(StaticConfigStore(demo_projects()), state_store=store, audit_log=tmp_path / "a.jsonl") as h:  # type: ignore[arg-type]
        sid = await h.start(KEY)
        await store.end_session(sid)  # another replica ended it; this one's cache does not know
        assert (await h.call(KEY, sid, "delete_file")).status_code == 404
        assert (await h.call(KEY, sid, "list_calendar")).status_code == 404
        assert h.app.state.runtime.sessions.cache.get(sid) is None


async def test_the_cache_is_bounded(tmp_path: Path) -> None:
    async with running_interceptor(StaticConfigStore(demo_projects()), audit_log=tmp_path / "a.jsonl") as h:
        sessions = h.app.state.runtime.sessions
        sessions.cache._capacity = 3
        sids = [await h.start(KEY) for _ in range(5)]
        assert len(sessions.cache) == 3
        assert (await h.call(KEY, sids[0], "list_calendar")).status_code == 200  # evicted: loaded again


async def test_expired_sessions_leave_nothing_in_redis_or_in_the_cache(redis_prefix: str, tmp_path: Path) -> None:
    state = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    identity, session_key = generate_keypair(), generate_keypair()
    trust = RedisTrustStore.from_url(REDIS_URL, prefix=redis_prefix + "mcp:", leeway=0)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with running_interceptor(
            StaticConfigStore(demo_projects()), state_store=state, identity=identity,
            audit_log=tmp_path / "a.jsonl", session_ttl_seconds=2,
        ) as h:
            h.tool_server.outputs["read_inbox"] = lambda _: "mail from eve@evil.example"
            sids = [await h.start(KEY) for _ in range(3)]
            for sid in sids:
                assert (await h.call(KEY, sid, "read_inbox")).status_code == 200
            # The tool server's side: a registered session key and a used jti.
            now = time.time()
            await trust.register("s-short", session_key.public_b64, int(now) + 1, now=now)
            await trust.admit("j" * 22, int(now) + 1, sid="s-short", check_session=True, now=now)
            assert [key async for key in client.scan_iter(match=redis_prefix + "*")]
            await asyncio.sleep(3.6)  # sessions end at most 3 s after they start (the TTL, rounded up)
            assert [key async for key in client.scan_iter(match=redis_prefix + "*")] == []
            for sid in sids:
                assert (await h.call(KEY, sid, "list_calendar")).status_code == 404
                assert h.app.state.runtime.sessions.cache.get(sid) is None
    finally:
        await state.close()
        await trust.close()
        await client.aclose()


def test_the_cache_never_goes_back_to_older_facts() -> None:
    from interceptor.state import Session, SessionCache

    cache = SessionCache()
    record = Session("s", "p", b"sealed", "pk", int(time.time()) + 60)
    cache.put(record, SessionFacts(version=5, tags=frozenset({"untrusted"})))
    cache.put(record, SessionFacts(version=4))  # a load that started before the commit
    cache.update_facts("s", SessionFacts(version=3))
    assert cache.get("s")[1].version == 5  # type: ignore[index]
    cache.put(replace(record, ended=True), SessionFacts(version=6))
    assert cache.get("s") is None
