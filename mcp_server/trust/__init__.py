"""Where the tool server keeps session keys, revocations and used ``jti`` values.

``open_trust_store(settings)`` picks the backend: Redis when ``redis_url`` is
set (shared by every replica), otherwise in-process. Nothing here decides
whether a call is allowed; the guard does, using these answers.
"""

from __future__ import annotations

from mcp_server.settings import McpSettings
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


def open_trust_store(settings: McpSettings) -> TrustStore:
    options = {"leeway": settings.leeway_seconds, "max_session_seconds": settings.max_session_seconds}
    if settings.redis_url:
        return RedisTrustStore.from_url(
            settings.redis_url,
            prefix=settings.redis_prefix,
            cache_size=settings.session_key_cache_size,
            **options,
        )
    return MemoryTrustStore(**options)
