"""Lua script calls pipelined over one dedicated Redis connection, on public APIs only.

Each governed call runs one Lua script in each zone (the interceptor's
compare-and-set, the tool server's single-use ``jti``), so one script call is on
every call's critical path, and redis-py's client and pool cost several times
what the call itself does (measured in docs/performance.md, items 12 and 14). So each
process's script calls share one connection that this module opens and drives
as an asyncio Protocol:

- a command is written at once when nothing else waits to be written, so it is
  on its way while the caller still works (``start``); commands issued while
  others are being written leave together, in one send, at the end of the tick;
- replies are parsed by ``hiredis.Reader`` as bytes arrive and handed to the
  callers in order, as redis-py's own exception classes; no task, stream reader
  or pool is on the way.

It uses only documented, public APIs of its dependencies: ``hiredis.Reader`` and
``hiredis.pack_command``, redis-py's exception classes and the settings a client
keeps in ``connection_pool.connection_kwargs`` (never a redis-py connection, its
parser or its socket), and asyncio and ssl from the standard library. So it does
the handshake itself, from the client's settings: host and port or Unix socket,
TLS for ``rediss://`` (the client's certificate settings, verified by default),
connect timeout, AUTH (password, ACL user, or the client's credential provider,
asked at each connect), CLIENT SETNAME, SELECT. It speaks RESP2, the protocol
every Redis gives a new connection, so script replies keep one shape whatever
redis-py's default protocol is. A client this module cannot connect as (Sentinel
or Cluster pools, custom connection classes) is refused when the pipeline is made,
never connected elsewhere. Settings with no use here are not applied: retries (a
written call is never sent again), health checks, the library name.

A pipeline shares the socket; each command is still its own atomic script.
NOSCRIPT (a flushed script cache) is answered by sending the same call as
EVAL, which loads the script and runs it in one step.

It must never drop a command, hand a caller another's reply, run a command
twice, or swallow an error: a connection that breaks, closes or stops answering
(no reply for the client's ``socket_timeout``, 5 s if it sets none, while
commands wait; out-of-band push messages do not count as answers) fails every
command written to it and is never used again. A failed command is not sent again, since it may have run and
only its reply been lost; its caller gets the error (a 503 in either zone).
Only a command that never reached the socket is sent on a new connection. No
script is written before the handshake has answered OK, so none runs as the
wrong user or in the wrong database.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import hiredis
from redis.asyncio import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    DataError,
    InvalidResponse,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["ScriptPipeline"]

_NOT_ENOUGH_DATA = object()
# RESP3 out-of-band messages (e.g. a server's maintenance notices) answer no command.
_PUSH = hiredis.PushNotification
_MAX_OPENS = 3
_CLOSED = "the Redis connection was closed"
# What redis-py's connections use when a client sets no timeout; fixed here, so a
# change of redis-py's default never leaves a silent Redis waited on forever.
_DEFAULT_TIMEOUT = 5.0

# Error replies whose code redis-py raises as its own class (the message loses the
# code, as redis-py's does); every other error reply is a ResponseError.
_ERRORS: dict[str, type[RedisError]] = {
    "NOSCRIPT": NoScriptError,
    "NOPERM": NoPermissionError,
    "WRONGPASS": AuthenticationError,
    "NOAUTH": AuthenticationError,
    "OOM": OutOfMemoryError,
    "READONLY": ReadOnlyError,
    "LOADING": BusyLoadingError,
}

_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def _error(reply: ResponseError) -> RedisError:
    message = str(reply)
    code, _, rest = message.partition(" ")
    kind = _ERRORS.get(code)
    return reply if kind is None else kind(rest)


@dataclass(frozen=True, slots=True)
class _Settings:
    """How the client connects, read once from its pool's public ``connection_kwargs``."""

    host: str
    port: int
    path: str | None  # a Unix socket instead of host and port
    tls: ssl.SSLContext | None
    connect_timeout: float | None
    timeout: float | None
    keepalive: Mapping[int, int | bytes] | None  # TCP keepalive options; None: no keepalive
    username: str | None
    password: str | None
    credential_provider: Any  # redis.credentials.CredentialProvider, asked at each connect
    db: int
    client_name: str | None
    encoding: tuple[str, str] | None  # how str arguments are encoded, when not UTF-8 strict
    decoding: tuple[str, str] | None  # how replies are decoded (``decode_responses``)

    @classmethod
    def of(cls, client: Any) -> _Settings:
        pool: Any = getattr(client, "connection_pool", None)  # a cluster client has none
        kind = getattr(pool, "connection_class", None)
        if kind not in (Connection, SSLConnection, UnixDomainSocketConnection):
            raise TypeError(f"ScriptPipeline connects to one Redis server by its settings; it cannot follow {kind!r}")
        kwargs: Mapping[str, Any] = pool.connection_kwargs
        encoding, errors = kwargs.get("encoding", "utf-8"), kwargs.get("encoding_errors", "strict")
        utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8") and errors == "strict"
        options = kwargs.get("socket_keepalive_options")
        return cls(
            host=kwargs.get("host", "localhost"),
            port=int(kwargs.get("port", 6379)),
            path=kwargs.get("path") if kind is UnixDomainSocketConnection else None,
            tls=_tls_context(kwargs) if kind is SSLConnection else None,
            connect_timeout=kwargs.get("socket_connect_timeout", _DEFAULT_TIMEOUT),
            timeout=kwargs.get("socket_timeout", _DEFAULT_TIMEOUT),
            keepalive=(options if isinstance(options, Mapping) else {}) if kwargs.get("socket_keepalive", True) else None,
            username=kwargs.get("username"),
            password=kwargs.get("password"),
            credential_provider=kwargs.get("credential_provider"),
            db=int(kwargs.get("db") or 0),
            client_name=kwargs.get("client_name"),
            encoding=None if utf8 else (encoding, errors),
            decoding=(encoding, errors) if kwargs.get("decode_responses") else None,
        )

    async def credentials(self) -> tuple[Any, ...]:
        """AUTH's arguments: (password,), (user, password), or () for none."""
        if self.credential_provider is not None:
            return tuple(await self.credential_provider.get_credentials_async())
        if self.password is None:
            return ()
        return (self.username, self.password) if self.username else (self.password,)


def _tls_context(kwargs: Mapping[str, Any]) -> ssl.SSLContext:
    """The context redis-py would build from the same ``ssl_*`` settings (verified unless told otherwise)."""
    reqs = kwargs.get("ssl_cert_reqs", "required")
    if isinstance(reqs, str):
        if reqs.lower() not in _CERT_REQS:
            raise ValueError(f"invalid ssl_cert_reqs: {reqs!r}")
        reqs = _CERT_REQS[reqs.lower()]
    context = ssl.create_default_context()
    context.check_hostname = bool(kwargs.get("ssl_check_hostname", True)) and reqs != ssl.CERT_NONE
    context.verify_mode = reqs
    for flag in kwargs.get("ssl_include_verify_flags") or ():
        context.verify_flags |= flag
    for flag in kwargs.get("ssl_exclude_verify_flags") or ():
        context.verify_flags &= ~flag
    certfile: str | None = kwargs.get("ssl_certfile")
    if certfile:
        context.load_cert_chain(certfile, kwargs.get("ssl_keyfile"), password=kwargs.get("ssl_password"))
    cafile, capath, cadata = kwargs.get("ssl_ca_certs"), kwargs.get("ssl_ca_path"), kwargs.get("ssl_ca_data")
    if cafile or capath or cadata:
        context.load_verify_locations(cafile=cafile, capath=capath, cadata=cadata)
    if kwargs.get("ssl_min_version") is not None:
        context.minimum_version = kwargs["ssl_min_version"]
    if kwargs.get("ssl_ciphers") is not None:
        context.set_ciphers(kwargs["ssl_ciphers"])
    return context


def _tune(sock: Any, keepalive: Mapping[int, int | bytes] | None) -> None:
    """Small commands leave at once (no Nagle delay); keepalive notices a peer that vanished
    while the connection was idle, as redis-py's own connections do."""
    if sock is None:
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if keepalive is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in keepalive.items():
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


class _Call:
    """One command in flight: its future, its bytes, and what it takes to send it again as EVAL."""

    __slots__ = ("args", "evaluated", "future", "keys", "opens", "packed", "script")

    def __init__(
        self, future: asyncio.Future[Any], script: Any, keys: list[Any], args: list[Any], packed: bytes
    ) -> None:
        self.future = future
        self.script = script  # None for a handshake command
        self.keys = keys
        self.args = args
        self.packed = packed
        self.evaluated = False  # sent as EVAL after a NOSCRIPT
        self.opens = 0  # connections opened for it (a call never written may be sent on another)


class _Connection(asyncio.Protocol):
    """One socket to Redis: commands written in order, replies read in the same order."""

    def __init__(self, pipeline: ScriptPipeline, loop: asyncio.AbstractEventLoop) -> None:
        settings = pipeline.settings
        self._pipeline = pipeline
        self.loop = loop
        decoding = settings.decoding
        if decoding is None:
            self._reader = hiredis.Reader(
                protocolError=InvalidResponse, replyError=ResponseError, notEnoughData=_NOT_ENOUGH_DATA
            )
        else:
            self._reader = hiredis.Reader(
                protocolError=InvalidResponse,
                replyError=ResponseError,
                notEnoughData=_NOT_ENOUGH_DATA,
                encoding=decoding[0],
                errors=decoding[1],
            )
        self._transport: asyncio.Transport | None = None
        self._waiting: deque[_Call] = deque()  # written or about to be, in wire order
        self._outbox: list[bytes] = []  # what the tick's flush will write
        self._unsent: list[_Call] = []  # the calls of that outbox: never on the wire yet
        self._flush_pending = False
        self._timeout = settings.timeout
        self._timer: asyncio.TimerHandle | None = None
        self._progress = 0.0  # when the oldest waiting call started to wait, or the last reply came
        self.usable = True

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        waiting = self._waiting
        while True:
            try:
                reply = self._reader.gets()
            except (RedisError, ValueError) as exc:  # a protocol error or an undecodable reply: the stream is lost
                self.fail(exc)
                return
            if reply is _NOT_ENOUGH_DATA:
                return
            if isinstance(reply, _PUSH):
                continue  # answers nothing, and is no sign that Redis answers commands
            if not waiting:
                self.fail(InvalidResponse("Redis sent a reply nobody asked for"))
                return
            call = waiting.popleft()
            self._progress = self.loop.time()
            if isinstance(reply, ResponseError):
                reply = _error(reply)
            if call.future.done():
                pass  # its caller went away; the reply was still read, so the stream stays in step
            elif isinstance(reply, NoScriptError) and call.script is not None and not call.evaluated:
                # The script cache was flushed: EVAL loads and runs it. Its NOSCRIPT reply says
                # the EVALSHA ran nothing, so this is no second run.
                call.evaluated = True
                call.packed = self._pipeline.pack(("EVAL", call.script.script, len(call.keys), *call.keys, *call.args))
                self.send(call)
            elif isinstance(reply, Exception):
                call.future.set_exception(reply)
            else:
                call.future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisConnectionError(_CLOSED))

    # pause_writing/resume_writing: the transport buffers; every caller is bounded by the timeout.

    # ------------------------------------------------------------------ sending

    def greet(self, commands: list[bytes]) -> list[asyncio.Future[Any]]:
        """Write the handshake in one send, before any script; its replies, in order."""
        assert self._transport is not None
        calls = [_Call(self.loop.create_future(), None, [], [], packed) for packed in commands]
        self._wait_from_now()
        self._waiting.extend(calls)
        self._transport.write(b"".join(commands))  # never in the outbox: never moved to another connection
        return [call.future for call in calls]

    def send(self, call: _Call) -> None:
        if not self.usable or self._transport is None:
            self._pipeline.send_later([call])  # never written here: safe to send on another
            return
        if not self._waiting:
            self._wait_from_now()
        self._waiting.append(call)
        if self._flush_pending:
            self._outbox.append(call.packed)
            self._unsent.append(call)
        else:
            # The first command of a tick leaves at once, so Redis works while the caller
            # goes on; whatever else is sent in the same tick leaves together, in one send.
            self._transport.write(call.packed)
            self._flush_pending = True
            self.loop.call_soon(self._flush)

    def _wait_from_now(self) -> None:
        self._progress = self.loop.time()
        if self._timer is None and self._timeout is not None:
            self._timer = self.loop.call_later(self._timeout, self._check_timeout)

    def _flush(self) -> None:
        self._flush_pending = False
        if self._outbox and self.usable and self._transport is not None:
            pending, self._outbox, self._unsent = self._outbox, [], []
            self._transport.write(b"".join(pending))

    def _check_timeout(self) -> None:
        self._timer = None
        if not self._waiting or self._timeout is None:
            return
        idle = self.loop.time() - self._progress
        if idle >= self._timeout:
            self.fail(RedisTimeoutError("Redis did not answer in time"))
        else:
            self._timer = self.loop.call_later(self._timeout - idle, self._check_timeout)

    # ------------------------------------------------------------------ failing

    def fail(self, exc: Exception, *, resend: bool = True) -> None:
        """Fail every call written here and close: the position in the reply stream is lost.

        A call that was written may have run (its reply is what was lost), so it is
        never sent again: its caller gets the error (503, nothing forwarded or
        executed on a guess). Calls still waiting for the tick's flush were never on
        the wire; with ``resend`` they go to another connection, else they fail too.
        """
        self.usable = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        unsent = {id(call) for call in self._unsent}
        again = [call for call in self._unsent if not call.future.done()]
        waiting, self._waiting = self._waiting, deque()
        self._outbox, self._unsent = [], []
        for call in waiting:
            if (not resend or id(call) not in unsent) and not call.future.done():
                call.future.set_exception(exc)
        if self._transport is not None and not self._transport.is_closing():
            with contextlib.suppress(RuntimeError):  # its loop is closed: nothing more to close
                self._transport.close()
        if again and resend:
            self._pipeline.send_later(again)


class ScriptPipeline:
    """Script calls of one process over one connection; see the module docstring."""

    def __init__(self, client: Any) -> None:
        self.settings = _Settings.of(client)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: _Connection | None = None
        self._opening: asyncio.Future[_Connection] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, script: Any, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        """Send the call now and return its reply (or its error) to await later.

        When the connection is open the command is on the wire when this
        returns, so the caller may do other work while Redis runs it. An argument
        Redis cannot take raises DataError here, in its own caller only.
        """
        loop = asyncio.get_running_loop()
        packed = self.pack(("EVALSHA", script.sha, len(keys), *keys, *args))
        call = _Call(loop.create_future(), script, keys, args, packed)
        connection = self._connection
        if connection is not None and connection.usable and self._loop is loop:
            connection.send(call)
        else:
            self.send_later([call])
        return call.future

    async def run(self, script: Any, keys: list[Any], args: list[Any]) -> Any:
        """The script's reply (redis-py ``AsyncScript``: ``.sha`` and ``.script``), or its error."""
        return await self.start(script, keys, args)

    async def aclose(self) -> None:
        """Close the connection; calls still waiting fail. A later call opens a new one."""
        connection, self._connection = self._connection, None
        tasks, self._tasks = self._tasks, set()
        if connection is not None:
            connection.fail(RedisConnectionError("the Redis script pipeline was closed"), resend=False)
        running = asyncio.get_running_loop()
        mine = [task for task in tasks if task.get_loop() is running]
        for task in mine:
            task.cancel()
        if mine:
            await asyncio.gather(*mine, return_exceptions=True)

    def pack(self, command: tuple[Any, ...]) -> bytes:
        """One command as RESP, its strings encoded as the client encodes them."""
        encoding = self.settings.encoding
        if encoding is not None:
            command = tuple(part.encode(*encoding) if isinstance(part, str) else part for part in command)
        try:
            return hiredis.pack_command(command)  # type: ignore[no-any-return]
        except TypeError as exc:  # redis-py's error for the same argument
            raise DataError(f"a Redis command argument must be bytes, str, int or float: {exc}") from None

    def send_later(self, calls: list[_Call]) -> None:
        """Send calls that are on no wire yet, once a usable connection is open."""
        task = asyncio.get_running_loop().create_task(self._open_and_send(calls))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open_and_send(self, calls: list[_Call]) -> None:
        try:
            while calls:
                calls = [call for call in calls if not call.future.done()]
                for call in calls:
                    call.opens += 1
                gone = [call for call in calls if call.opens > _MAX_OPENS]
                for call in gone:
                    call.future.set_exception(RedisConnectionError(_CLOSED))
                calls = [call for call in calls if call.opens <= _MAX_OPENS]
                if not calls:
                    return
                connection = await self._open()
                if connection.usable:  # else it failed while this task waited: open another
                    for call in calls:
                        connection.send(call)
                    return
        except BaseException as exc:
            error = exc if isinstance(exc, Exception) else RedisConnectionError("interrupted")
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(error)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A new loop (tests run one per test): nothing of the old one may be reused.
            old, self._connection = self._connection, None
            if old is not None:
                old.fail(RedisConnectionError("the Redis script pipeline moved to another event loop"), resend=False)
            self._loop, self._opening = loop, None
            self._tasks = {task for task in self._tasks if task.get_loop() is loop}
        connection = self._connection
        if connection is not None and connection.usable:
            return connection
        if self._opening is not None:
            return await asyncio.shield(self._opening)
        opening: asyncio.Future[_Connection] = loop.create_future()
        self._opening = opening
        try:
            connection = await self._connect(loop)
        except BaseException as exc:
            opening.set_exception(exc if isinstance(exc, Exception) else RedisConnectionError("interrupted"))
            opening.exception()  # marked retrieved: the waiters above get it too
            raise
        finally:
            self._opening = None
        self._connection = connection
        opening.set_result(connection)
        return connection

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        settings = self.settings
        credentials = await settings.credentials()
        connection = _Connection(self, loop)
        where = settings.path or f"{settings.host}:{settings.port}"
        try:
            async with asyncio.timeout(settings.connect_timeout):
                if settings.path is not None:
                    await loop.create_unix_connection(lambda: connection, settings.path)
                else:
                    transport, _ = await loop.create_connection(
                        lambda: connection,
                        settings.host,
                        settings.port,
                        ssl=settings.tls,
                        server_hostname=settings.host if settings.tls is not None else None,
                    )
                    _tune(transport.get_extra_info("socket"), settings.keepalive)
        except TimeoutError:  # before OSError: TimeoutError is one
            connection.fail(RedisTimeoutError("connect timeout"), resend=False)
            raise RedisTimeoutError(f"timeout connecting to Redis at {where}") from None
        except OSError as exc:
            connection.fail(RedisConnectionError("connect failed"), resend=False)
            raise RedisConnectionError(f"error connecting to Redis at {where}: {exc}") from exc
        await self._greet(connection, credentials)
        return connection

    async def _greet(self, connection: _Connection, credentials: tuple[Any, ...]) -> None:
        settings = self.settings
        commands: list[tuple[Any, ...]] = []
        if credentials:
            commands.append(("AUTH", *credentials))
        if settings.client_name:
            commands.append(("CLIENT", "SETNAME", settings.client_name))
        if settings.db:
            commands.append(("SELECT", settings.db))
        if not commands:
            return
        replies = connection.greet([self.pack(command) for command in commands])
        try:
            for command, reply in zip(commands, replies, strict=True):
                answer = await reply
                if answer not in (b"OK", "OK"):
                    raise RedisConnectionError(f"Redis answered {command[0]} with {answer!r}")
        except BaseException:
            connection.fail(RedisConnectionError("the Redis handshake failed"), resend=False)
            for reply in replies:  # the first error is raised; the others are read here, not logged
                if reply.done() and not reply.cancelled():
                    reply.exception()
            raise
