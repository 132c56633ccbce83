"""Where the tool server keeps session keys, revocations and used ``jti`` values.

One interface (:class:`TrustStore`), two backends, chosen by URL as the
interceptor's state stores are: ``open_trust_store(redis_url, prefix=...)``
gives Redis for ``redis://``, ``rediss://`` and ``unix://`` (shared by every
replica; the scripts are in ``lua/``), the in-process store when the URL is
None or ``memory://``. Every store ends with ``await store.close()``. Nothing
here decides whether a call is allowed; the guard does, using these answers.
"""

from __future__ import annotations

from mcp_server.trust._model import RegistrationOutcome, SessionKey, TrustStore
from mcp_server.trust.memory import MemoryTrustStore
from mcp_server.trust.redis import RedisTrustStore

__all__ = [
    "MemoryTrustStore",
    "RedisTrustStore",
    "RegistrationOutcome",
    "SessionKey",
    "TrustStore",
    "open_trust_store",
]


def open_trust_store(
    redis_url: str | None,
    *,
    prefix: str = "sentinel:mcp:",
    leeway: int = 5,
    max_session_seconds: int = 86_400,
    cache_size: int = 10_000,
) -> TrustStore:
    """The backend for ``redis_url``: Redis when set, memory when None or ``memory://``."""
    if not redis_url or redis_url.startswith("memory://"):
        return MemoryTrustStore(leeway=leeway, max_session_seconds=max_session_seconds)
    return RedisTrustStore.from_url(
        redis_url, prefix=prefix, leeway=leeway, max_session_seconds=max_session_seconds, cache_size=cache_size
    )
