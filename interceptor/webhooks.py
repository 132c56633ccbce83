"""Announcing approval events to a webhook: signed, retried, and never in a call's way.

Each event is POSTed as JSON with ``X-Sentinel-Signature: t=<unix seconds>,v1=<hex>``,
where ``v1`` is HMAC-SHA256 under the shared secret over ``"<t>." + body``
(``sentinel_sdk.verify_webhook`` checks it, and the time, on the receiving end).
Delivery runs in one background task: a failing or slow receiver gets retries
with backoff (0.5 s doubling, ``attempts`` tries), then the event is dropped and
logged; a full queue drops the oldest event. A decision never waits for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from typing import Any

import httpx
import orjson

__all__ = ["Webhook", "signature"]

_log = logging.getLogger("sentinel.interceptor")


def signature(secret: bytes, body: bytes, at: int) -> str:
    mac = hmac.new(secret, str(at).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


class Webhook:
    def __init__(self, url: str, secret: bytes, *, attempts: int = 5, timeout: float = 5.0,
                 queue_size: int = 1000, first_backoff: float = 0.5) -> None:
        self._url = url
        self._secret = secret
        self._attempts = attempts
        self._first_backoff = first_backoff
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self._client = httpx.AsyncClient(timeout=timeout)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._deliver_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()

    def send(self, event: dict[str, Any]) -> None:
        """Queue ``event``; returns at once."""
        body = orjson.dumps(event)
        if self._queue.full():
            self._queue.get_nowait()
            _log.warning("webhook queue full: the oldest event was dropped")
        self._queue.put_nowait(body)

    async def drain(self) -> None:
        """Wait until every queued event was delivered or given up (tests, shutdown)."""
        await self._queue.join()

    async def _deliver_forever(self) -> None:
        while True:
            body = await self._queue.get()
            try:
                await self._deliver(body)
            finally:
                self._queue.task_done()

    async def _deliver(self, body: bytes) -> None:
        delay = self._first_backoff
        for attempt in range(1, self._attempts + 1):
            headers = {"content-type": "application/json",
                       "x-sentinel-signature": signature(self._secret, body, int(time.time()))}
            try:
                response = await self._client.post(self._url, content=body, headers=headers)
                if response.status_code < 300:
                    return
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            if attempt < self._attempts:
                await asyncio.sleep(delay)
                delay *= 2
        _log.error("webhook gave up after %d attempts (%s): an approval event was not delivered",
                   self._attempts, problem)
