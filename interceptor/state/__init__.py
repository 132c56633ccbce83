"""Session state: sealed session keys, taint facts, approvals.

One interface (StateStore), two backends: in-process memory (the default) and
Redis (``SENTINEL_REDIS_URL``), chosen by URL. Every backend commits facts with
a compare-and-set on a version number, so a policy check and the taint it
causes are one atomic step. A store must never re-implement policy (the pure
engine in sentinel_policy decides) and never keep a session past its expiry.

Lifecycle, the same as the tool server's trust stores::

    store = open_state_store(settings.redis_url, prefix=settings.redis_prefix)
    ...
    await store.close()
"""

from __future__ import annotations

from interceptor.state._model import (
    APPROVAL_STATES,
    BREAKGLASS_KEPT_SECONDS,
    Approval,
    ApprovalBounds,
    BreakGlass,
    Commit,
    Session,
    StateStore,
    StateStoreError,
)
from interceptor.state.cache import SessionCache
from interceptor.state.memory import MemoryStateStore
from interceptor.state.redis import RedisStateStore

__all__ = [
    "APPROVAL_STATES",
    "BREAKGLASS_KEPT_SECONDS",
    "Approval",
    "ApprovalBounds",
    "BreakGlass",
    "Commit",
    "MemoryStateStore",
    "RedisStateStore",
    "Session",
    "SessionCache",
    "StateStore",
    "StateStoreError",
    "open_state_store",
]


def open_state_store(redis_url: str | None, *, prefix: str = "sentinel:interceptor:") -> StateStore:
    """The backend for ``redis_url``: Redis for ``redis://``, ``rediss://`` and ``unix://``,
    the in-process store when None or ``memory://``.

    Nothing connects yet: a Redis store opens its connections on first use, so a
    Redis that is down fails requests (503), not the start.
    """
    if not redis_url or redis_url.startswith("memory://"):
        return MemoryStateStore()
    return RedisStateStore(redis_url, prefix=prefix)
