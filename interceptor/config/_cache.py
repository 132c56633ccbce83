"""The config cache the interceptor reads through.

All projects are held in memory as one snapshot, refreshed at most once per
``ttl_seconds`` by a single in-flight read (no thundering herd). Lookups by
key hash (any key: project or agent-bound), name and listing are answered from the snapshot, so neither a busy
agent nor a flood of wrong keys reaches the backend; an unknown key is an
answer (``None``), not a failure. When a refresh fails the last good snapshot
serves until ``stale_seconds`` after the last successful read; past that every
read raises ``ConfigStoreError("config_unavailable")`` (the interceptor's 503).

It must never serve a snapshot older than the stale bound, and never let a
backend failure look like "no such project" (that would read as a bad key).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from interceptor.config._model import ConfigStore, ConfigStoreError, KeyHolder, PolicyVersion, Project
from interceptor.config._records import KeyIndex


@dataclass(frozen=True, slots=True)
class _Snapshot:
    projects: tuple[Project, ...]
    by_name: Mapping[str, Project] = field(default_factory=dict)
    keys: KeyIndex = field(default_factory=lambda: KeyIndex(()))
    generation: int = 0  # the cache's write count when this read started


class CachedConfigStore:
    """A ConfigStore in front of another, with a TTL and a bounded stale window.

    Build it synchronously; it opens its backend on first use, or eagerly with
    ``await store`` / ``await store.open()`` / ``async with store``.
    """

    def __init__(
        self,
        store: Any,
        ttl_seconds: float,
        stale_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        retry_seconds: float | None = None,
    ) -> None:
        if ttl_seconds < 0 or stale_seconds < 0:
            raise ValueError("ttl_seconds and stale_seconds must be >= 0")
        self.store: ConfigStore = store
        self._ttl = ttl_seconds
        self._stale = max(stale_seconds, ttl_seconds)
        # After a failed refresh, wait this long before asking the backend again,
        # so an outage costs one slow read per interval, not one per request.
        self._retry = retry_seconds if retry_seconds is not None else min(max(ttl_seconds, 0.5), 5.0)
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        self._loaded_at = float("-inf")  # clock() when the last successful read started
        self._retry_at = float("-inf")
        self._generation = 0
        self._refresh: asyncio.Task[_Snapshot] | None = None
        self._last_error: ConfigStoreError | None = None

    def __repr__(self) -> str:
        return f"CachedConfigStore({self.store!r}, ttl={self._ttl}, stale={self._stale})"

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> CachedConfigStore:
        """Connect (and migrate) now, and load the first snapshot; raises if the store is down."""
        opener = getattr(self.store, "open", None)
        if opener is not None:
            await opener()
        await self._current()
        return self

    def __await__(self) -> Generator[Any, None, CachedConfigStore]:
        return self.open().__await__()

    async def __aenter__(self) -> CachedConfigStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(BaseException):
                await self._refresh
        await self.store.close()

    def invalidate(self) -> None:
        """Make the next read go to the backend (the last snapshot still serves if it fails)."""
        self._generation += 1

    # -- the snapshot ----------------------------------------------------------------------

    async def _current(self) -> _Snapshot:
        now = self._clock()
        snap = self._snapshot
        if snap is not None and snap.generation == self._generation and now - self._loaded_at < self._ttl:
            return snap
        task = self._refresh
        if task is None and now >= self._retry_at:
            task = self._refresh = asyncio.ensure_future(self._reload())
            task.add_done_callback(_retrieve)
            # The caller that starts a refresh waits for it: it sees fresh data.
            with contextlib.suppress(ConfigStoreError):
                return await asyncio.shield(task)
        elif task is not None and not self._servable(snap, now):
            # Nothing good enough to serve meanwhile: join the read in flight.
            with contextlib.suppress(ConfigStoreError):
                return await asyncio.shield(task)
        now, snap = self._clock(), self._snapshot
        if snap is not None and self._servable(snap, now):
            return snap
        cause = f": {self._last_error.message}" if self._last_error else ""
        raise ConfigStoreError("config_unavailable", f"config store unreachable past the stale bound{cause}")

    def _servable(self, snap: _Snapshot | None, now: float) -> bool:
        return snap is not None and now - self._loaded_at <= self._stale

    async def _reload(self) -> _Snapshot:
        started, generation = self._clock(), self._generation
        try:
            projects = await self.store.list_projects()
        except ConfigStoreError as exc:
            self._failed(exc)
            raise
        except Exception as exc:  # a driver error the store did not wrap: still an outage
            error = ConfigStoreError("config_unavailable", f"config store failed ({type(exc).__name__})")
            self._failed(error)
            raise error from exc
        finally:
            self._refresh = None
        snap = _Snapshot(tuple(projects), {p.name: p for p in projects}, KeyIndex(projects), generation)
        self._snapshot, self._loaded_at, self._last_error = snap, started, None
        return snap

    def _failed(self, error: ConfigStoreError) -> None:
        self._last_error = error
        self._retry_at = self._clock() + self._retry

    # -- reads (from the snapshot) ---------------------------------------------------------

    async def find_key(self, api_key_sha256: str) -> KeyHolder | None:
        return (await self._current()).keys.find(api_key_sha256)

    async def find_by_key_hash(self, api_key_sha256: str) -> Project | None:
        return (await self._current()).keys.project_of(api_key_sha256)

    async def get_project(self, name: str) -> Project | None:
        return (await self._current()).by_name.get(name)

    async def list_projects(self) -> list[Project]:
        return list((await self._current()).projects)

    async def policy_history(self, name: str) -> list[PolicyVersion]:
        return await self.store.policy_history(name)  # not on any hot path: always fresh

    # -- writes (through, then the next read refreshes) ------------------------------------

    async def create_project(self, name: str, api_key_sha256: str) -> Project:
        try:
            return await self.store.create_project(name, api_key_sha256)
        finally:
            self.invalidate()

    async def set_api_key(self, name: str, api_key_sha256: str, *, expected_sha256: str | None = None) -> None:
        try:
            if expected_sha256 is None:
                await self.store.set_api_key(name, api_key_sha256)
            else:
                await self.store.set_api_key(name, api_key_sha256, expected_sha256=expected_sha256)
        finally:
            self.invalidate()

    async def add_agent_key(self, name: str, agent: str, api_key_sha256: str, *, replace: bool = False) -> None:
        try:
            await self.store.add_agent_key(name, agent, api_key_sha256, replace=replace)
        finally:
            self.invalidate()

    async def revoke_agent_keys(self, name: str, agent: str) -> int:
        try:
            return await self.store.revoke_agent_keys(name, agent)
        finally:
            self.invalidate()

    async def push_tools(self, name: str, tools: Sequence[Mapping[str, Any]]) -> None:
        try:
            await self.store.push_tools(name, tools)
        finally:
            self.invalidate()

    async def push_policy(self, name: str, policies: Mapping[str, Any], author: str, note: str = "") -> int:
        try:
            return await self.store.push_policy(name, policies, author, note)
        finally:
            self.invalidate()

    async def rollback(self, name: str, version: int, author: str) -> int:
        try:
            return await self.store.rollback(name, version, author)
        finally:
            self.invalidate()


def _retrieve(task: asyncio.Task[Any]) -> None:
    # A refresh nobody awaited (its caller was cancelled) must not log "exception never retrieved".
    if not task.cancelled():
        task.exception()
