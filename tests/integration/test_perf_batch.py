"""Script calls pipelined over one dedicated connection: every caller gets its own
reply or its own error, a flushed script cache and a connection the server closed
are survived, and closing the pipeline fails nobody silently.
(One implementation, used by the interceptor's state store and the tool server's trust store.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from sentinel_redis import ScriptBatch
from tests.conftest import REDIS_URL, free_port

ECHO = "if ARGV[1] == 'fail' then return redis.error_reply('boom') end return {KEYS[1], ARGV[1]}"


@pytest.fixture()
async def batch_class() -> AsyncIterator[Any]:
    made: list[ScriptBatch] = []

    def make(client: aioredis.Redis) -> ScriptBatch:
        made.append(ScriptBatch(client))
        return made[-1]

    yield make
    for batch in made:
        await batch.aclose()


@pytest.fixture()
async def client() -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(REDIS_URL)
    yield redis
    await redis.aclose()


async def test_each_caller_gets_its_own_reply(batch_class: Any, client: aioredis.Redis, redis_prefix: str) -> None:
    batch = batch_class(client)
    script = client.register_script(ECHO)
    keys = [f"{redis_prefix}k{i}" for i in range(50)]
    replies = await asyncio.gather(*(batch.run(script, [key], [str(i)]) for i, key in enumerate(keys)))
    assert replies == [[key.encode(), str(i).encode()] for i, key in enumerate(keys)]


async def test_an_error_reaches_only_its_caller(batch_class: Any, client: aioredis.Redis, redis_prefix: str) -> None:
    batch = batch_class(client)
    script = client.register_script(ECHO)
    outcomes = await asyncio.gather(
        batch.run(script, [redis_prefix + "a"], ["ok"]),
        batch.run(script, [redis_prefix + "b"], ["fail"]),
        batch.run(script, [redis_prefix + "c"], ["ok"]),
        return_exceptions=True,
    )
    assert outcomes[0] == [(redis_prefix + "a").encode(), b"ok"] and outcomes[2][1] == b"ok"
    assert isinstance(outcomes[1], ResponseError) and "boom" in str(outcomes[1])


async def test_a_flushed_script_cache_is_reloaded(batch_class: Any, client: aioredis.Redis, redis_prefix: str) -> None:
    # A script of its own (a unique body): flushing is simulated by never loading it first.
    script = client.register_script(ECHO + f" -- {redis_prefix}")
    batch = batch_class(client)
    replies = await asyncio.gather(*(batch.run(script, [redis_prefix + "k"], [str(i)]) for i in range(5)))
    assert [reply[1] for reply in replies] == [str(i).encode() for i in range(5)]


async def test_an_unreachable_redis_fails_every_caller(batch_class: Any) -> None:
    down = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    try:
        batch = batch_class(down)
        script = down.register_script(ECHO)
        outcomes = await asyncio.gather(*(batch.run(script, ["k"], ["x"]) for _ in range(3)), return_exceptions=True)
        assert all(isinstance(outcome, (RedisConnectionError, OSError)) for outcome in outcomes)
        alone = await asyncio.gather(batch.run(script, ["k"], ["x"]), return_exceptions=True)
        assert isinstance(alone[0], (RedisConnectionError, OSError))
    finally:
        await down.aclose()


async def test_a_cancelled_caller_does_not_break_the_others(batch_class: Any, client: aioredis.Redis, redis_prefix: str) -> None:
    batch = batch_class(client)
    script = client.register_script(ECHO)
    first = asyncio.ensure_future(batch.run(script, [redis_prefix + "a"], ["1"]))
    second = asyncio.ensure_future(batch.run(script, [redis_prefix + "b"], ["2"]))
    await asyncio.sleep(0)
    first.cancel()
    assert (await second)[1] == b"2"
    assert first.cancelled()


async def test_a_connection_the_server_closed_is_replaced(batch_class: Any, redis_prefix: str) -> None:
    name = "batch-" + redis_prefix.replace(":", "-")
    client = aioredis.Redis.from_url(REDIS_URL, client_name=name)
    try:
        batch = batch_class(client)
        script = client.register_script(ECHO)
        assert (await batch.run(script, [redis_prefix + "a"], ["1"]))[1] == b"1"
        ids = [c["id"] for c in await client.client_list() if c.get("name") == name and c.get("cmd") != "client|list"]
        assert ids, "the pipeline's own connection is listed"
        for client_id in ids:
            await client.client_kill_filter(_id=client_id)
        # Like a Redis restart or an idle timeout: the held connection is dead; the call still succeeds.
        assert (await batch.run(script, [redis_prefix + "b"], ["2"]))[1] == b"2"
    finally:
        await client.aclose()


async def test_closing_fails_waiting_callers_and_a_later_call_reopens(batch_class: Any, client: aioredis.Redis, redis_prefix: str) -> None:
    batch = batch_class(client)
    script = client.register_script(ECHO)
    assert (await batch.run(script, [redis_prefix + "a"], ["1"]))[1] == b"1"
    await batch.aclose()
    assert (await batch.run(script, [redis_prefix + "b"], ["2"]))[1] == b"2"
