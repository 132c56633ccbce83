"""Lua script calls pipelined over one dedicated Redis connection.

Each governed call runs one Lua script in each zone (the interceptor's
compare-and-set, the tool server's single-use ``jti``), so one script call is on
every call's critical path. Measured here (redis-py 8, hiredis, uvloop,
bench/redis_pipeline.py), CPU per call of the calling process: through
redis-py's client and pool ~170 µs one caller at a time, ~88 µs with 32 at
once; driven as below ~68 and ~16 µs (the previous design, a pump task
writing and reading a held redis-py connection, ~95 and ~18). So each process's script
calls share one connection that redis-py opens (host, port, password, TLS, db,
client name, connect timeout: the client's own settings and handshake) and
this module then drives as a Protocol:

- a command is written at once when nothing else waits to be written, so it is
  on its way while the caller still works (``start``); commands issued while
  others are being written leave together, in one send, at the end of the tick;
- replies are parsed by hiredis (the parser redis-py itself uses, with its
  error classes) as bytes arrive and handed to the callers in order; no task,
  stream reader or pool is on the way.

A pipeline shares the socket; each command is still its own atomic script.
NOSCRIPT (a flushed script cache) is answered by sending the same call as
EVAL, which loads the script and runs it in one step.

It must never drop a command, hand a caller another's reply, run a command
twice, or swallow an error: a connection that breaks, closes or stops answering
(no reply for the client's ``socket_timeout`` while commands wait; out-of-band
push messages do not count as answers) fails every command written to it and is
never used again. A failed command is not sent again, since it may have run and
only its reply been lost; its caller gets the error (a 503 in either zone).
Only a command that never reached the socket is sent on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["ScriptPipeline"]

_NOT_ENOUGH_DATA = object()
# RESP3 out-of-band messages (e.g. a server's maintenance notices) answer no command.
_PUSH: Any = getattr(hiredis, "PushNotification", ())


class _Call:
    """One script call in flight: its future, and what it takes to send it."""

    __slots__ = ("future", "script", "keys", "args", "evaluated", "opens")

    def __init__(self, future: asyncio.Future[Any], script: Any, keys: list[Any], args: list[Any]) -> None:
        self.future = future
        self.script = script
        self.keys = keys
        self.args = args
        self.evaluated = False  # sent as EVAL after a NOSCRIPT
        self.opens = 0  # connections opened for it (a call never written may be sent on another)


_MAX_OPENS = 3
_CLOSED = "the Redis connection was closed"


class _Connection(asyncio.Protocol):
    """The socket of one opened redis-py connection, read and written here."""

    def __init__(self, pipeline: ScriptPipeline, loop: asyncio.AbstractEventLoop, opened: Any, writer: Any) -> None:
        self._pipeline = pipeline
        self.loop = loop
        self._pack = opened.pack_command  # redis-py's encoder: the client's encoding rules
        self._writer = writer  # held: a StreamWriter closes its transport when collected
        kwargs: dict[str, Any] = {
            "protocolError": InvalidResponse,
            "replyError": BaseParser.parse_error,
            "notEnoughData": _NOT_ENOUGH_DATA,
        }
        if opened.encoder.decode_responses:
            kwargs["encoding"] = opened.encoder.encoding
        self._reader = hiredis.Reader(**kwargs)
        self._transport: asyncio.Transport = writer.transport
        self._waiting: deque[_Call] = deque()  # written or about to be, in wire order
        self._outbox: list[bytes] = []  # what the tick's flush will write
        self._unsent: list[_Call] = []  # the calls of that outbox: never on the wire yet
        self._flush_pending = False
        self._timeout: float | None = pipeline.timeout
        self._timer: asyncio.TimerHandle | None = None
        self._progress = 0.0  # when the oldest waiting call started to wait, or the last reply came
        self.usable = True

    def adopt(self, buffered: bytes) -> None:
        self._transport.set_protocol(self)
        if buffered:
            self.data_received(buffered)

    # ------------------------------------------------------------------ asyncio.Protocol

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        waiting = self._waiting
        while True:
            try:
                reply = self._reader.gets()
            except InvalidResponse as exc:
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
            if call.future.done():
                pass  # its caller went away; the reply was still read, so the stream stays in step
            elif isinstance(reply, NoScriptError) and not call.evaluated:
                call.evaluated = True  # the script cache was flushed: EVAL loads and runs it
                self.send(call)
            elif isinstance(reply, Exception):
                call.future.set_exception(reply)
            else:
                call.future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisConnectionError(_CLOSED))

    # pause_writing/resume_writing: the transport buffers; every caller is bounded by the timeout.

    # ------------------------------------------------------------------ sending

    def send(self, call: _Call) -> None:
        if not self.usable:
            self._pipeline.send_later([call])  # never written here: safe to send on another
            return
        keys, args = call.keys, call.args
        if call.evaluated:
            packed = self._pack("EVAL", call.script.script, len(keys), *keys, *args)
        else:
            packed = self._pack("EVALSHA", call.script.sha, len(keys), *keys, *args)
        if not self._waiting:
            self._progress = self.loop.time()
            if self._timer is None and self._timeout is not None:
                self._timer = self.loop.call_later(self._timeout, self._check_timeout)
        self._waiting.append(call)
        if self._flush_pending:
            self._outbox.extend(packed)
            self._unsent.append(call)
        else:
            # The first command of a tick leaves at once, so Redis works while the caller
            # goes on; whatever else is sent in the same tick leaves together, in one send.
            self._transport.writelines(packed)
            self._flush_pending = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if self._outbox and self.usable:
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
        if not self._transport.is_closing():
            with contextlib.suppress(RuntimeError):  # its loop is closed: nothing more to close
                self._transport.close()
        if again and resend:
            self._pipeline.send_later(again)


class ScriptPipeline:
    """Script calls of one process over one connection; see the module docstring."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.timeout: float | None = client.connection_pool.connection_kwargs.get("socket_timeout")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: _Connection | None = None
        self._opening: asyncio.Future[_Connection] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, script: Any, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        """Send the call now and return its reply (or its error) to await later.

        When the connection is open the command is on the wire when this
        returns, so the caller may do other work while Redis runs it.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        call = _Call(future, script, keys, args)
        connection = self._connection
        if connection is not None and connection.usable and self._loop is loop:
            connection.send(call)
        else:
            self.send_later([call])
        return future

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
        # redis-py connects and hands the socket over: address, TLS, AUTH/HELLO, SELECT,
        # CLIENT SETNAME, connect timeout, all by the client's own settings.
        opened = self._client.connection_pool.make_connection()
        await opened.connect()
        writer, reader = opened._writer, opened._reader
        opened._writer = opened._reader = None  # the redis-py object lets go of the socket
        buffered = bytes(reader._buffer)  # nothing is expected after the handshake; kept if there is
        connection = _Connection(self, loop, opened, writer)
        connection.adopt(buffered)
        return connection
