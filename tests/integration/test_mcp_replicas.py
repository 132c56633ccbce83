"""Two tool-server apps sharing one real Redis behave as one: a token used at one is refused at
the other, and a revocation at one is seen at once by the other. Redis down fails closed."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

import pytest

from mcp_server.testing import Clock, McpHarness
from mcp_server.trust import RedisTrustStore
from sentinel_contract import generate_keypair, sign_registration

pytestmark = pytest.mark.redis
EMAIL = {"to": "friend@example.com", "subject": "Lunch", "body": "See you at noon."}


@pytest.fixture
async def pair(tmp_path, redis_url, redis_prefix):
    identity = generate_keypair()
    async with AsyncExitStack() as stack:
        apps = [
            await stack.enter_async_context(McpHarness.open(
                tmp_path / name, backend="redis", redis_url=redis_url, redis_prefix=redis_prefix, identity=identity))
            for name in ("a", "b")
        ]
        yield apps


async def test_a_token_used_at_one_replica_is_refused_at_the_other(pair):
    a, b = pair
    session = await a.register()
    token = a.sign(session, "send_email", EMAIL)
    assert (await a.call(session, "send_email", EMAIL, token=token))["result"]["isError"] is False
    replay = await b.call(session, "send_email", EMAIL, token=token)
    assert replay["error"]["data"]["reason"] == "replayed_jti"
    assert len(a.outbox()) == 1 and b.outbox() == []
    assert b.audit()[-1]["event"] == "rejected"


async def test_a_replay_at_a_replica_whose_clock_lags_by_almost_the_leeway_is_refused(
        tmp_path, redis_url, redis_prefix):
    leeway = 3
    identity = generate_keypair()
    options = {"backend": "redis", "redis_url": redis_url, "redis_prefix": redis_prefix, "identity": identity,
               "leeway_seconds": leeway}
    async with McpHarness.open(tmp_path / "a", **options) as a, \
            McpHarness.open(tmp_path / "b", clock=Clock(-(leeway - 0.5)), **options) as b:
        session = await a.register()
        await asyncio.sleep(1.02 - time.time() % 1)  # start just after a second boundary, so timing is stable
        t0 = time.time()
        exp = int(t0) - leeway + 1  # the oldest token a's clock still accepts
        token = a.sign(session, "send_email", EMAIL, now=exp - 30, ttl=30)
        assert (await a.call(session, "send_email", EMAIL, token=token))["result"]["isError"] is False
        # Past exp + leeway + 1 by a's clock (where the jti used to be dropped), but b, 2.5 s
        # behind, still accepts the token until exp + leeway by its own clock.
        await asyncio.sleep(t0 + 2 - time.time())
        replay = await b.call(session, "send_email", EMAIL, token=token)
        assert replay["error"]["data"]["reason"] == "replayed_jti"  # not "expired": b's clock let it through
        assert len(a.outbox()) == 1 and b.outbox() == []


async def test_a_session_registered_at_one_replica_is_served_by_the_other(pair):
    a, b = pair
    session = await a.register()
    assert (await b.call(session, "get_current_time", {}))["result"]["isError"] is False


async def test_a_revocation_at_one_replica_stops_the_other_at_once(pair):
    a, b = pair
    session = await a.register()
    assert (await b.call(session, "get_current_time", {}))["result"]["isError"] is False  # b caches the key
    assert (await a.revoke(session)).status_code == 200
    answer = await b.call(session, "send_email", EMAIL)
    assert answer["error"]["data"]["reason"] == "session_revoked" and b.outbox() == []


async def test_redis_down_refuses_calls_and_executes_nothing(tmp_path):
    identity = generate_keypair()
    dead = RedisTrustStore.from_url("redis://127.0.0.1:1/0")
    async with McpHarness.open(tmp_path, identity=identity) as healthy:
        session = await healthy.register()
        token = healthy.sign(session, "send_email", EMAIL)
    async with McpHarness.open(tmp_path / "cut-off", identity=identity, trust_store=dead) as mcp:
        answer = await mcp.rpc("tools/call", {"name": "send_email", "arguments": EMAIL}, token)
        assert answer["error"]["code"] == -32010 and answer["error"]["data"]["reason"] == "store_unavailable"
        registration = sign_registration(identity.private, iss="i", aud="sentinel-mcp", sid="s-new",
                                         public_key=generate_keypair().public_b64, exp=int(time.time()) + 60)
        response = await mcp.post_session(registration)
        assert response.status_code == 503 and response.json()["error"]["code"] == "store_unavailable"
        assert mcp.outbox() == []
    await dead.close()
