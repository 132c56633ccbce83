"""How a thread, or another event loop, runs one of the client's coroutines on the client's loop.

The HTTP pool belongs to the loop the client started on, so a synchronous
LangChain call (``tool.invoke``, ``Runnable.batch``) or a call from another
loop hands its coroutine to that loop and waits. If the loop's thread is itself
blocked waiting for the caller (a ``batch`` or ``to_thread`` joined from
async code), the call can never run. So the wait is bounded (by
``SentinelClient.sync_call_timeout``), and when the bound passes:

- before the loop picked the call up, the call is withdrawn (it will never
  run) and ``SentinelError(code="sync_call_stalled")`` says so;
- after it started, the call is cancelled and the error says its outcome is
  unknown (the tool may have run).

It must never wait without bound, and never say a call did not run when the
loop had started it: a lock decides, once, whether the loop or the waiter owns
the coroutine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

import httpx

from sentinel_sdk._exceptions import SentinelError
from sentinel_sdk._retry import RetryPolicy

T = TypeVar("T")
logger = logging.getLogger("sentinel_sdk")
WARN_AFTER = 10.0  # seconds without the loop picking the call up before a warning is logged
# What one attempt is allowed per timeout phase the caller turned off.
_UNBOUNDED_PHASE = 300.0


def default_bound(timeout: httpx.Timeout, retry: RetryPolicy) -> float:
    """Every attempt's full timeout plus the longest total backoff: longer than any call the loop can run."""
    phases = (timeout.connect, timeout.write, timeout.read, timeout.pool)
    attempt = sum(_UNBOUNDED_PHASE if phase is None else phase for phase in phases)
    return retry.max_attempts * attempt + retry.longest_backoff()


class _Handoff:
    """Who owns the coroutine: the loop (it started it) or the waiter (it gave up first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = False
        self.abandoned = False

    def start(self) -> bool:
        with self._lock:
            if not self.abandoned:
                self.started = True
            return self.started

    def abandon(self) -> bool:
        """Give up waiting; True if the loop had already started the call."""
        with self._lock:
            self.abandoned = True
            return self.started


async def _run(coro: Coroutine[Any, Any, T], handoff: _Handoff) -> T | None:
    if not handoff.start():
        return None  # withdrawn: the waiter closes the coroutine
    return await coro


def submit(coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop) -> tuple[concurrent.futures.Future[T], _Handoff]:
    """Hand ``coro`` to ``loop``; wait for it with ``wait_blocking`` or ``wait_async``."""
    handoff = _Handoff()
    wrapper = _run(coro, handoff)
    try:
        future = asyncio.run_coroutine_threadsafe(wrapper, loop)
    except RuntimeError:  # the loop closed after the caller checked it
        wrapper.close()
        coro.close()
        raise SentinelError("the client's event loop is closed", code="loop_not_running") from None
    # None only comes back from a withdrawn call, whose result nobody reads.
    return cast("concurrent.futures.Future[T]", future), handoff


def wait_blocking(
    future: concurrent.futures.Future[T],
    handoff: _Handoff,
    coro: Coroutine[Any, Any, T],
    bound: float,
    closed: Callable[[], bool],
) -> T:
    """Wait at most ``bound`` seconds, from another thread, for a call ``submit`` handed to the loop.

    ``closed()`` tells a call cancelled because its client was closed from any other cancellation.
    """
    first = min(WARN_AFTER, bound)
    try:
        return _result(future, first, closed)
    except concurrent.futures.TimeoutError:
        pass
    if not handoff.started:
        logger.warning(
            "a synchronous Sentinel call has waited %.0fs for the client's event loop to run it "
            "(is that loop blocked waiting for this thread?); giving up after %.0fs",
            first,
            bound,
        )
    try:
        return _result(future, max(0.0, bound - first), closed)
    except concurrent.futures.TimeoutError:
        pass
    raise _gave_up(coro, future, handoff, bound)


async def wait_async(
    future: concurrent.futures.Future[T],
    handoff: _Handoff,
    coro: Coroutine[Any, Any, T],
    bound: float,
    closed: Callable[[], bool],
) -> T:
    """Like ``wait_blocking``, awaited from another event loop."""
    try:
        done, _ = await asyncio.wait([asyncio.wrap_future(future)], timeout=bound)
    except asyncio.CancelledError:  # the caller gave up: so does the call
        if not handoff.abandon():
            coro.close()
        future.cancel()
        raise
    if done:
        return _result(future, 0, closed)
    raise _gave_up(coro, future, handoff, bound)


def _result(future: concurrent.futures.Future[T], timeout: float, closed: Callable[[], bool]) -> T:
    try:
        return future.result(timeout)
    except concurrent.futures.CancelledError:
        raise cancelled_error(closed()) from None


def cancelled_error(closed: bool) -> SentinelError:
    """What a caller waiting on a call that was cancelled on the client's loop is told."""
    if closed:
        return SentinelError(
            "the client was closed while this call was waiting; if it had been sent, the tool may have run",
            code="client_closed",
        )
    return SentinelError(
        "the call was cancelled on the client's event loop (its loop shut down); if it had been sent, "
        "the tool may have run",
        code="call_cancelled",
    )


def _gave_up(
    coro: Coroutine[Any, Any, Any], future: concurrent.futures.Future[Any], handoff: _Handoff, bound: float
) -> SentinelError:
    started = handoff.abandon()
    future.cancel()
    if not started:
        coro.close()  # the loop will never start it now
        return SentinelError(
            f"the client's event loop did not run this call within {bound:g}s, so it was withdrawn and did not run. "
            "That loop may be blocked waiting for this thread (a synchronous tool.invoke or Runnable.batch called "
            "from async code that waits for it). Use `await tool.ainvoke(...)` in async code, or "
            "SyncSentinelClient in synchronous code.",
            code="sync_call_stalled",
        )
    return SentinelError(
        f"the call started on the client's event loop but did not finish within {bound:g}s and was cancelled; "
        "its outcome is unknown (the tool may have run). The client's event loop may be blocked waiting for "
        "this thread: use `await tool.ainvoke(...)` in async code, or SyncSentinelClient in synchronous code.",
        code="sync_call_stalled",
    )
