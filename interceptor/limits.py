"""Rate limits and quotas: the policy says what is counted (``sentinel_policy.counters``), the state
store counts it atomically across replicas, and a full counter is 429 ``rate_limited`` with
``Retry-After`` (the SDK waits that long and retries). Nothing runs, and nothing is counted, for a
refused request. A policy without ``limits`` costs nothing here: no counter, no round trip.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from interceptor.config import Project
from interceptor.errors import RateLimited
from interceptor.state import StateStore
from sentinel_policy import CompiledPolicy, counters

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, state: StateStore, clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._clock = clock

    async def admit(
        self, policy: CompiledPolicy, project: Project, agent: str | None, *, sid: str | None = None,
        tool: str | None = None,
    ) -> None:
        """Count a call of ``tool`` in session ``sid`` (with neither: a session start); 429 when a limit is full."""
        if not policy.limits:
            return
        now = self._clock()
        found = counters(policy.limits, now, project=project.name, key_hash=project.api_key_sha256, agent=agent,
                         sid=sid, tool=tool)
        if found and (wait := await self._state.count(found, int(now))):
            raise RateLimited(wait)
