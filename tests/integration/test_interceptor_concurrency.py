"""200 concurrent calls in one session, pairing a tainting read with a forbidden write.

The assertions are on what the tool server actually executed and on the
serialisation of commits: no write may be committed on facts that already
carried the taint, whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from interceptor.state import Commit, StateStore
from interceptor.state.memory import MemoryStateStore
from interceptor.state.redis import RedisStateStore
from interceptor.testing import StaticConfigStore, running_interceptor
from sentinel_policy import SessionFacts
from tests.conftest import REDIS_URL
from tests.integration.test_interceptor_api import KEY, demo_projects


class InterleavingStore:
    """Delegates to a real store, yields to the event loop before each operation
    (so even the memory store sees interleavings) and records successful commits."""

    def __init__(self, inner: StateStore) -> None:
        self._inner = inner
        self.committed: list[SessionFacts] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def load(self, sid: str) -> tuple[object, SessionFacts] | None:  # type: ignore[override]
        for _ in range(random.randint(0, 3)):
            await asyncio.sleep(0)
        return await self._inner.load(sid)  # type: ignore[return-value]

    def begin_commit(self, sid: str, expected_version: int, new_facts: SessionFacts) -> Awaitable[Commit]:
        return self._commit(sid, expected_version, new_facts)

    async def _commit(self, sid: str, expected_version: int, new_facts: SessionFacts) -> Commit:
        for _ in range(random.randint(0, 3)):
            await asyncio.sleep(0)
        outcome = await self._inner.begin_commit(sid, expected_version, new_facts)
        if outcome.ok and new_facts.version != expected_version:
            self.committed.append(new_facts)
        return outcome


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[InterleavingStore]:
    if request.param == "memory":
        yield InterleavingStore(MemoryStateStore())
        return
    inner = RedisStateStore(REDIS_URL, prefix=redis_prefix)
    yield InterleavingStore(inner)
    await inner.close()


async def test_200_concurrent_calls_never_let_a_forbidden_write_through(store: InterleavingStore, tmp_path: Path) -> None:
    async with running_interceptor(
        StaticConfigStore(demo_projects()), state_store=store, audit_log=tmp_path / "audit.jsonl"  # type: ignore[arg-type]
    ) as harness:
        sid = await harness.start(KEY)
        tools = ["read_inbox"] * 100 + ["send_email"] * 100
        random.shuffle(tools)
        responses = await asyncio.gather(*(harness.call(KEY, sid, tool, {"n": i}) for i, tool in enumerate(tools)))

    by_tool: dict[str, list[int]] = {"read_inbox": [], "send_email": []}
    allowed_send_jtis = set()
    for tool, response in zip(tools, responses, strict=True):
        by_tool[tool].append(response.status_code)
        if tool == "send_email" and response.status_code == 200:
            allowed_send_jtis.add(response.json()["jti"])
    assert set(by_tool["read_inbox"]) == {200}
    assert set(by_tool["send_email"]) <= {200, 403}

    executed_sends = {item.jti for item in harness.tool_server.executed if item.tool == "send_email"}
    assert executed_sends == allowed_send_jtis  # what ran is exactly what was allowed

    # Serialisation: commits are totally ordered by version; a send committed on
    # facts that carried the taint would show "untrusted" in its committed facts.
    versions = [facts.version for facts in store.committed]
    assert sorted(versions) == list(range(1, len(versions) + 1))
    ordered = sorted(store.committed, key=lambda facts: facts.version)
    first_taint = next(facts.version for facts in ordered if "untrusted" in facts.tags)
    sends = [facts for facts in ordered if facts.history[-1] == "send_email"]
    assert len(sends) == len(allowed_send_jtis)
    assert all("untrusted" not in facts.tags and facts.version < first_taint for facts in sends)
