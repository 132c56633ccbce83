"""The operator guide's Redis ACL users, run for real: each service works under its own
user, and neither user can read or write the other service's keys.

The ACL lines are read from docs/operator-guide.md, so the guide shows what is tested.
"""

from __future__ import annotations

import re
import secrets
import shlex
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from interceptor.state import Session
from interceptor.state.redis import RedisStateStore
from mcp_server.trust import RedisTrustStore
from sentinel_contract import generate_keypair
from sentinel_policy import SessionFacts
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "operator-guide.md").read_text()
ACL_LINES = re.findall(r"^ACL SETUSER .+$", GUIDE, flags=re.M)


def _url(user: str, password: str) -> str:
    return REDIS_URL.replace("redis://", f"redis://{user}:{password}@", 1)


@pytest.fixture
async def users() -> AsyncIterator[dict[str, tuple[str, str]]]:
    """The guide's users under unique names: service -> (user, password)."""
    admin = aioredis.Redis.from_url(REDIS_URL)
    made: dict[str, tuple[str, str]] = {}
    try:
        for line in ACL_LINES:
            words = shlex.split(line)
            service, password = words[2], secrets.token_urlsafe(16)
            user = f"test-{service}-{secrets.token_hex(4)}"
            words[2] = user
            words = [f">{password}" if word == ">PASSWORD" else word for word in words]
            await admin.execute_command(*words)
            made[service] = (user, password)
        yield made
    finally:
        for user, _ in made.values():
            await admin.execute_command("ACL", "DELUSER", user)
        for pattern in ("sentinel:interceptor:acl-test-*", "sentinel:mcp:acl-test-*"):
            async for key in admin.scan_iter(match=pattern):
                await admin.delete(key)
        await admin.aclose()


def test_the_guide_gives_one_user_per_service() -> None:
    assert [shlex.split(line)[2] for line in ACL_LINES] == ["interceptor", "mcp"]


@pytest.mark.parametrize("command", [["FLUSHALL"], ["FLUSHDB"], ["SCRIPT", "FLUSH"], ["CONFIG", "SET", "maxmemory", "1"],
                                     ["SHUTDOWN"], ["DEBUG", "SLEEP", "0"], ["KEYS", "*"], ["MONITOR"],
                                     ["SCRIPT", "KILL"], ["FUNCTION", "FLUSH"], ["FUNCTION", "DELETE", "x"],
                                     ["CLIENT", "KILL", "ID", "1"], ["ACL", "SETUSER", "x"]])
async def test_neither_user_may_run_a_server_wide_command(users: dict[str, tuple[str, str]], command: list[str]) -> None:
    admin = aioredis.Redis.from_url(REDIS_URL)
    try:
        for user, _ in users.values():  # ACL DRYRUN answers without running anything
            verdict = await admin.execute_command("ACL", "DRYRUN", user, *command)
            assert verdict != b"OK" and b"no permissions" in verdict, (user, command, verdict)
    finally:
        await admin.aclose()


async def test_each_service_works_under_its_own_user_and_cannot_reach_the_other(
    users: dict[str, tuple[str, str]]
) -> None:
    run = secrets.token_hex(4)
    interceptor_prefix, mcp_prefix = f"sentinel:interceptor:acl-test-{run}:", f"sentinel:mcp:acl-test-{run}:"
    state = RedisStateStore(_url(*users["interceptor"]), prefix=interceptor_prefix)
    trust = RedisTrustStore.from_url(_url(*users["mcp"]), prefix=mcp_prefix, leeway=5, max_session_seconds=3600)
    now = time.time()
    key = generate_keypair()
    try:
        # The interceptor's whole session life under its user: create, commit, load, end, health.
        await state.ping()
        record = Session(sid="s1", project="demo", sealed_key=b"sealed", public_key=key.public_b64,
                               expires_at=int(now) + 60)
        await state.create_session(record)
        facts = SessionFacts()
        assert (await state.begin_commit("s1", facts.version, facts)).ok
        loaded = await state.load("s1")
        assert loaded is not None and loaded[0].project == "demo"
        assert await state.end_session("s1")
        # The tool server's under its own: register, key, claim a jti, revoke.
        assert await trust.register("s1", key.public_b64, int(now) + 60, now=now) == "registered"
        assert (await trust.session_key("s1", now=now)).public_key == key.public_b64
        await trust.admit("j" * 22, int(now) + 30, sid="s1", check_session=True, now=now)
        await trust.revoke("s1", now=now)
    finally:
        await state.close()
        await trust.close()
    for service, foreign in (("mcp", interceptor_prefix), ("interceptor", mcp_prefix)):
        client = redis.Redis.from_url(_url(*users[service]))
        try:
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.hset(f"{foreign}s:{{s1}}", "facts", "{}")  # e.g. the tool server rewriting taint
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.get(f"{foreign}s:{{s1}}")
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.keys("*")  # harmless to try: a dangerous command that only reads
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.config_get("maxmemory")
        finally:
            client.close()
