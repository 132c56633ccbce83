"""Every state-store backend through one suite: the memory store and real Redis."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from interceptor.state import Approval, ApprovalBounds, Session, StateStore, StateStoreError, open_state_store
from interceptor.state.memory import MemoryStateStore
from interceptor.state.redis import RedisStateStore
from sentinel_policy import SessionFacts, StateDelta, apply_delta
from tests.conftest import REDIS_URL, free_port


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
        return
    redis_store = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    yield redis_store
    await redis_store.close()


def record(sid: str = "s1", ttl: int = 60, project: str = "demo") -> Session:
    return Session(sid, project, b"sealed-bytes", "pubkey", int(time.time()) + ttl)


async def test_created_session_loads_with_empty_facts(store: StateStore) -> None:
    await store.create_session(record())
    loaded = await store.load("s1")
    assert loaded is not None
    assert loaded[0] == record() and loaded[1] == SessionFacts()


async def test_unknown_session_loads_none(store: StateStore) -> None:
    assert await store.load("nope") is None


async def test_commit_on_current_version_stores_the_facts(store: StateStore) -> None:
    await store.create_session(record())
    new = apply_delta(SessionFacts(), StateDelta(add_tags=frozenset({"untrusted"}), record_call="read_inbox"))
    outcome = await store.begin_commit("s1", 0, new)
    assert outcome.ok and outcome.facts == new
    loaded = await store.load("s1")
    assert loaded is not None and loaded[1] == new and loaded[1].version == 1


async def test_commit_on_stale_version_is_refused_and_returns_current_facts(store: StateStore) -> None:
    await store.create_session(record())
    first = apply_delta(SessionFacts(), StateDelta(add_tags=frozenset({"untrusted"})))
    assert (await store.begin_commit("s1", 0, first)).ok
    second = apply_delta(SessionFacts(), StateDelta(record_call="send_email"))
    outcome = await store.begin_commit("s1", 0, second)
    assert not outcome.ok and outcome.facts == first
    loaded = await store.load("s1")
    assert loaded is not None and loaded[1] == first


async def test_unchanged_facts_commit_checks_the_version_without_writing(store: StateStore) -> None:
    await store.create_session(record())
    assert (await store.begin_commit("s1", 0, SessionFacts())).ok
    tainted = apply_delta(SessionFacts(), StateDelta(add_tags=frozenset({"t"})))
    assert (await store.begin_commit("s1", 0, tainted)).ok
    assert not (await store.begin_commit("s1", 0, SessionFacts())).ok  # the check sees the taint


async def test_ended_session_refuses_commits_but_still_loads_as_ended(store: StateStore) -> None:
    await store.create_session(record())
    assert await store.end_session("s1")
    outcome = await store.begin_commit("s1", 0, apply_delta(SessionFacts(), StateDelta(record_call="x")))
    assert not outcome.ok and outcome.facts is None
    loaded = await store.load("s1")
    assert loaded is not None and loaded[0].ended


async def test_ending_an_unknown_session_creates_nothing(store: StateStore) -> None:
    assert not await store.end_session("ghost")
    assert await store.load("ghost") is None


async def test_expired_session_leaves_nothing(store: StateStore) -> None:
    await store.create_session(record(ttl=1))
    await asyncio.sleep(2.1)
    assert await store.load("s1") is None
    assert not (await store.begin_commit("s1", 0, SessionFacts())).ok


BOUNDS = ApprovalBounds(per_session=3, per_project=5, window=3600)


def held(approval_id: str = "a1", sid: str = "s1", *, tool: str = "send_email", digest: str = "hash",
         ttl: int = 60, project: str = "demo") -> Approval:
    now = int(time.time())
    return Approval(approval_id, sid, project, tool, b"sealed", digest, "hold-mail", "why", now, now + ttl,
                    agent="bot")


async def test_an_approval_round_trips_while_its_session_lives(store: StateStore) -> None:
    await store.create_session(record())
    approval = held()
    assert await store.hold_approval(approval, BOUNDS) == "held"
    assert await store.get_approval("a1") == approval
    assert await store.get_approval("a2") is None
    assert [a.approval_id for a in await store.list_approvals("demo", limit=10)] == ["a1"]
    assert await store.list_approvals("other", limit=10) == []


async def test_no_approval_without_a_live_session(store: StateStore) -> None:
    assert await store.hold_approval(held(), BOUNDS) == "no_session"
    await store.create_session(record())
    await store.end_session("s1")
    assert await store.hold_approval(held(), BOUNDS) == "no_session"


async def test_approvals_are_bounded_per_session_and_per_project(store: StateStore) -> None:
    for sid in ("s1", "s2"):
        await store.create_session(record(sid))
    outcomes = [await store.hold_approval(held(f"a{i}"), BOUNDS) for i in range(4)]
    assert outcomes == ["held", "held", "held", "session_full"]
    more = [await store.hold_approval(held(f"b{i}", "s2"), BOUNDS) for i in range(3)]
    assert more == ["held", "held", "project_full"]


async def test_only_pending_approvals_count_against_the_bounds(store: StateStore) -> None:
    await store.create_session(record())
    now = int(time.time())
    for index in range(3):
        assert await store.hold_approval(held(f"a{index}"), BOUNDS) == "held"
    await store.decide_approval("a0", "denied", by="alice", at=now, note=None)
    assert await store.hold_approval(held("a3"), BOUNDS) == "held"  # a decided one frees its place
    await store.hold_approval(held("x", ttl=-1), BOUNDS)  # refused: the session holds 3 pending again
    await store.create_session(record("s2"))
    await store.hold_approval(held("e0", "s2", ttl=1), BOUNDS)  # the project's 5th, expiring at once
    await asyncio.sleep(1.1)
    assert await store.hold_approval(held("b0", "s2"), BOUNDS) == "held"  # an expired one frees its place
    await store.end_session("s1")  # ending a session frees the project's places its approvals held
    assert [await store.hold_approval(held(f"c{i}", "s2"), BOUNDS) for i in range(2)] == ["held", "held"]


async def test_an_approval_is_decided_once_and_used_once_for_exactly_its_call(store: StateStore) -> None:
    await store.create_session(record())
    await store.hold_approval(held(), BOUNDS)
    now = int(time.time())
    assert await store.use_approval("s1", "send_email", "hash", now) is None  # pending: not usable
    decided = await store.decide_approval("a1", "approved", by="alice", at=now, note="ok")
    assert decided is not None and decided[1] is True
    assert (decided[0].status, decided[0].decided_by, decided[0].note) == ("approved", "alice", "ok")
    again = await store.decide_approval("a1", "denied", by="bob", at=now, note=None)
    assert again is not None and (again[0].status, again[0].decided_by, again[1]) == ("approved", "alice", False)
    same = await store.decide_approval("a1", "approved", by="alice", at=now, note="ok")
    assert same is not None and same[1] is False  # the same decision again, the same second: not decided now
    assert await store.use_approval("s1", "send_email", "other-hash", now) is None  # other arguments
    assert await store.use_approval("s1", "delete_file", "hash", now) is None  # other tool
    assert await store.use_approval("s2", "send_email", "hash", now) is None  # other session
    used = await asyncio.gather(*(store.use_approval("s1", "send_email", "hash", now) for _ in range(10)))
    assert sum(u is not None for u in used) == 1  # one caller, ever
    assert await store.use_approval("s1", "send_email", "hash", now) is None
    final = await store.get_approval("a1")
    assert final is not None and final.state(now) == "used"


async def test_a_denied_or_expired_approval_cannot_be_used(store: StateStore) -> None:
    await store.create_session(record())
    await store.hold_approval(held("a1", digest="h1"), BOUNDS)
    await store.hold_approval(held("a2", digest="h2", ttl=1), BOUNDS)
    now = int(time.time())
    await store.decide_approval("a1", "denied", by="alice", at=now, note=None)
    assert await store.use_approval("s1", "send_email", "h1", now) is None
    late = now + 5
    expired = await store.decide_approval("a2", "approved", by="alice", at=late, note=None)
    assert expired is not None and expired[1] is False
    assert expired[0].state(late) == "expired" and expired[0].decided_by is None
    assert await store.use_approval("s1", "send_email", "h2", late) is None


async def test_ending_the_session_removes_its_approvals(store: StateStore) -> None:
    await store.create_session(record())
    await store.hold_approval(held(), BOUNDS)
    await store.decide_approval("a1", "approved", by="alice", at=int(time.time()), note=None)
    await store.end_session("s1")
    assert await store.get_approval("a1") is None
    assert await store.list_approvals("demo", limit=10) == []
    assert await store.use_approval("s1", "send_email", "hash", int(time.time())) is None


async def test_concurrent_compare_and_set_loses_no_update(store: StateStore) -> None:
    """100 writers each add one tag with load/commit/retry: every tag survives."""
    await store.create_session(record())

    async def add(tag: str) -> None:
        loaded = await store.load("s1")
        assert loaded is not None
        facts = loaded[1]
        while True:
            await asyncio.sleep(random.uniform(0, 0.002))
            outcome = await store.begin_commit("s1", facts.version, apply_delta(facts, StateDelta(add_tags=frozenset({tag}))))
            if outcome.ok:
                return
            assert outcome.facts is not None
            facts = outcome.facts

    await asyncio.gather(*(add(f"t{i}") for i in range(100)))
    loaded = await store.load("s1")
    assert loaded is not None
    assert loaded[1].tags == {f"t{i}" for i in range(100)} and loaded[1].version == 100


async def test_redis_keys_carry_the_session_ttl(redis_prefix: str) -> None:
    store = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    try:
        await store.create_session(record(ttl=100))
        await store.begin_commit("s1", 0, apply_delta(SessionFacts(), StateDelta(record_call="x")))
        await store.end_session("s1")
        client = aioredis.Redis.from_url(REDIS_URL)
        ttl = await client.ttl(f"{redis_prefix}session:s1")
        await client.aclose()
        assert 90 <= ttl <= 100
    finally:
        await store.close()


async def test_redis_reloads_its_scripts_after_script_flush(redis_prefix: str) -> None:
    store = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    try:
        await store.create_session(record())
        assert (await store.begin_commit("s1", 0, SessionFacts())).ok
        client = aioredis.Redis.from_url(REDIS_URL)
        # SCRIPT FLUSH drops cached scripts only (no data): the next EVALSHA gets NOSCRIPT.
        await client.script_flush()
        await client.aclose()
        assert (await store.begin_commit("s1", 0, SessionFacts())).ok
    finally:
        await store.close()


async def test_redis_down_raises_state_store_error_on_every_operation() -> None:
    store = RedisStateStore(f"redis://127.0.0.1:{free_port()}/0", prefix="down:", connect_timeout=0.2)
    try:
        for operation in (
            store.ping(),
            store.create_session(record()),
            store.load("s1"),
            store.begin_commit("s1", 0, SessionFacts()),
            store.end_session("s1"),
            store.get_approval("a1"),
            store.list_approvals("demo", limit=10),
            store.use_approval("s1", "send_email", "hash", 0),
        ):
            with pytest.raises(StateStoreError):
                await operation
    finally:
        await store.close()


def test_backend_is_chosen_by_url() -> None:
    assert isinstance(open_state_store(None), MemoryStateStore)
    assert isinstance(open_state_store("memory://"), MemoryStateStore)
    assert isinstance(open_state_store(REDIS_URL, prefix="p:"), RedisStateStore)
