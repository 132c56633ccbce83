"""The trust store contract, one suite over both backends (the Redis one against the real server)."""

from __future__ import annotations

import time

import pytest
import redis

from mcp_server.errors import AuthError, StoreError
from mcp_server.trust import MemoryTrustStore, RedisTrustStore
from sentinel_contract import generate_keypair


@pytest.fixture(params=["memory", "redis"])
async def store(request, redis_url, redis_prefix):
    if request.param == "memory":
        backend = MemoryTrustStore(leeway=5, max_session_seconds=3600)
    else:
        backend = RedisTrustStore.from_url(redis_url, prefix=redis_prefix, leeway=5, max_session_seconds=3600)
    yield backend
    await backend.close()


async def _reason(awaitable) -> str:
    with pytest.raises(AuthError) as err:
        await awaitable
    return err.value.code


async def test_registered_key_is_returned_until_the_session_ends(store):
    now = time.time()
    key = generate_keypair()
    assert await store.register("s1", key.public_b64, int(now) + 60, now=now) == "registered"
    assert await store.register("s1", key.public_b64, int(now) + 90, now=now) == "refreshed"
    session = await store.session_key("s1", now=now)
    assert session.public_key == key.public_b64 and session.expires_at == int(now) + 90
    assert await _reason(store.session_key("s1", now=now + 91)) == "session_expired"
    assert await _reason(store.session_key("nobody", now=now)) == "unknown_session"


async def test_a_jti_is_admitted_once(store):
    now = time.time()
    await store.register("s1", generate_keypair().public_b64, int(now) + 60, now=now)
    await store.admit("j" * 22, int(now) + 30, sid="s1", check_session=True, now=now)
    assert await _reason(store.admit("j" * 22, int(now) + 30, sid="s1", check_session=True, now=now)) == "replayed_jti"


async def test_a_used_jti_is_kept_for_twice_the_leeway_after_exp():
    # Redis keeps it for the same time by TTL (test_every_redis_key_expires; the skew itself:
    # tests/integration/test_mcp_replicas.py).
    store = MemoryTrustStore(leeway=5, max_session_seconds=3600)
    now = time.time()
    exp = int(now) + 30
    await store.register("s1", generate_keypair().public_b64, int(now) + 600, now=now)
    await store.admit("k" * 22, exp, sid="s1", check_session=True, now=now)
    later = exp + 2 * 5 + 0.5  # a replica 4.5 s behind still accepts this token (exp + leeway by its clock)
    assert await _reason(store.admit("k" * 22, exp, sid="s1", check_session=True, now=later)) == "replayed_jti"
    await store.admit("k" * 22, exp, sid="s1", check_session=True, now=exp + 2 * 5 + 1)  # forgotten: memory stays bounded


async def test_admission_checks_the_session_is_still_live(store):
    now = time.time()
    await store.register("s1", generate_keypair().public_b64, int(now) + 60, now=now)
    assert await _reason(store.admit("a" * 22, int(now) + 30, sid="s1", check_session=True, now=now + 61)) == "session_expired"
    assert await _reason(store.admit("b" * 22, int(now) + 30, sid="s2", check_session=True, now=now)) == "unknown_session"
    await store.admit("c" * 22, int(now) + 30, sid="s2", check_session=False, now=now)  # identity-signed


async def test_revocation_blocks_calls_and_re_registration(store):
    now = time.time()
    key = generate_keypair()
    await store.register("s1", key.public_b64, int(now) + 60, now=now)
    await store.session_key("s1", now=now)  # warm any cache
    assert await store.revoke("s1", now=now) is True
    assert await _reason(store.admit("d" * 22, int(now) + 30, sid="s1", check_session=True, now=now)) == "session_revoked"
    assert await _reason(store.session_key("s1", now=now)) == "session_revoked"
    assert await _reason(store.register("s1", key.public_b64, int(now) + 60, now=now)) == "session_revoked"
    assert await store.revoke("never-seen", now=now) is False
    assert await _reason(store.register("never-seen", key.public_b64, int(now) + 60, now=now)) == "session_revoked"


async def test_another_key_cannot_take_over_a_session(store):
    now = time.time()
    await store.register("s1", generate_keypair().public_b64, int(now) + 60, now=now)
    assert await _reason(store.register("s1", generate_keypair().public_b64, int(now) + 60, now=now)) == "session_conflict"


@pytest.mark.redis
async def test_every_redis_key_expires(redis_url, redis_prefix):
    store = RedisTrustStore.from_url(redis_url, prefix=redis_prefix, leeway=5, max_session_seconds=3600)
    now = time.time()
    await store.register("s1", generate_keypair().public_b64, int(now) + 60, now=now)
    await store.admit("e" * 22, int(now) + 30, sid="s1", check_session=True, now=now)
    await store.revoke("s2", now=now)
    await store.close()
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=redis_prefix + "*"))
        assert len(keys) == 3
        ttls = {key.decode().removeprefix(redis_prefix)[:2]: client.ttl(key) for key in keys}
        # a used jti: exp + 2 * leeway + 1 (a replica up to the leeway behind still accepts the token)
        assert 60 <= ttls["s:"] <= 66 and 39 <= ttls["j:"] <= 42 and 3600 <= ttls["r:"] <= 3606
    finally:
        client.close()


@pytest.mark.redis
async def test_redis_down_fails_closed():
    store = RedisTrustStore.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(StoreError):
        await store.session_key("s1", now=time.time())
    with pytest.raises(StoreError):
        await store.admit("f" * 22, int(time.time()) + 30, sid="s1", check_session=True, now=time.time())
    await store.close()
