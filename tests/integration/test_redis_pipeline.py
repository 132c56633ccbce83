"""Script calls pipelined over one dedicated connection: every caller gets its own
reply or its own error, a flushed script cache and a connection the server closed
are survived, a Redis that stops answering or answers out of turn fails the
waiting callers (never hangs them, never gives them another's reply), and closing
the pipeline fails nobody silently.
(One implementation, used by the interceptor's state store and the tool server's trust store.)"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import hiredis
import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sentinel_redis import ScriptPipeline
from tests.conftest import REDIS_URL, free_port

ECHO = "if ARGV[1] == 'fail' then return redis.error_reply('boom') end return {KEYS[1], ARGV[1]}"


@pytest.fixture()
async def batch_class() -> AsyncIterator[Any]:
    made: list[ScriptPipeline] = []

    def make(client: aioredis.Redis) -> ScriptPipeline:
        made.append(ScriptPipeline(client))
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
        # Like a Redis restart or an idle timeout: the held connection is dead. Once the close is
        # seen, calls go to a new connection; one written before it was seen fails (503, never
        # re-sent: it may have run), so at most one call fails.
        outcomes = []
        for i in range(20):
            outcomes.append((await asyncio.gather(batch.run(script, [redis_prefix + "b"], [str(i)]), return_exceptions=True))[0])
            if not isinstance(outcomes[-1], Exception):
                break
            await asyncio.sleep(0.01)
        assert outcomes[-1] == [(redis_prefix + "b").encode(), str(len(outcomes) - 1).encode()]
        assert len(outcomes) <= 2 and all(isinstance(o, RedisConnectionError) for o in outcomes[:-1])
    finally:
        await client.aclose()


async def test_closing_fails_waiting_callers_and_a_later_call_reopens(batch_class: Any, client: aioredis.Redis, redis_prefix: str) -> None:
    batch = batch_class(client)
    script = client.register_script(ECHO)
    assert (await batch.run(script, [redis_prefix + "a"], ["1"]))[1] == b"1"
    await batch.aclose()
    assert (await batch.run(script, [redis_prefix + "b"], ["2"]))[1] == b"2"


async def test_a_call_is_on_the_wire_before_its_caller_yields(
    batch_class: Any, client: aioredis.Redis, redis_prefix: str
) -> None:
    # What lets the interceptor sign while its commit is in flight: `start` sends at once.
    batch = batch_class(client)
    script = client.register_script("redis.call('SET', KEYS[1], ARGV[1]) return 1")
    assert await batch.run(script, [redis_prefix + "warm"], ["0"]) == 1  # connection open, script loaded
    pending = batch.start(script, [redis_prefix + "k"], ["sent"])
    seen = redis.Redis.from_url(REDIS_URL)
    try:
        value = None
        for _ in range(200):  # the loop never runs in between: only a write made by `start` counts
            value = seen.get(redis_prefix + "k")
            if value is not None:
                break
            time.sleep(0.005)
        assert value == b"sent"
    finally:
        seen.close()
    assert await pending == 1


class _FakeRedis:
    """Answers the connection handshake (+OK to anything else), then scripts as told:
    ``silent`` never answers them, ``double`` answers each one twice, ``push`` sends
    an out-of-band RESP3 push message before each reply, ``drop`` answers a connection's
    first script and closes the connection at its second (that reply is lost: the
    script may have run), ``pushing`` never answers scripts but sends a push message every
    50 ms. ``scripts``
    counts the script calls received, on every connection."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.scripts = 0
        self._pushers: list[asyncio.Future[None]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> _FakeRedis:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for pusher in self._pushers:
            pusher.cancel()
        await asyncio.gather(*self._pushers, return_exceptions=True)
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @staticmethod
    async def _keep_pushing(writer: asyncio.StreamWriter) -> None:
        while not writer.is_closing():
            writer.write(b">2\r\n$4\r\nnote\r\n$2\r\nhi\r\n")
            await asyncio.sleep(0.05)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = hiredis.Reader()
        served = 0
        try:
            while data := await reader.read(65536):
                parser.feed(data)
                while (command := parser.gets()) is not False:
                    name = command[0].upper()
                    if name not in (b"EVALSHA", b"EVAL"):
                        writer.write(b"+OK\r\n")
                        continue
                    self.scripts += 1
                    served += 1
                    if self.mode == "drop":
                        if served > 1:
                            writer.close()
                            return
                        writer.write(b":1\r\n")
                    elif self.mode == "double":
                        writer.write(b":1\r\n:2\r\n")
                    elif self.mode == "pushing":
                        self._pushers.append(asyncio.ensure_future(self._keep_pushing(writer)))
                    elif self.mode == "push":
                        writer.write(b">2\r\n$4\r\nnote\r\n$2\r\nhi\r\n:1\r\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@asynccontextmanager
async def _fake_pipeline(batch_class: Any, mode: str, timeout: float) -> AsyncIterator[tuple[Any, Any, _FakeRedis]]:
    """A pipeline (and an ECHO script) on a client of a ``_FakeRedis`` in ``mode``."""
    async with _FakeRedis(mode) as fake:
        client = aioredis.Redis.from_url(f"redis://127.0.0.1:{fake.port}/0", socket_timeout=timeout)
        try:
            yield batch_class(client), client.register_script(ECHO), fake
        finally:
            await client.aclose()


async def test_a_redis_that_stops_answering_fails_the_waiting_callers(batch_class: Any) -> None:
    async with _fake_pipeline(batch_class, "silent", 0.3) as (batch, script, _):
        started = time.monotonic()
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(batch.run(script, ["k"], [str(i)]) for i in range(3)), return_exceptions=True), 5
        )
        assert all(isinstance(outcome, RedisTimeoutError) for outcome in outcomes), outcomes
        assert time.monotonic() - started < 2


@contextmanager
def _fake_in_a_thread(mode: str) -> Iterator[_FakeRedis]:
    """A ``_FakeRedis`` on its own loop and thread: it answers while the client's loop is busy."""
    fake = _FakeRedis(mode)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        loop.run_until_complete(fake.__aenter__())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.__aexit__(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


async def test_a_caller_waiting_for_the_connection_never_lands_on_a_failed_one(
    batch_class: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two callers before the connection is open: one opens it, the other waits for it. The
    # connection fails before the waiter's turn (a stray second reply to the first call,
    # read while this loop was busy elsewhere for 20 ms). The waiter must still end, on a
    # new connection or with an error, and never wait on the dead one.
    from sentinel_redis import _pipeline

    original = _pipeline._Connection.send
    stalled: list[bool] = []

    def send_then_stall(self: Any, call: Any) -> None:
        original(self, call)
        if not stalled:
            stalled.append(True)
            time.sleep(0.02)  # other requests' work in the same loop step

    monkeypatch.setattr(_pipeline._Connection, "send", send_then_stall)
    with _fake_in_a_thread("double") as fake:
        client = aioredis.Redis.from_url(f"redis://127.0.0.1:{fake.port}/0", socket_timeout=0.3)
        try:
            batch = batch_class(client)
            script = client.register_script(ECHO)
            first, second = batch.start(script, ["k"], ["a"]), batch.start(script, ["k"], ["b"])
            outcomes = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 3)
            assert outcomes[0] == 1
            assert outcomes[1] == 1 or isinstance(outcomes[1], RedisError), outcomes
        finally:
            await client.aclose()


async def test_push_messages_are_no_answer_to_a_waiting_call(batch_class: Any) -> None:
    # A server that keeps sending out-of-band messages but never answers still times out.
    async with _fake_pipeline(batch_class, "pushing", 0.3) as (batch, script, _):
        started = time.monotonic()
        outcomes = await asyncio.wait_for(asyncio.gather(batch.run(script, ["k"], ["1"]), return_exceptions=True), 5)
        assert isinstance(outcomes[0], RedisTimeoutError), outcomes
        assert time.monotonic() - started < 2


async def test_a_reply_nobody_asked_for_fails_the_connection(batch_class: Any) -> None:
    # Two replies to one call: the stream is out of step, so no later caller may read from it.
    async with _fake_pipeline(batch_class, "double", 0.5) as (batch, script, _):
        assert await batch.run(script, ["k"], ["1"]) == 1
        second = await asyncio.gather(batch.run(script, ["k"], ["2"]), return_exceptions=True)
        # The stray ":2" is never handed out as this call's reply: the connection was dropped.
        assert second[0] == 1 or isinstance(second[0], RedisError)
        assert second[0] != 2


async def test_an_out_of_band_push_message_is_nobody_s_reply(batch_class: Any) -> None:
    async with _fake_pipeline(batch_class, "push", 0.5) as (batch, script, _):
        assert await asyncio.gather(*(batch.run(script, ["k"], [str(i)]) for i in range(3))) == [1, 1, 1]


async def test_a_call_whose_reply_was_lost_is_not_run_again(batch_class: Any) -> None:
    # On a connection that had answered before: re-sending the call would run a
    # compare-and-set or a jti claim a second time.
    async with _fake_pipeline(batch_class, "drop", 0.5) as (batch, script, fake):
        assert await batch.run(script, ["k"], ["1"]) == 1
        outcomes = await asyncio.gather(batch.run(script, ["k"], ["2"]), return_exceptions=True)
        assert isinstance(outcomes[0], RedisConnectionError)
        await asyncio.sleep(0.05)
        assert fake.scripts == 2


async def test_calls_racing_a_failing_connection_never_hang_or_run_twice(batch_class: Any) -> None:
    # Many callers at once, each connection dropped at its first script: every caller ends
    # with an error within the timeout (none waits on a dead connection), and no call
    # reaches Redis twice (only calls never written are sent on a new connection).
    async with _fake_pipeline(batch_class, "drop", 0.3) as (batch, script, fake):
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(batch.run(script, ["k"], [str(i)]) for i in range(20)), return_exceptions=True), 5
        )
        assert all(o == 1 or isinstance(o, RedisConnectionError) for o in outcomes), outcomes
        await asyncio.sleep(0.05)
        assert fake.scripts <= 20


async def test_both_zones_fail_closed_when_redis_stops_answering() -> None:
    # A hung Redis is an unavailable store in either zone (503), within the socket timeout,
    # never a call that waits forever or one that goes through unchecked.
    from interceptor.policy import SessionFacts
    from interceptor.state import StateStoreError
    from interceptor.state.redis import RedisStateStore
    from mcp_server.errors import StoreError
    from mcp_server.trust import RedisTrustStore

    async with _FakeRedis("silent") as fake:
        url = f"redis://127.0.0.1:{fake.port}/0"
        state = RedisStateStore(url, socket_timeout=0.3)
        trust = RedisTrustStore(aioredis.Redis.from_url(url, socket_timeout=0.3), owns_client=True)
        try:
            started = time.monotonic()
            with pytest.raises(StateStoreError):
                await asyncio.wait_for(state.begin_commit("sid", 0, SessionFacts()), 5)
            with pytest.raises(StoreError):
                await asyncio.wait_for(trust.admit("j" * 22, int(time.time()) + 30, sid="sid", check_session=True, now=time.time()), 5)
            assert time.monotonic() - started < 3
        finally:
            await state.close()
            await trust.aclose()
