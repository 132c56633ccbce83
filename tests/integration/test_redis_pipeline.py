"""Script calls pipelined over one dedicated connection: every caller gets its own
reply or its own error, a flushed script cache and a connection the server closed
are survived, a Redis that stops answering or answers out of turn fails the
waiting callers (never hangs them, never gives them another's reply), and closing
the pipeline fails nobody silently. The pipeline opens its connection itself, so
the handshake is tested here too: the client's user, password, database, name, TLS
and timeouts are applied, and no script is written before Redis accepted them.
(One implementation, used by the interceptor's state store and the tool server's trust store.)"""

from __future__ import annotations

import ast
import asyncio
import datetime
import secrets
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Self

import hiredis
import pytest
import redis
import redis.asyncio as aioredis
from redis.credentials import UsernamePasswordCredentialProvider
from redis.exceptions import (
    AuthenticationError,
    DataError,
    NoPermissionError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sentinel_redis import ScriptPipeline
from tests.conftest import REDIS_URL, free_port

ECHO = "if ARGV[1] == 'fail' then return redis.error_reply('boom') end return {KEYS[1], ARGV[1]}"


@pytest.fixture
async def batch_class() -> AsyncIterator[Any]:
    made: list[ScriptPipeline] = []

    def make(client: aioredis.Redis) -> ScriptPipeline:
        made.append(ScriptPipeline(client))
        return made[-1]

    yield make
    for batch in made:
        await batch.aclose()


@pytest.fixture
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
            time.sleep(0.005)  # noqa: ASYNC251 (blocking on purpose: the loop must not run)
        assert value == b"sent"
    finally:
        seen.close()
    assert await pending == 1


class _FakeRedis:
    """Answers the connection handshake (+OK to anything but a script; an error to the
    command named by ``refuse``), then scripts as told: ``answer`` answers each with
    ``:1``, ``silent`` never answers them, ``mute`` answers nothing at all (not even the
    handshake), ``double`` answers each one twice, ``push`` sends an out-of-band RESP3
    push message before each reply, ``drop`` answers a connection's first script and
    closes the connection at its second (that reply is lost: the script may have run),
    ``pushing`` never answers scripts but sends a push message every 50 ms. ``commands``
    lists every command received, in order, on every connection; ``scripts`` counts the
    script calls among them. Listens on TCP (with ``tls``, over TLS) or on the Unix
    socket ``path``."""

    def __init__(
        self, mode: str, *, refuse: bytes | None = None, tls: ssl.SSLContext | None = None, path: str | None = None
    ) -> None:
        self.mode = mode
        self.refuse = refuse
        self.tls = tls
        self.path = path
        self.scripts = 0
        self.commands: list[tuple[bytes, ...]] = []
        self._pushers: list[asyncio.Future[None]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        if self.path is not None:
            self.server = await asyncio.start_unix_server(self._serve, self.path)
        else:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
            self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for pusher in self._pushers:
            pusher.cancel()
        await asyncio.gather(*self._pushers, return_exceptions=True)
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def names(self) -> list[bytes]:
        return [command[0].upper() for command in self.commands]

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
                    self.commands.append(tuple(command))
                    name = command[0].upper()
                    if self.mode == "mute":
                        continue
                    if name == self.refuse:
                        writer.write(b"-WRONGPASS invalid username-password pair\r\n" if name == b"AUTH" else b"-ERR no\r\n")
                        continue
                    if name not in (b"EVALSHA", b"EVAL"):
                        writer.write(b"+OK\r\n")
                        continue
                    self.scripts += 1
                    served += 1
                    if self.mode == "answer":
                        writer.write(b":1\r\n")
                    elif self.mode == "drop":
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
        except (ConnectionError, ssl.SSLError):
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
    from interceptor.state import StateStoreError
    from interceptor.state.redis import RedisStateStore
    from mcp_server.errors import StoreError
    from mcp_server.trust import RedisTrustStore
    from sentinel_policy import SessionFacts

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
            await trust.close()


# ---------------------------------------------------------------------- the handshake and settings


async def test_the_handshake_comes_first_and_uses_the_client_s_settings(batch_class: Any) -> None:
    # One send: AUTH as the ACL user, CLIENT SETNAME, SELECT; the script only after all three said OK.
    async with _FakeRedis("answer") as fake:
        client = aioredis.Redis.from_url(f"redis://ops:s3cret@127.0.0.1:{fake.port}/3", client_name="gw", socket_timeout=1)
        try:
            script = client.register_script(ECHO)
            assert await batch_class(client).run(script, ["k"], ["1"]) == 1
        finally:
            await client.aclose()
    assert fake.commands[:3] == [(b"AUTH", b"ops", b"s3cret"), (b"CLIENT", b"SETNAME", b"gw"), (b"SELECT", b"3")]
    assert fake.names[3:] == [b"EVALSHA"]


async def test_a_credential_provider_is_asked_at_each_connect(batch_class: Any) -> None:
    async with _FakeRedis("answer") as fake:
        provider = UsernamePasswordCredentialProvider("svc", "from-vault")
        client = aioredis.Redis(host="127.0.0.1", port=fake.port, credential_provider=provider, socket_timeout=1)
        try:
            assert await batch_class(client).run(client.register_script(ECHO), ["k"], ["1"]) == 1
        finally:
            await client.aclose()
    assert fake.commands[0] == (b"AUTH", b"svc", b"from-vault")


@pytest.mark.parametrize(
    ("refused", "url_tail", "error"),
    [(b"AUTH", "ops:wrong@", AuthenticationError), (b"SELECT", "", RedisError), (b"CLIENT", "", RedisError)],
)
async def test_no_script_is_written_before_the_handshake_succeeded(
    batch_class: Any, refused: bytes, url_tail: str, error: type[Exception]
) -> None:
    # A script run as the wrong user or in the wrong database would act on the wrong keys.
    async with _FakeRedis("answer", refuse=refused) as fake:
        client = aioredis.Redis.from_url(f"redis://{url_tail}127.0.0.1:{fake.port}/2", client_name="gw", socket_timeout=1)
        try:
            batch = batch_class(client)
            script = client.register_script(ECHO)
            outcomes = await asyncio.gather(*(batch.run(script, ["k"], [str(i)]) for i in range(3)), return_exceptions=True)
            assert all(isinstance(outcome, error) for outcome in outcomes), outcomes
        finally:
            await client.aclose()
        await asyncio.sleep(0.05)
    assert refused in fake.names and fake.scripts == 0, fake.commands


async def test_a_handshake_that_is_never_answered_times_out(batch_class: Any) -> None:
    async with _FakeRedis("mute") as fake:
        client = aioredis.Redis.from_url(f"redis://:pw@127.0.0.1:{fake.port}/0", socket_timeout=0.3)
        try:
            started = time.monotonic()
            outcomes = await asyncio.wait_for(
                asyncio.gather(batch_class(client).run(client.register_script(ECHO), ["k"], ["1"]), return_exceptions=True), 5
            )
            assert isinstance(outcomes[0], RedisTimeoutError), outcomes
            assert time.monotonic() - started < 2
        finally:
            await client.aclose()
    assert fake.names == [b"AUTH"]


async def test_a_client_without_a_timeout_still_never_waits_forever(
    batch_class: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No socket_timeout in the client's settings: the pipeline's own default bounds the wait.
    from sentinel_redis import _pipeline

    monkeypatch.setattr(_pipeline, "_DEFAULT_TIMEOUT", 0.3)
    async with _FakeRedis("silent") as fake:
        client = aioredis.Redis.from_url(f"redis://127.0.0.1:{fake.port}/0")
        try:
            outcomes = await asyncio.wait_for(
                asyncio.gather(batch_class(client).run(client.register_script(ECHO), ["k"], ["1"]), return_exceptions=True), 5
            )
            assert isinstance(outcomes[0], RedisTimeoutError), outcomes
        finally:
            await client.aclose()


def _pki() -> tuple[str, bytes, bytes]:
    """A throwaway CA (PEM) and a certificate + key (PEM) for 127.0.0.1 and localhost, made offline."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pipeline test CA")])

    def certificate(subject: x509.Name, public: Any, extensions: list[tuple[Any, bool]]) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(ca_key, hashes.SHA256())

    ca = certificate(ca_name, ca_key.public_key(), [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
    ])
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    leaf = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), key.public_key(), [
        (x509.SubjectAlternativeName(names), False),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
    ])
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem).decode(), leaf.public_bytes(pem), key_pem


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ssl.SSLContext]:
    """The CA (PEM) a rediss:// client must trust, and the fake server's TLS context."""
    ca, cert, key = _pki()
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert)
    (folder / "key.pem").write_bytes(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ca, context


async def _tls_scenario(ca: str, server: ssl.SSLContext) -> None:
    async with _FakeRedis("answer", tls=server) as fake:
        trusting = aioredis.Redis.from_url(f"rediss://:pw@127.0.0.1:{fake.port}/0", ssl_ca_data=ca, socket_timeout=1)
        default = aioredis.Redis.from_url(f"rediss://:pw@127.0.0.1:{fake.port}/0", socket_timeout=1)
        pipelines = [ScriptPipeline(trusting), ScriptPipeline(default)]
        try:
            assert await pipelines[0].run(trusting.register_script(ECHO), ["k"], ["1"]) == 1
            assert fake.names == [b"AUTH", b"EVALSHA"]
            # A certificate the client does not trust: nothing is sent, not even the password.
            refused = await asyncio.gather(pipelines[1].run(default.register_script(ECHO), ["k"], ["2"]), return_exceptions=True)
            assert isinstance(refused[0], RedisConnectionError) and "CERTIFICATE_VERIFY_FAILED" in str(refused[0]), refused
            assert fake.names == [b"AUTH", b"EVALSHA"]
        finally:
            for pipeline in pipelines:
                await pipeline.aclose()
            await trusting.aclose()
            await default.aclose()


async def test_rediss_runs_over_verified_tls(tls_server: tuple[str, ssl.SSLContext]) -> None:
    await _tls_scenario(*tls_server)


def test_rediss_runs_over_verified_tls_on_uvloop(tls_server: tuple[str, ssl.SSLContext]) -> None:
    # The services run on uvloop: its transports and sockets, not only asyncio's.
    import uvloop

    uvloop.run(_tls_scenario(*tls_server))


async def test_a_tls_handshake_that_never_ends_is_bounded_by_the_connect_timeout(batch_class: Any) -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts TCP, never speaks TLS, until the client goes
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.Redis.from_url(f"rediss://127.0.0.1:{port}/0", socket_connect_timeout=0.2, socket_timeout=5)
    try:
        started = time.monotonic()
        outcomes = await asyncio.wait_for(
            asyncio.gather(batch_class(client).run(client.register_script(ECHO), ["k"], ["1"]), return_exceptions=True), 5
        )
        assert isinstance(outcomes[0], RedisTimeoutError), outcomes
        assert time.monotonic() - started < 2
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


async def test_a_unix_socket_client_is_served(batch_class: Any, tmp_path: Path) -> None:
    async with _FakeRedis("answer", path=str(tmp_path / "redis.sock")) as fake:
        client = aioredis.Redis(unix_socket_path=str(tmp_path / "redis.sock"), password="pw", socket_timeout=1)
        try:
            assert await batch_class(client).run(client.register_script(ECHO), ["k"], ["1"]) == 1
        finally:
            await client.aclose()
    assert fake.names == [b"AUTH", b"EVALSHA"]


def test_a_client_the_pipeline_cannot_connect_as_is_refused_at_once() -> None:
    # A Sentinel-managed or custom connection would connect elsewhere than its settings say.
    class Custom(aioredis.Connection):
        pass

    for pool in (aioredis.ConnectionPool(connection_class=Custom), aioredis.SentinelConnectionPool("main", object())):
        with pytest.raises(TypeError):
            ScriptPipeline(aioredis.Redis(connection_pool=pool))
    with pytest.raises(TypeError):
        ScriptPipeline(aioredis.RedisCluster(host="127.0.0.1", port=free_port()))


async def test_an_acl_user_runs_its_scripts_as_itself(batch_class: Any, redis_prefix: str) -> None:
    user, password = f"test-pipeline-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    admin = aioredis.Redis.from_url(REDIS_URL)
    await admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", f"~{redis_prefix}*", "+@all")
    script_body = "redis.call('SET', KEYS[1], ARGV[1]) return 1"
    own = aioredis.Redis.from_url(REDIS_URL.replace("redis://", f"redis://{user}:{password}@", 1), socket_timeout=2)
    wrong = aioredis.Redis.from_url(REDIS_URL.replace("redis://", f"redis://{user}:not-{password}@", 1), socket_timeout=2)
    try:
        batch = batch_class(own)
        script = own.register_script(script_body)
        assert await batch.run(script, [redis_prefix + "mine"], ["1"]) == 1
        with pytest.raises(NoPermissionError):  # a key outside the user's pattern: refused, as that user
            await batch.run(script, [f"test:not-{redis_prefix}x"], ["1"])
        refused = await asyncio.gather(batch_class(wrong).run(wrong.register_script(script_body), [redis_prefix + "w"], ["1"]),
                                       return_exceptions=True)
        assert isinstance(refused[0], AuthenticationError), refused
        assert await admin.exists(redis_prefix + "w") == 0
    finally:
        await own.aclose()
        await wrong.aclose()
        await admin.execute_command("ACL", "DELUSER", user)
        await admin.aclose()


async def test_the_client_s_database_is_selected(batch_class: Any, redis_prefix: str) -> None:
    other = REDIS_URL.rsplit("/", 1)[0] + "/15"
    client = aioredis.Redis.from_url(other)
    default = aioredis.Redis.from_url(REDIS_URL)
    try:
        script = client.register_script("redis.call('SET', KEYS[1], ARGV[1]) return 1")
        assert await batch_class(client).run(script, [redis_prefix + "db"], ["15"]) == 1
        assert await client.get(redis_prefix + "db") == b"15"
        assert await default.exists(redis_prefix + "db") == 0
    finally:
        await client.delete(redis_prefix + "db")
        await client.aclose()
        await default.aclose()


async def test_replies_and_arguments_follow_the_client_s_encoding(batch_class: Any, redis_prefix: str) -> None:
    echo = "return ARGV[1]"
    for options, sent, expected in (
        ({"decode_responses": True}, "é", "é"),
        ({"encoding": "latin-1"}, "é", b"\xe9"),
        ({}, b"\xff\x00", b"\xff\x00"),
    ):
        client = aioredis.Redis.from_url(REDIS_URL, **options)
        try:
            assert await batch_class(client).run(client.register_script(echo), [redis_prefix + "e"], [sent]) == expected
        finally:
            await client.aclose()


async def test_replies_keep_their_resp2_shape_whatever_the_client_s_protocol(batch_class: Any, redis_prefix: str) -> None:
    # Lua true is 1 in RESP2 and a boolean in RESP3: the callers' scripts are read as RESP2.
    client = aioredis.Redis.from_url(REDIS_URL, protocol=3)
    try:
        assert await batch_class(client).run(client.register_script("return true"), [redis_prefix + "p"], []) == 1
    finally:
        await client.aclose()


async def test_an_argument_redis_cannot_take_fails_only_its_own_caller(
    batch_class: Any, client: aioredis.Redis, redis_prefix: str
) -> None:
    batch = batch_class(client)
    script = client.register_script(ECHO)
    good = batch.start(script, [redis_prefix + "a"], ["1"])
    with pytest.raises(DataError):
        batch.start(script, [redis_prefix + "b"], [None])
    assert (await good)[1] == b"1"


def test_the_pipeline_uses_no_private_api_of_its_dependencies() -> None:
    # What broke it once (redis-py's parser and a connection's reader and writer): only public
    # modules, names and attributes of other packages; underscores only on its own objects.
    from sentinel_redis import _pipeline

    tree = ast.parse(Path(_pipeline.__file__).read_text("utf-8"))
    private: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            private += [alias.name for alias in node.names if any(part.startswith("_") for part in alias.name.split("."))]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            private += [name for name in names if any(part.startswith("_") for part in name.split("."))]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if not (isinstance(node.value, ast.Name) and node.value.id == "self"):
                private.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr"):
            private += [ast.unparse(node) for arg in node.args[1:2] if isinstance(arg, ast.Constant) and str(arg.value).startswith("_")]
    assert private == []
