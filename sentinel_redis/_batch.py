"""Script calls pipelined over one dedicated Redis connection.

Each governed call runs one Lua script in each zone, so the cost of one script
call is on every call's critical path. Measured here (redis-py 8, hiredis,
uvloop, one caller): a script call through redis-py's client and pool costs
~130 µs of CPU (~150 with the blocking pool: its lock, condition and
observability hooks), the same EVALSHA written and read on a connection held by
the caller ~65 µs. So the script calls of a process go through one connection
that this class owns (made by the client's pool with the client's settings:
host, password, TLS, timeouts), driven by one long-lived task: the commands
that arrive while a round trip is in flight are written together in one send
and their replies read in order. It is still redis-py's connection, protocol
encoder and reply parser; only the pool is bypassed.

Each command stays its own atomic script: a pipeline shares the socket, it does
not make the commands one transaction or change what any of them does.

It must never drop a command, hand one caller another's reply, or swallow an
error: a failed round trip fails every caller in it, and the connection (whose
position in the reply stream is then unknown) is closed, never reused.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

__all__ = ["ScriptBatch"]

_Item = tuple[Any, list[Any], list[Any], "asyncio.Future[Any]"]


class ScriptBatch:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._pending: list[_Item] = []
        self._connection: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    async def run(self, script: Any, keys: list[Any], args: list[Any]) -> Any:
        """The script's reply (redis-py ``AsyncScript``: ``.sha`` and ``.script``), or its error."""
        loop = asyncio.get_running_loop()
        if self._pump is None or self._pump.done() or self._loop is not loop:
            self._start(loop)
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((script, keys, args, future))
        self._wakeup.set()
        return await future

    async def aclose(self) -> None:
        """Stop the pump and close the connection; callers still waiting get an error."""
        pump, self._pump = self._pump, None
        if pump is not None and not pump.done() and self._loop is asyncio.get_running_loop():
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
        self._fail(self._pending, ConnectionError("the Redis script pipeline was closed"))
        self._pending = []
        await self._drop_connection()

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        # A new loop (tests run one per test) gets a new pump and a new connection:
        # neither may be shared across loops.
        self._loop = loop
        self._connection = None
        self._wakeup = asyncio.Event()
        self._pump = loop.create_task(self._run_pump())

    async def _run_pump(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                batch, self._pending = self._pending, []
                if batch:
                    await self._round_trip(batch)
        except asyncio.CancelledError:
            self._fail(self._pending, ConnectionError("the Redis script pipeline was closed"))
            self._pending = []
            raise

    async def _round_trip(self, batch: list[_Item]) -> None:
        commands = [("EVALSHA", script.sha, len(keys), *keys, *args) for script, keys, args, _ in batch]
        for attempt in (1, 2):
            reused = self._connection is not None
            if self._connection is None:
                self._connection = self._client.connection_pool.make_connection()
            connection = self._connection
            replies: list[Any] = []
            try:
                await connection.send_packed_command(connection.pack_commands(commands), check_health=False)
                for _ in batch:
                    try:
                        replies.append(await connection.read_response())
                    except ResponseError as exc:  # an error reply: the stream is still in step
                        replies.append(exc)
                break
            except BaseException as exc:
                await self._drop_connection()
                if attempt == 1 and reused and isinstance(exc, RedisConnectionError):
                    # A held connection the server closed (restart, idle timeout) fails on first
                    # use; once more on a new one. Safe for the scripts run here: a compare-and-set
                    # re-run after a lost reply sees its own write as a newer version (the caller
                    # re-decides), and a claim-once re-run is refused as a replay (fails closed).
                    continue
                self._fail(batch, exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return
        unloaded: list[_Item] = []
        for item, reply in zip(batch, replies, strict=True):
            future = item[3]
            if isinstance(reply, NoScriptError):
                unloaded.append(item)
            elif future.done():
                continue  # its caller went away; the reply was still read, so the stream stays in step
            elif isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
        if unloaded:
            await self._reload(unloaded)

    async def _reload(self, items: list[_Item]) -> None:
        """The server's script cache was flushed (or never had the script): load it, then run again."""
        sources = {item[0].sha: item[0].script for item in items}
        try:
            for source in sources.values():
                await self._client.script_load(source)
        except BaseException as exc:
            self._fail(items, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._pending[:0] = items
        self._wakeup.set()

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.disconnect(nowait=True)

    @staticmethod
    def _fail(items: list[_Item], exc: BaseException) -> None:
        for *_, future in items:
            if not future.done():
                future.set_exception(exc if isinstance(exc, Exception) else ConnectionError("interrupted"))
