"""The decision trail in PostgreSQL, beside the JSON Lines file: nothing is dropped, and calls stop first.

Every record the interceptor writes (decisions and events, chained) is also
queued for the table ``sentinel_audit`` (created if missing, in the schema
``SENTINEL_DATABASE_SCHEMA`` names, else the first of the search path). One
task inserts queued records in batches, in the order written; when the
database is down it keeps them and retries with backoff. The queue is
bounded: once it holds ``SENTINEL_AUDIT_BUFFER_RECORDS`` records, ``accepting``
turns false and the interceptor refuses calls and session starts (503
``audit_unavailable``) until the database takes them again. A record is never
dropped: a write that races past the bound is still queued.

    sentinel_audit(id bigserial, writer text, seq bigint, ts text, record jsonb, inserted_at timestamptz)
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson

__all__ = ["PostgresAuditSink"]

_log = logging.getLogger("sentinel.interceptor")
_BATCH = 500
_TABLE = """
create table if not exists sentinel_audit (
    id bigserial primary key,
    writer text not null,
    seq bigint not null,
    ts text not null,
    record jsonb not null,
    inserted_at timestamptz not null default now(),
    unique (writer, seq)
)
"""
_INSERT = ("insert into sentinel_audit (writer, seq, ts, record) values ($1, $2, $3, $4::jsonb)"
           " on conflict (writer, seq) do nothing")


class PostgresAuditSink:
    def __init__(self, dsn: str, *, schema: str | None = None, bound: int = 10_000, max_backoff: float = 5.0) -> None:
        self._dsn = dsn
        self._schema = schema
        self._bound = bound
        self._max_backoff = max_backoff
        self._queue: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self._task: asyncio.Task[None] | None = None
        self._pool: Any = None
        self.connected = False  # the last insert (or connection) worked: what readiness reports

    @property
    def accepting(self) -> bool:
        """False once the queue is full: the interceptor then refuses calls rather than lose their records."""
        return len(self._queue) < self._bound

    @property
    def queued(self) -> int:
        return len(self._queue)

    def put(self, line: bytes) -> None:
        self._queue.append(line)
        self._empty.clear()
        self._ready.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Wait until every queued record is in the table (tests, shutdown; bound it with asyncio.timeout)."""
        await self._empty.wait()

    async def close(self) -> None:
        if self._queue and self.connected:
            try:
                async with asyncio.timeout(5.0):
                    await self.flush()
            except TimeoutError:
                _log.error("audit sink: %d records were not written to PostgreSQL before shutdown "
                           "(they are in the JSON Lines file)", len(self._queue))
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            await self._ready.wait()
            try:
                if self._pool is None:
                    settings = {"search_path": self._schema} if self._schema else None
                    self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=2,
                                                           server_settings=settings, timeout=5)
                    async with self._pool.acquire() as conn:
                        await conn.execute(_TABLE)
                await self._insert_batch(self._pool)
                self.connected = True
                backoff = 0.1
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if self.connected:
                    _log.error("audit sink: PostgreSQL refused records (%s); %d queued, retrying",
                               type(exc).__name__, len(self._queue))
                self.connected = False
                if self._pool is not None:
                    self._pool.terminate()
                    self._pool = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
            if not self._queue:
                self._ready.clear()
                self._empty.set()

    async def _insert_batch(self, pool: Any) -> None:
        batch = [self._queue[i] for i in range(min(_BATCH, len(self._queue)))]
        rows = []
        for line in batch:
            record = orjson.loads(line)
            rows.append((str(record.get("writer", "")), int(record.get("seq", 0)), str(record.get("ts", "")),
                         line.decode().rstrip("\n")))
        async with pool.acquire() as conn:
            await conn.executemany(_INSERT, rows)
        for _ in batch:  # taken off only once the database has them
            self._queue.popleft()
