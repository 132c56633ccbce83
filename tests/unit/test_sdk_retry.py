"""Retries: 429/502/503 and unsent connections are retried with bounded, jittered backoff; answers never are."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

import sentinel_sdk._client as client_module
from sentinel_sdk import (
    ApprovalRequired,
    AuthenticationError,
    PolicyDenied,
    RateLimited,
    RetryPolicy,
    SentinelClient,
    SentinelError,
    SentinelUnavailable,
    SessionExpired,
)
from sentinel_sdk._retry import parse_retry_after
from sentinel_sdk.testing import FakeInterceptor


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the SDK's waits instead of waiting."""
    recorded: list[float] = []

    async def fake_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(client_module, "_sleep", fake_sleep)
    return recorded


@pytest.fixture
def fake() -> FakeInterceptor:
    return FakeInterceptor(tools=[{"name": "t", "input_schema": {"type": "object"}}], api_key="k")


def client_for(fake: FakeInterceptor, retry: RetryPolicy | None = None) -> SentinelClient:
    return SentinelClient(api_key="k", base_url="http://s.test", transport=fake.transport, retry=retry)


def err(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    # as the interceptor answers: retryable says whether nothing can have run
    body = {"code": f"e{status}", "message": "x", "retryable": status in (429, 502, 503)}
    return httpx.Response(status, json={"error": body}, headers=headers)


@pytest.mark.parametrize("status", [429, 502, 503])
async def test_transient_statuses_are_retried_until_success(fake: FakeInterceptor, sleeps: list[float], status: int) -> None:
    async with client_for(fake) as client:
        fake.queue(err(status), err(status))
        assert await client.call_tool("t", {"a": 1}) == {"echo": {"a": 1}}
    assert len(sleeps) == 2
    assert len(fake.calls) == 1  # only the third attempt reached the tool


async def test_backoff_grows_exponentially_with_full_jitter(fake: FakeInterceptor, sleeps: list[float]) -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=3.0)
    async with client_for(fake, policy) as client:
        fake.queue(err(503), err(503), err(503), err(503))
        with pytest.raises(SentinelUnavailable):
            await client.call_tool("t", {})
    assert len(sleeps) == 3  # four attempts in all, then give up
    for delay, ceiling in zip(sleeps, [1.0, 2.0, 3.0], strict=True):
        assert 0.0 <= delay <= ceiling


def test_jitter_spreads_the_delays() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
    rng = random.Random(7)
    delays = {policy.delay(3, None, rng=rng) for _ in range(20)}
    assert len(delays) > 10 and all(d is not None and 0 <= d <= 4.0 for d in delays)


async def test_retry_after_is_respected(fake: FakeInterceptor, sleeps: list[float]) -> None:
    async with client_for(fake) as client:
        fake.queue(err(429, {"Retry-After": "2"}))
        await client.call_tool("t", {})
    assert sleeps == [2.0]


async def test_a_too_long_retry_after_stops_retrying(fake: FakeInterceptor, sleeps: list[float]) -> None:
    async with client_for(fake, RetryPolicy(max_retry_after=10)) as client:
        fake.queue(err(429, {"Retry-After": "3600"}))
        with pytest.raises(RateLimited) as info:
            await client.call_tool("t", {})
    assert sleeps == [] and info.value.retry_after == 3600.0


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(403, json={"error": {"code": "policy_denied", "rule": "r", "reason": "no"}}), PolicyDenied),
        (httpx.Response(202, json={"approval_id": "a1", "status": "pending", "rule": "r", "reason": "why"}), ApprovalRequired),
        (err(401), AuthenticationError),
        (err(404), SessionExpired),
        (err(504), SentinelUnavailable),
        (err(500), SentinelError),
    ],
)
async def test_answers_are_never_retried(
    fake: FakeInterceptor, sleeps: list[float], response: httpx.Response, kind: type[SentinelError]
) -> None:
    async with client_for(fake) as client:
        fake.queue(response)
        with pytest.raises(kind):
            await client.call_tool("t", {})
    call_requests = [r for r in fake.requests if r.url.path.endswith("/call")]
    assert len(call_requests) == 1 and sleeps == []


async def test_unsent_connection_failures_are_retried(fake: FakeInterceptor, sleeps: list[float]) -> None:
    failures = 2

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal failures
        if failures:
            failures -= 1
            raise httpx.ConnectError("refused", request=request)
        return fake.handle(request)

    async with SentinelClient(api_key="k", base_url="http://s.test", transport=httpx.MockTransport(flaky)) as client:
        assert client.session_id
    assert len(sleeps) == 2


async def test_retries_are_bounded_for_connection_failures(sleeps: list[float]) -> None:
    attempts = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise httpx.ConnectError("refused", request=request)

    client = SentinelClient(api_key="k", base_url="http://s.test", transport=httpx.MockTransport(refuse), retry=RetryPolicy(max_attempts=3))
    with pytest.raises(SentinelUnavailable):
        await client.start()
    assert attempts == 3 and len(sleeps) == 2


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("5", 5.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None)],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0


@pytest.mark.parametrize("code", ["tool_server_error", "tool_server_rejected"])
async def test_a_502_after_the_tool_server_got_the_call_is_not_retried(
    fake: FakeInterceptor, sleeps: list[float], code: str
) -> None:
    async with client_for(fake) as client:
        fake.queue(httpx.Response(502, json={"error": {"code": code, "message": "upstream trouble"}}))
        with pytest.raises(SentinelUnavailable) as info:
            await client.call_tool("t", {})
    assert info.value.code == code and sleeps == []


async def test_a_502_unreachable_tool_server_is_retried(fake: FakeInterceptor, sleeps: list[float]) -> None:
    async with client_for(fake) as client:
        fake.queue(httpx.Response(502, json={"error": {"code": "tool_server_unreachable", "message": "down", "retryable": True}}))
        assert await client.call_tool("t", {}) == {"echo": {}}
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [502, 503])
async def test_an_answer_marked_not_retryable_is_never_retried(
    fake: FakeInterceptor, sleeps: list[float], status: int
) -> None:
    # e.g. 503 after the tool ran but its taint could not be stored: a retry would run it twice
    async with client_for(fake) as client:
        fake.queue(httpx.Response(status, json={"error": {"code": "state_unavailable", "message": "x", "retryable": False}}))
        with pytest.raises(SentinelUnavailable):
            await client.call_tool("t", {})
    assert sleeps == []
    assert fake.calls == []  # the queued answer was the only one; no second attempt reached the fake


@pytest.mark.parametrize("status", [502, 503])
async def test_a_proxy_error_on_a_call_is_not_retried(fake: FakeInterceptor, sleeps: list[float], status: int) -> None:
    # a load balancer's 502 after the interceptor forwarded the call: the tool may have run
    async with client_for(fake) as client:
        fake.queue(httpx.Response(status, text="<html>Bad Gateway</html>"))
        with pytest.raises(SentinelUnavailable):
            await client.call_tool("t", {})
    assert sleeps == [] and fake.calls == []


async def test_a_proxy_error_on_session_start_is_retried(fake: FakeInterceptor, sleeps: list[float]) -> None:
    fake.queue(httpx.Response(502, text="<html>Bad Gateway</html>"))
    async with client_for(fake) as client:  # starting a session runs no tool: safe to retry
        assert client.session_id
    assert len(sleeps) == 1
