"""Session state: sealed session keys, taint facts, approvals.

One interface (StateStore), two backends: in-process memory (the default) and
Redis (``SENTINEL_REDIS_URL``), chosen by URL. Every backend commits facts with
a compare-and-set on a version number, so a policy check and the taint it
causes are one atomic step. A store must never re-implement policy (the pure
engine in interceptor.policy decides) and never keep a session past its expiry.
"""

from __future__ import annotations

from interceptor.state._model import Approval, Commit, SessionRecord, StateStore, StateStoreError
from interceptor.state.cache import SessionCache

__all__ = ["Approval", "Commit", "SessionCache", "SessionRecord", "StateStore", "StateStoreError", "open_state_store"]


def open_state_store(redis_url: str | None, prefix: str = "sentinel:interceptor:") -> StateStore:
    """The backend for ``redis_url``: Redis when set (``redis://``, ``rediss://``, ``unix://``), memory when None or ``memory://``."""
    if not redis_url or redis_url.startswith("memory://"):
        from interceptor.state.memory import MemoryStateStore

        return MemoryStateStore()
    from interceptor.state.redis import RedisStateStore

    return RedisStateStore(redis_url, prefix=prefix)
