"""Readiness: whether a service can do its work now, for ``GET /readyz``.

Liveness (``/healthz``) says the process answers; readiness says its
dependencies do too. Each service names its checks (a coroutine that returns
when the dependency is usable and raises :class:`NotReady` with a short code
when it is not); :class:`Readiness` runs them concurrently, each within
``timeout`` seconds, and keeps the report for ``cache_seconds``. Callers that
arrive while a run is in flight share it, so however many probes arrive, each
dependency is asked at most once per interval.

Problems are logged for the operator, not per probe: at once when the set of
problems changes, then at most once per ``log_every`` seconds while it lasts,
and once when the service is ready again.

It must never raise to its caller (a check that fails in any way is a
problem), and never put anything in the report but the checks' names and
codes: details (which may name hosts or files) go to the log only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "LogThrottle", "NotReady", "Readiness", "ReadinessReport"]

Check = Callable[[], Awaitable[None]]


class NotReady(Exception):
    """A check's answer when its dependency is not usable: ``code`` is reported, ``detail`` only logged."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    checks: Mapping[str, str]  # check name -> "ok" or the code of what is wrong
    details: Mapping[str, str]  # check name -> what the log says about it (never answered)

    @property
    def ready(self) -> bool:
        return all(code == "ok" for code in self.checks.values())

    def body(self, **extra: Any) -> dict[str, Any]:
        """The JSON answer: ``{"status": "ready"|"not_ready", "checks": {...}, "not_ready": [...]}``."""
        failing = sorted(name for name, code in self.checks.items() if code != "ok")
        status = "ready" if not failing else "not_ready"
        return {"status": status, **extra, "checks": dict(self.checks), "not_ready": failing}


class Readiness:
    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        log: logging.Logger,
        service: str,
        timeout: float = 2.0,
        cache_seconds: float = 1.0,
        log_every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = dict(checks)
        self._log = log
        self._service = service
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._log_every = log_every
        self._clock = clock
        self._last: tuple[float, ReadinessReport] | None = None
        self._running: asyncio.Task[ReadinessReport] | None = None
        self._logged: tuple[float, tuple[tuple[str, str], ...]] | None = None  # when, and which problems

    async def report(self) -> ReadinessReport:
        last = self._last
        if last is not None and self._clock() - last[0] < self._cache_seconds:
            return last[1]
        task = self._running
        if task is None:
            task = self._running = asyncio.ensure_future(self._run())
            task.add_done_callback(self._finished)
        # Shielded: a probe that gives up does not cancel the run the others wait for.
        return await asyncio.shield(task)

    def _finished(self, task: asyncio.Task[ReadinessReport]) -> None:
        self._running = None
        if not task.cancelled() and task.exception() is None:
            self._last = (self._clock(), task.result())

    async def _run(self) -> ReadinessReport:
        names = list(self._checks)
        outcomes = await asyncio.gather(*(self._one(self._checks[name]) for name in names))
        report = ReadinessReport(
            {name: code for name, (code, _) in zip(names, outcomes, strict=True)},
            {name: detail for name, (code, detail) in zip(names, outcomes, strict=True) if code != "ok"},
        )
        self._note(report)
        return report

    async def _one(self, check: Check) -> tuple[str, str]:
        try:
            async with asyncio.timeout(self._timeout):
                await check()
        except NotReady as exc:
            return exc.code, exc.detail or exc.code
        except TimeoutError:
            return "timeout", f"no answer within {self._timeout:g} s"
        except Exception as exc:
            return "error", f"the check failed: {type(exc).__name__}"
        return "ok", ""

    def _note(self, report: ReadinessReport) -> None:
        now = self._clock()
        problems = tuple(sorted((name, code) for name, code in report.checks.items() if code != "ok"))
        logged = self._logged
        if not problems:
            if logged is not None:
                self._log.warning("%s is ready again", self._service)
                self._logged = None
            return
        if logged is not None and logged[1] == problems and now - logged[0] < self._log_every:
            return
        text = "; ".join(f"{name}: {code} ({report.details.get(name, code)})" for name, code in problems)
        self._log.error("%s is not ready: %s", self._service, text)
        self._logged = (now, problems)

    async def close(self) -> None:
        task = self._running
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


class LogThrottle:
    """Lets a log line that every failing request would repeat through at most once per ``interval`` s per key.

    For failures seen on the request path (a config store that cannot be read,
    a tool server that answers like none): the operator hears of it at once and
    then once a minute, not once per request. Keys are a few fixed names.
    """

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            return False
        self._last[key] = now
        return True
