"""SentinelClient against an in-memory interceptor: session lifecycle and every answer the API can give."""

from __future__ import annotations

import asyncio
import datetime
import traceback
from typing import Any

import httpx
import pytest

from sentinel_sdk import (
    ApprovalRequired,
    AuthenticationError,
    InvalidArguments,
    PolicyDenied,
    ProtocolError,
    RateLimited,
    RetryPolicy,
    SentinelClient,
    SentinelError,
    SentinelUnavailable,
    SessionExpired,
    ToolError,
)
from sentinel_sdk.testing import FakeInterceptor

TOOLS = [
    {
        "name": "read_inbox",
        "description": "Read the inbox",
        "input_schema": {"type": "object", "properties": {"limit": {"type": "integer"}}},
        "class": "UNTRUSTED_READ",
    },
    {
        "name": "send_email",
        "description": "Send an email",
        "input_schema": {
            "type": "object",
            "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
            "required": ["to", "body"],
        },
        "class": "CONSEQUENTIAL_WRITE",
    },
]
NO_WAIT = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0)


@pytest.fixture
def fake() -> FakeInterceptor:
    return FakeInterceptor(tools=[dict(t) for t in TOOLS], api_key="k-123")


def client_for(fake: FakeInterceptor, **options: Any) -> SentinelClient:
    options.setdefault("retry", NO_WAIT)
    return SentinelClient(api_key="k-123", base_url="http://sentinel.test", transport=fake.transport, **options)


def error(status: int, code: str, message: str = "", **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, **extra}})


async def test_context_manager_starts_and_ends_the_session(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        assert client.session_id == fake.started[0]
        assert client.expires_at == "2099-01-01T00:00:00Z"
        assert fake.ended == []
    assert fake.ended == [fake.started[0]]
    paths = [(r.method, r.url.path) for r in fake.requests]
    assert paths == [("POST", "/session/start"), ("POST", f"/session/{client.session_id}/end")]


async def test_every_request_carries_the_api_key(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        await client.list_tools(refresh=True)
        await client.call_tool("read_inbox", {})
    assert len(fake.requests) == 4
    assert all(r.headers["X-Sentinel-Key"] == "k-123" for r in fake.requests)


async def test_session_is_ended_when_the_body_raises(fake: FakeInterceptor) -> None:
    with pytest.raises(KeyError):
        async with client_for(fake):
            raise KeyError("boom")
    assert fake.ended == fake.started


async def test_failing_to_end_does_not_hide_the_callers_exception(fake: FakeInterceptor) -> None:
    with pytest.raises(KeyError):
        async with client_for(fake, retry=RetryPolicy(max_attempts=1)):
            fake.queue(error(503, "state_store_unavailable"))
            raise KeyError("boom")


async def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, fake: FakeInterceptor) -> None:
    monkeypatch.setenv("SENTINEL_API_KEY", "k-123")
    monkeypatch.setenv("SENTINEL_URL", "http://from-env.test:9000/")
    client = SentinelClient(transport=fake.transport)
    assert client.base_url == "http://from-env.test:9000"
    async with client:
        pass
    assert str(fake.requests[0].url) == "http://from-env.test:9000/session/start"


def test_default_url_is_localhost_8000(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTINEL_URL", raising=False)
    assert SentinelClient(api_key="x").base_url == "http://localhost:8000"


def test_missing_api_key_is_an_authentication_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTINEL_API_KEY", raising=False)
    with pytest.raises(AuthenticationError) as info:
        SentinelClient()
    assert info.value.code == "missing_api_key"


def test_repr_never_shows_the_api_key() -> None:
    client = SentinelClient(api_key="super-secret-key", base_url="http://x.test")
    assert "super-secret-key" not in repr(client)


async def test_bad_api_key_raises_authentication_error(fake: FakeInterceptor) -> None:
    client = SentinelClient(api_key="wrong", base_url="http://s.test", transport=fake.transport)
    with pytest.raises(AuthenticationError) as info:
        async with client:
            pass
    assert info.value.status == 401 and info.value.code == "unauthorized"
    assert len(fake.requests) == 1  # a 401 is never retried


async def test_list_tools_returns_definitions_from_the_session_start(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        tools = await client.list_tools()
        assert [t.name for t in tools] == ["read_inbox", "send_email"]
        assert tools[1].input_schema["required"] == ["to", "body"]
        assert tools[0].security_class == "UNTRUSTED_READ"
        assert tools[0].to_dict()["class"] == "UNTRUSTED_READ"
        assert len(fake.requests) == 1  # served from the start answer


async def test_list_tools_refresh_asks_the_interceptor(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        fake.tools.append({"name": "delete_file", "input_schema": {"type": "object"}})
        tools = await client.list_tools(refresh=True)
    assert [t.name for t in tools][-1] == "delete_file"
    assert fake.requests[1].method == "GET" and fake.requests[1].url.path.endswith("/tools")


async def test_call_tool_returns_structured_content_when_present(fake: FakeInterceptor) -> None:
    fake.on("read_inbox", lambda args: {"messages": [{"from": "a@b.c"}], "limit": args["limit"]})
    async with client_for(fake) as client:
        assert await client.call_tool("read_inbox", {"limit": 2}) == {"messages": [{"from": "a@b.c"}], "limit": 2}
    assert fake.calls[0].tool == "read_inbox" and fake.calls[0].arguments == {"limit": 2}


async def test_call_tool_returns_joined_text_without_structured_content(fake: FakeInterceptor) -> None:
    fake.on(
        "read_inbox",
        lambda args: {"content": [{"type": "text", "text": "one"}, {"type": "image", "data": "x"}, {"type": "text", "text": "two"}]},
    )
    async with client_for(fake) as client:
        assert await client.call_tool("read_inbox") == "one\ntwo"


async def test_tool_reporting_an_error_raises_tool_error(fake: FakeInterceptor) -> None:
    fake.on("read_inbox", lambda args: {"content": [{"type": "text", "text": "disk on fire"}], "isError": True})
    async with client_for(fake) as client:
        with pytest.raises(ToolError) as info:
            await client.call_tool("read_inbox", {})
        assert info.value.text == "disk on fire" and info.value.code == "tool_error"
        detailed = await client.call_tool_result("read_inbox", {})
        assert detailed.is_error and detailed.text == "disk on fire"


async def test_call_tool_result_carries_decision_and_jti(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        result = await client.call_tool_result("read_inbox", {"limit": 1})
    assert result.rule == "allow-all" and result.reason == "fake" and result.jti
    assert result.value == {"echo": {"limit": 1}}


async def test_denied_call_raises_policy_denied_with_rule_and_reason(fake: FakeInterceptor) -> None:
    fake.deny("send_email", rule="taint-untrusted", reason="session read untrusted input")
    async with client_for(fake) as client:
        with pytest.raises(PolicyDenied) as info:
            await client.call_tool("send_email", {"to": "x@evil.test", "body": "secrets"})
    assert info.value.rule == "taint-untrusted"
    assert info.value.reason == "session read untrusted input"
    assert info.value.code == "policy_denied" and info.value.status == 403
    assert isinstance(info.value, SentinelError)
    assert len(fake.calls) == 1  # a denial is never retried


async def test_approval_required_carries_the_approval_id(fake: FakeInterceptor) -> None:
    fake.require_approval("send_email", rule="big-transfer", reason="needs a human", approval_id="appr-42")
    async with client_for(fake) as client:
        with pytest.raises(ApprovalRequired) as info:
            await client.call_tool("send_email", {"to": "a", "body": "b"})
    assert info.value.approval_id == "appr-42" and info.value.rule == "big-transfer"
    assert info.value.approval_status == "pending" and info.value.code == "approval_required"
    assert len(fake.calls) == 1


async def test_unknown_session_raises_session_expired(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        fake.ended.append(client.session_id or "")
        with pytest.raises(SessionExpired) as info:
            await client.call_tool("read_inbox", {})
    assert info.value.status == 404 and info.value.code == "session_not_found"
    assert len(fake.calls) == 0


async def test_calls_after_the_session_ended_fail_locally(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        pass
    before = len(fake.requests)
    with pytest.raises(SessionExpired):
        await client.call_tool("read_inbox", {})
    assert len(fake.requests) == before


async def test_call_before_start_is_a_clear_error(fake: FakeInterceptor) -> None:
    client = client_for(fake)
    with pytest.raises(SentinelError) as info:
        await client.call_tool("read_inbox", {})
    assert info.value.code == "not_started"
    await client.close()


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_unavailable_statuses_raise_sentinel_unavailable(fake: FakeInterceptor, status: int) -> None:
    async with client_for(fake, retry=RetryPolicy(max_attempts=1)) as client:
        fake.queue(error(status, "tool_server_unreachable", "tool server down"))
        with pytest.raises(SentinelUnavailable) as info:
            await client.call_tool("read_inbox", {})
    assert info.value.status == status and info.value.code == "tool_server_unreachable"
    assert str(info.value) == "tool server down"


async def test_rate_limit_after_retries_raises_rate_limited(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        fake.queue(*[httpx.Response(429, json={"error": {"code": "rate_limited", "message": "slow down"}}) for _ in range(3)])
        with pytest.raises(RateLimited) as info:
            await client.call_tool("read_inbox", {})
    assert info.value.code == "rate_limited" and info.value.status == 429


async def test_connection_refused_raises_sentinel_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = SentinelClient(api_key="k", base_url="http://down.test", transport=httpx.MockTransport(refuse), retry=NO_WAIT)
    with pytest.raises(SentinelUnavailable) as info:
        await client.start()
    assert info.value.code == "connection_failed"


async def test_read_timeout_raises_unavailable_without_retry(fake: FakeInterceptor) -> None:
    attempts = 0

    def slow(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        if request.url.path.endswith("/call"):
            attempts += 1
            raise httpx.ReadTimeout("too slow", request=request)
        return fake.handle(request)

    async with SentinelClient(api_key="k-123", base_url="http://s.test", transport=httpx.MockTransport(slow), retry=NO_WAIT) as client:
        with pytest.raises(SentinelUnavailable) as info:
            await client.call_tool("read_inbox", {})
    assert info.value.code == "timeout" and attempts == 1  # the tool may have run: never sent twice


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(200, text="<html>proxy</html>"), ProtocolError),
        (httpx.Response(200, json={"nothing": True}), ProtocolError),
        (httpx.Response(202, json={"status": "pending"}), ProtocolError),
        (httpx.Response(500, json={"detail": "Internal Server Error"}), SentinelError),
        (httpx.Response(422, json={"detail": [{"msg": "field required"}]}), SentinelError),
    ],
)
async def test_unreadable_or_unexpected_answers_raise_sentinel_errors(
    fake: FakeInterceptor, response: httpx.Response, kind: type[SentinelError]
) -> None:
    async with client_for(fake) as client:
        fake.queue(response)
        with pytest.raises(kind) as info:
            await client.call_tool("read_inbox", {})
    assert info.value.code


async def test_redirects_are_not_followed_so_the_key_stays_home(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        fake.queue(httpx.Response(307, headers={"Location": "http://evil.test/steal"}))
        with pytest.raises(SentinelError) as info:
            await client.call_tool("read_inbox", {})
    assert info.value.status == 307
    assert all(r.url.host == "sentinel.test" for r in fake.requests)


async def test_session_ids_are_escaped_in_paths() -> None:
    fake = FakeInterceptor(api_key="k")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        if request.url.path == "/session/start":
            return httpx.Response(200, json={"session_id": "../admin?x=1", "expires_at": None, "tools": []})
        return httpx.Response(200, json={"tools": []})

    async with SentinelClient(api_key="k", base_url="http://s.test", transport=httpx.MockTransport(handler)) as client:
        await client.list_tools(refresh=True)
    assert seen[1] == "/session/..%2Fadmin%3Fx%3D1/tools"
    assert fake.requests == []


async def test_a_wrong_base_url_is_not_mistaken_for_an_expired_session() -> None:
    def other_service(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no such endpoint"}})

    client = SentinelClient(api_key="k", base_url="http://wrong.test", transport=httpx.MockTransport(other_service))
    with pytest.raises(SentinelError) as info:
        await client.start()
    assert not isinstance(info.value, SessionExpired)
    assert "http://wrong.test" in str(info.value)


# -- the API key never reaches a traceback ------------------------------------

SECRET = "sk-sentinel-SECRETKEY123"


@pytest.mark.parametrize("written", [SECRET + "\n", SECRET + " ", " " + SECRET, "\t" + SECRET + "\r\n"])
async def test_whitespace_around_the_api_key_is_stripped(written: str) -> None:
    fake = FakeInterceptor(api_key=SECRET)
    async with SentinelClient(api_key=written, base_url="http://s.test", transport=fake.transport):
        pass
    assert fake.requests[0].headers["X-Sentinel-Key"] == SECRET


@pytest.mark.parametrize("bad", [SECRET[:6] + "\n" + SECRET[6:], SECRET + "\x00x", SECRET + "é", SECRET[:6] + "\t" + SECRET[6:]])
def test_a_key_no_header_can_carry_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        SentinelClient(api_key=bad, base_url="http://s.test")
    assert info.value.code == "invalid_api_key"
    shown = str(info.value) + repr(info.value) + "".join(traceback.format_exception(info.value))
    assert "SECRETKEY123" not in shown and "KEY123" not in shown


async def test_a_transport_error_quoting_the_key_is_not_chained_into_the_sentinel_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        # what h11 raises for an illegal header value: the value itself, quoted
        raise httpx.LocalProtocolError(f"Illegal header value b'{request.headers['X-Sentinel-Key']}'")

    client = SentinelClient(api_key=SECRET, base_url="http://s.test", transport=httpx.MockTransport(refuse))
    with pytest.raises(SentinelUnavailable) as info:
        await client.start()
    error = info.value
    assert error.code == "connection_failed" and "LocalProtocolError" in str(error)
    assert error.__cause__ is None and error.__context__ is None
    shown = str(error) + repr(error) + "".join(traceback.format_exception(error))
    assert SECRET not in shown


async def test_credentials_in_the_base_url_are_redacted_from_repr_and_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = SentinelClient(
        api_key="k", base_url="http://admin:hunter2@s.test:8000/", transport=httpx.MockTransport(refuse), retry=NO_WAIT
    )
    assert client.base_url == "http://***@s.test:8000"
    with pytest.raises(SentinelUnavailable) as info:
        await client.start()
    shown = repr(client) + str(info.value) + "".join(traceback.format_exception(info.value))
    assert "hunter2" not in shown and "admin" not in shown
    assert "s.test:8000" in str(info.value)


# -- arguments ---------------------------------------------------------------


def invalid_arguments(message: str) -> httpx.Response:
    # exactly the interceptor's answer when the tool's schema refuses the arguments
    body = {"code": "invalid_arguments", "message": f"the tool refused the arguments: invalid arguments: {message}", "retryable": False}
    return httpx.Response(400, json={"error": body})


async def test_arguments_the_tool_refuses_raise_invalid_arguments(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        fake.queue(invalid_arguments("argument 'limit': Input should be a valid integer"))
        with pytest.raises(InvalidArguments) as info:
            await client.call_tool("read_inbox", {"limit": "ten"})
    error = info.value
    assert isinstance(error, SentinelError) and not isinstance(error, SentinelUnavailable)
    assert error.code == "invalid_arguments" and error.status == 400 and error.retryable is False
    assert "argument 'limit'" in error.message


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"limit": float("nan")}, "argument 'limit' is NaN"),
        ({"limit": float("inf")}, "argument 'limit' is an infinite number"),
        ({"when": datetime.datetime(2031, 5, 17, 9, 30)}, "argument 'when' is a datetime"),
        ({"filter": {"tags": ["a", {"score": float("-inf")}]}}, "argument 'filter.tags[1].score' is an infinite number"),
        ({"ids": {1, 2}}, "argument 'ids' is a set"),
        ({1: "a"}, "argument names must be strings, not int"),
        ("", "not str"),
        ([], "not list"),
        (0, "not int"),
        ([("limit", 1)], "not list"),
    ],
)
async def test_arguments_json_cannot_carry_are_refused_before_sending(fake: FakeInterceptor, arguments: Any, problem: str) -> None:
    async with client_for(fake) as client:
        with pytest.raises(InvalidArguments) as info:
            await client.call_tool("read_inbox", arguments)
    assert problem in str(info.value) and info.value.code == "invalid_arguments"
    assert fake.calls == [] and not any(r.url.path.endswith("/call") for r in fake.requests)


async def test_refused_arguments_are_named_never_echoed(fake: FakeInterceptor) -> None:
    looped: dict[str, Any] = {"password": "hunter2"}
    looped["self"] = looped
    async with client_for(fake) as client:
        for arguments in ({"password": "hunter2", "when": datetime.date(2031, 5, 17)}, looped):
            with pytest.raises(InvalidArguments) as info:
                await client.call_tool("read_inbox", arguments)
            assert "hunter2" not in str(info.value) and "2031" not in str(info.value)
    assert fake.calls == []


async def test_json_arguments_are_sent_as_they_are(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        await client.call_tool("read_inbox", None)
        await client.call_tool("read_inbox", {"limit": 2, "tags": ("a", "b"), "meta": {"deep": [1.5, None, True]}})
    assert [c.arguments for c in fake.calls] == [{}, {"limit": 2, "tags": ["a", "b"], "meta": {"deep": [1.5, None, True]}}]


# -- what the errors say about the outcome -------------------------------------


async def test_errors_carry_whether_trying_again_is_safe(fake: FakeInterceptor) -> None:
    async with client_for(fake, retry=RetryPolicy(max_attempts=1)) as client:
        fake.queue(
            error(504, "tool_server_timeout", "slow", retryable=False),
            error(503, "unavailable", "state store down", retryable=True),
            httpx.Response(502, text="<html>bad gateway</html>"),
        )
        for expected in (False, True, False):
            with pytest.raises(SentinelUnavailable) as info:
                await client.call_tool("read_inbox", {})
            assert info.value.retryable is expected


# -- a wrong base URL ---------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, json={"error": {"code": "session_not_found", "message": "no such session"}}),
        httpx.Response(404, text="<html>404 Not Found</html>"),
        httpx.Response(404, json={"detail": "Not Found"}),
    ],
)
async def test_any_404_at_session_start_means_no_interceptor_is_there(answer: httpx.Response) -> None:
    client = SentinelClient(api_key="k", base_url="http://wrong.test", transport=httpx.MockTransport(lambda request: answer))
    with pytest.raises(SentinelError) as info:
        await client.start()
    assert not isinstance(info.value, SessionExpired)
    assert info.value.code == "not_an_interceptor" and info.value.status == 404
    assert "is http://wrong.test the Sentinel interceptor?" in str(info.value)


# -- a client is used once ------------------------------------------------------


async def test_a_client_cannot_start_again_after_a_failed_start(fake: FakeInterceptor) -> None:
    client = SentinelClient(api_key="wrong", base_url="http://s.test", transport=fake.transport)
    with pytest.raises(AuthenticationError):
        await client.start()
    with pytest.raises(SentinelError) as info:
        await client.start()
    assert info.value.code == "client_closed"
    assert len(fake.requests) == 1


async def test_a_closed_client_says_so(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        tools = await client.get_langchain_tools()
    with pytest.raises(SentinelError) as info:
        await client.start()
    assert info.value.code == "client_closed"
    with pytest.raises(SentinelError) as info:
        await asyncio.to_thread(tools[0].invoke, {})
    assert info.value.code == "client_closed"
    before = len(fake.requests)
    with pytest.raises(SessionExpired) as expired:
        await client.list_tools(refresh=True)
    assert expired.value.code == "session_ended" and "closed" in str(expired.value)
    assert len(fake.requests) == before


# -- the fake answers like the interceptor ----------------------------------------


def raw_call(fake: FakeInterceptor, session_id: str | None, body: Any) -> httpx.Response:
    request = httpx.Request("POST", f"http://s.test/session/{session_id}/call", headers={"X-Sentinel-Key": "k-123"}, json=body)
    return fake.handle(request)


async def test_the_fake_denies_unknown_tools_like_the_interceptor(fake: FakeInterceptor) -> None:
    async with client_for(fake) as client:
        with pytest.raises(PolicyDenied) as info:
            await client.call_tool("format_disk", {})
        raw = raw_call(fake, client.session_id, {"tool": "format_disk", "arguments": {}})
    reason = "tool 'format_disk' is not defined for this project"
    assert info.value.rule == "unknown_tool" and info.value.reason == reason
    # the body interceptor.errors.PolicyDenied writes for the policy's unknown_tool decision
    assert raw.status_code == 403
    assert raw.json() == {"error": {"code": "policy_denied", "message": reason, "retryable": False, "rule": "unknown_tool", "reason": reason}}


@pytest.mark.parametrize("arguments", [[1, 2], "abc", None, 3])
async def test_the_fake_refuses_arguments_that_are_not_an_object(fake: FakeInterceptor, arguments: Any) -> None:
    async with client_for(fake) as client:
        raw = raw_call(fake, client.session_id, {"tool": "read_inbox", "arguments": arguments})
    assert raw.status_code == 400
    assert raw.json() == {"error": {"code": "invalid_arguments", "message": "'arguments' must be a JSON object", "retryable": False}}
    assert fake.calls == []


async def test_the_fake_can_refuse_a_tools_arguments(fake: FakeInterceptor) -> None:
    fake.refuse_arguments("read_inbox", "argument 'limit': Input should be a valid integer")
    async with client_for(fake) as client:
        with pytest.raises(InvalidArguments) as info:
            await client.call_tool("read_inbox", {"limit": "x"})
    assert str(info.value) == "the tool refused the arguments: invalid arguments: argument 'limit': Input should be a valid integer"


async def test_the_interceptor_publishes_no_security_class() -> None:
    fake = FakeInterceptor(tools=[{"name": "read_inbox", "description": "", "input_schema": {"type": "object"}}], api_key="k")
    async with SentinelClient(api_key="k", base_url="http://s.test", transport=fake.transport) as client:
        (tool,) = await client.list_tools()
        (langchain_tool,) = await client.get_langchain_tools()
    assert tool.security_class is None and langchain_tool.metadata == {"sentinel_class": None}


@pytest.mark.parametrize(("url", "shown"), [
    ("http://sentinel:8000/api/team@corp", "http://sentinel:8000/api/team@corp"),  # no credentials: unchanged
    ("http://u:p@sentinel:8000/api/team@corp", "http://***@sentinel:8000/api/team@corp"),
    ("https://u:p%40ss@host/x?to=a@b", "https://***@host/x?to=a@b"),
])
def test_only_the_userinfo_of_the_base_url_is_redacted(url: str, shown: str) -> None:
    from sentinel_sdk._client import _redacted

    assert _redacted(url) == shown
