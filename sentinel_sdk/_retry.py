"""When and how long the SDK waits before trying a request again.

Only answers that mean "nothing happened, try later" are retried: 429, 502 and
503, and connections that never reached the interceptor. A denial (403), an
approval request (202), a bad key (401) or a missing session (404) is an
answer and is never retried; neither is 504 or a dropped connection, after
which the tool may already have run. This module must never sleep without
bound: every wait is capped, and so is the number of attempts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({429, 502, 503})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with jittered exponential backoff.

    ``max_attempts`` counts the first try. A ``Retry-After`` header is honoured
    when it asks for no more than ``max_retry_after`` seconds; a longer one ends
    the retries at once (waiting minutes inside a tool call helps nobody).
    """

    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def delay(self, attempt: int, retry_after: float | None, *, rng: random.Random | None = None) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), or None to stop."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return max(0.0, retry_after)
        # Full jitter: spreads retries of many clients hit by the same outage.
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0.0, ceiling)

    def longest_backoff(self) -> float:
        """The most all waits of one request can add up to (each honoured ``Retry-After`` at its cap)."""
        return (self.max_attempts - 1) * max(self.max_delay, self.max_retry_after)


NO_RETRIES = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
