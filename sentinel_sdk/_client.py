"""The async client an agent (Zone A) uses to call its tools through Sentinel.

It holds an API key and the interceptor's address, nothing else: it never
learns where the tool server is and never signs anything. It must never send
the API key anywhere but the configured interceptor (redirects are not
followed), never put it in a message or repr, never retry a denial, and never
start a replacement session behind the caller's back (a fresh session has no
taint, so that is the caller's decision). The key must not reach a traceback
either: a transport error whose text could quote a request header is reported
by its type name, never chained.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from sentinel_sdk import _bridge
from sentinel_sdk._arguments import checked_arguments
from sentinel_sdk._exceptions import (
    ApprovalDenied,
    ApprovalRequired,
    AuthenticationError,
    ProtocolError,
    SentinelError,
    SentinelUnavailable,
    SessionExpired,
    ToolError,
)
from sentinel_sdk._models import SessionInfo, ToolCallResult, ToolDefinition, parse_tools
from sentinel_sdk._responses import check_status, is_retryable, marked_not_retryable, read_json
from sentinel_sdk._retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool

T = TypeVar("T")
DEFAULT_URL = "http://localhost:8000"
USER_AGENT = "sentinel-sdk/0.1"
logger = logging.getLogger("sentinel_sdk")
_sleep = asyncio.sleep  # module-level so tests can record the waits instead of waiting

# Failures where the request provably never reached the interceptor, so a retry
# cannot run a tool twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Visible ASCII and inner spaces: what an HTTP header value can carry (h11 refuses the rest, quoting it).
_HEADER_SAFE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")


def _api_key(api_key: str | None) -> str:
    key = (api_key if api_key is not None else os.environ.get("SENTINEL_API_KEY", "")).strip()
    if not key:
        raise AuthenticationError("no API key: pass api_key= or set SENTINEL_API_KEY", code="missing_api_key")
    if not _HEADER_SAFE.fullmatch(key):
        raise AuthenticationError(
            "the API key contains a character an HTTP header cannot carry (a control character or non-ASCII): "
            "check api_key= or SENTINEL_API_KEY",
            code="invalid_api_key",
        )
    return key


def _redacted(url: str) -> str:
    """``url`` without the credentials of ``scheme://user:password@host``: the userinfo of the
    authority only (up to its last ``@``), never an ``@`` in the path, query or fragment."""
    return re.sub(r"://[^/?#]*@", "://***@", url, count=1)


class SentinelClient:
    """One agent session with the Sentinel interceptor.

    ``async with SentinelClient() as client`` starts a session (``POST
    /session/start``) and ends it on exit. ``api_key`` and ``base_url`` default
    to ``SENTINEL_API_KEY`` and ``SENTINEL_URL`` (``http://localhost:8000``).
    ``agent`` names who runs the session (policies' ``agent:`` conditions match
    it); it is fixed when the session starts, so nothing the model reads can change it.
    ``sync_call_timeout`` bounds how long a synchronous call from another thread
    (``tool.invoke``) waits for this client's event loop; by default every
    attempt's timeout plus the longest total backoff. ``base_url`` is kept with
    any ``user:password@`` replaced by ``***@``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        agent: str | None = None,
        sync_call_timeout: float | None = None,
    ) -> None:
        self._api_key = _api_key(api_key)
        url = (base_url or os.environ.get("SENTINEL_URL") or DEFAULT_URL).rstrip("/")
        self.base_url = _redacted(url)
        self.retry = retry or RetryPolicy()
        self.agent = agent
        self._http = httpx.AsyncClient(
            base_url=url,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        if sync_call_timeout is not None and not sync_call_timeout > 0:
            raise ValueError("sync_call_timeout must be a positive number of seconds")
        self.sync_call_timeout = sync_call_timeout or _bridge.default_bound(self._http.timeout, self.retry)
        self._session: SessionInfo | None = None
        self._tools: tuple[ToolDefinition, ...] | None = None
        self._ended = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # Set (under the lock) by close() or a failed start: no new call is handed to the loop after it.
        self._closed = False
        self._closing_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SentinelClient(base_url={self.base_url!r}, session_id={self.session_id!r})"

    # -- session lifecycle -------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session.session_id if self._session else None

    @property
    def expires_at(self) -> str | None:
        return self._session.expires_at if self._session else None

    async def __aenter__(self) -> SentinelClient:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> SessionInfo:
        """Start the session. Called by ``async with``; call it yourself otherwise."""
        if self._closed:
            raise _closed_error()
        if self._session is not None:
            raise SentinelError("this client already started a session", code="already_started")
        self._loop = asyncio.get_running_loop()
        try:
            response = await self._request("POST", "/session/start", json={} if self.agent is None else {"agent": self.agent})
            if response.status_code == 404:
                # Any 404 here, even one that looks like an unknown session: nothing at this URL starts sessions.
                raise SentinelError(
                    f"{self.base_url} answered 404 to POST /session/start: no Sentinel interceptor there "
                    f"(is {self.base_url} the Sentinel interceptor?)",
                    code="not_an_interceptor",
                    status=404,
                )
            body = read_json(check_status(response, self.base_url))
            self._session = SessionInfo.from_wire(body)
        except BaseException:
            self._mark_closed()
            await self._http.aclose()
            raise
        self._tools = self._session.tools
        return self._session

    async def close(self) -> None:
        """End the session (``POST /session/{id}/end``) and release the connection pool.

        Failing to end is logged, not raised: the session expires on its own, and
        an exception here would hide the one that made the caller leave.
        """
        self._mark_closed()
        try:
            if self._session is not None and not self._ended:
                self._ended = True
                try:
                    response = await self._request("POST", self._path("end"), json={})
                    if response.status_code not in (200, 204, 404):
                        check_status(response, self.base_url)
                except SentinelError as exc:
                    logger.warning("could not end Sentinel session %s: %s (%s)", self.session_id, exc, exc.code)
        finally:
            await self._http.aclose()

    # -- tools --------------------------------------------------------------

    async def list_tools(self, *, refresh: bool = False) -> list[ToolDefinition]:
        """The tools this session may call. Served from the session start unless ``refresh``."""
        if self._tools is None or refresh:
            response = await self._request("GET", self._path("tools"))
            body = read_json(check_status(response, self.base_url))
            if not isinstance(body, Mapping):
                raise ProtocolError("the tool list answer is not an object")
            self._tools = parse_tools(body.get("tools", []))
        return list(self._tools)

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, wait_for_approval: float | None = None
    ) -> Any:
        """Call a tool through Sentinel and return its output.

        Returns the tool's ``structuredContent`` when it returned JSON, otherwise
        its text parts joined by newlines. Raises ``PolicyDenied`` (.rule,
        .reason), ``ApprovalRequired`` (.approval_id), ``ToolError`` when the tool
        ran and failed, and the other ``SentinelError``s for transport problems.

        With ``wait_for_approval`` (seconds), a call the policy holds waits for a
        person's decision: approved, it is made again and runs (once); denied or
        expired raises ``ApprovalDenied``; still pending at the end raises
        ``ApprovalRequired``.
        """
        result = await self.call_tool_result(name, arguments, wait_for_approval=wait_for_approval)
        if result.is_error:
            raise ToolError(name, result.text)
        return result.value

    async def call_tool_result(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, wait_for_approval: float | None = None
    ) -> ToolCallResult:
        """Like ``call_tool`` but returns the whole answer (MCP content, decision rule and reason, jti)
        and does not raise when the tool itself reports an error."""
        try:
            return await self._call_once(name, arguments)
        except ApprovalRequired as held:
            if not wait_for_approval:
                raise
            await self._wait_for(held, wait_for_approval)
        return await self._call_once(name, arguments)  # approved: exactly this call, which now runs once

    async def _wait_for(self, held: ApprovalRequired, seconds: float) -> None:
        """Poll the held call's approval until a person decides; return when approved."""
        deadline = time.monotonic() + seconds
        delay = 0.25
        path = f"{self._path('approvals')}/{quote(held.approval_id, safe='')}"
        while True:
            body = read_json(check_status(await self._request("GET", path), self.base_url))
            status = body.get("status") if isinstance(body, Mapping) else None
            if status == "approved":
                return
            if status in ("denied", "expired", "used"):
                raise ApprovalDenied(held.approval_id, status=str(status), decided_by=body.get("decided_by"),
                                     note=body.get("note"))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise held
            await _sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)

    async def _call_once(self, name: str, arguments: Mapping[str, Any] | None) -> ToolCallResult:
        if not isinstance(name, str) or not name:
            raise ValueError("tool name must be a non-empty string")
        payload = {"tool": name, "arguments": checked_arguments(arguments)}
        response = await self._request("POST", self._path("call"), json=payload, runs_tool=True)
        if response.status_code == 202:
            body = read_json(response)
            body = body if isinstance(body, Mapping) else {}
            approval_id = body.get("approval_id")
            if not isinstance(approval_id, str):
                raise ProtocolError("an approval answer without approval_id", status=202)
            raise ApprovalRequired(
                approval_id,
                rule=str(body.get("rule") or ""),
                reason=str(body.get("reason") or ""),
                status=str(body.get("status") or "pending"),
            )
        return ToolCallResult.from_wire(name, read_json(check_status(response, self.base_url)))

    async def get_langchain_tools(
        self, *, on_denied: Literal["message", "raise"] = "message"
    ) -> list[StructuredTool]:
        """The session's tools as LangChain ``StructuredTool``s (sync ``func`` and async ``coroutine``).

        ``on_denied="message"`` hands a denial back to the model as the tool's
        output ("Sentinel blocked this call (rule ...): reason"), so one blocked
        action does not end the agent run; ``"raise"`` raises a ``ToolException``.
        """
        from sentinel_sdk._langchain import build_tools

        return build_tools(self, await self.list_tools(), on_denied=on_denied)

    # -- bridging for synchronous callers ----------------------------------

    def run_blocking(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one of this client's coroutines from a thread that is not its event loop's.

        Waits at most ``sync_call_timeout``, then raises ``SentinelError(code="sync_call_stalled")``.
        """
        loop = self._loop_for(coro)
        if _running_loop() is loop:
            coro.close()
            raise SentinelError(
                "a synchronous call from inside the client's event loop would deadlock; use the async API "
                "(await tool.ainvoke(...))",
                code="sync_in_event_loop",
            )
        with self._closing_lock:  # nothing is handed to the loop once close() began
            self._check_open(coro)
            future, handoff = _bridge.submit(coro, loop)
        return _bridge.wait_blocking(future, handoff, coro, self.sync_call_timeout, lambda: self._closed)

    async def run_on_own_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await one of this client's coroutines from any event loop (the HTTP pool belongs to one loop)."""
        if self._loop is None or _running_loop() is self._loop:
            return await coro
        loop = self._loop_for(coro)
        with self._closing_lock:
            self._check_open(coro)
            future, handoff = _bridge.submit(coro, loop)
        return await _bridge.wait_async(future, handoff, coro, self.sync_call_timeout, lambda: self._closed)

    def _loop_for(self, coro: Coroutine[Any, Any, Any]) -> asyncio.AbstractEventLoop:
        self._check_open(coro)
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            coro.close()
            if loop is None:
                raise SentinelError("no session: use `async with SentinelClient(...)` or call start()", code="not_started")
            raise SentinelError(
                "the event loop this client was started on is no longer running; start the client where its tools "
                "are called, or use SyncSentinelClient (its own loop thread) in synchronous code",
                code="loop_not_running",
            )
        return loop

    def _check_open(self, coro: Coroutine[Any, Any, Any]) -> None:
        if self._closed:
            coro.close()
            raise _closed_error()

    def _mark_closed(self) -> None:
        with self._closing_lock:
            self._closed = True

    # -- HTTP ---------------------------------------------------------------

    def _path(self, action: str) -> str:
        if self._session is None:
            if self._closed:
                raise _closed_error()
            raise SentinelError("no session: use `async with SentinelClient(...)` or call start()", code="not_started")
        if self._ended and action != "end":
            raise SessionExpired(
                "this client was closed and its session ended; start a new client to continue", code="session_ended"
            )
        return f"/session/{quote(self._session.session_id, safe='')}/{action}"

    async def _request(self, method: str, path: str, *, json: Any = None, runs_tool: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            if self._http.is_closed:
                raise _closed_error()
            broken: str | None = None
            try:
                response = await self._http.request(method, path, json=json, headers={"X-Sentinel-Key": self._api_key})
            except _NOT_SENT as exc:
                delay = self.retry.delay(attempt, None)
                if delay is None:
                    raise SentinelUnavailable(
                        f"cannot reach Sentinel at {self.base_url}: {type(exc).__name__}",
                        code="connection_failed",
                        retryable=True,  # it never left: nothing ran
                    ) from exc
                await _sleep(delay)
                continue
            except httpx.TimeoutException as exc:
                raise SentinelUnavailable(
                    f"Sentinel at {self.base_url} did not answer in time ({type(exc).__name__})", code="timeout"
                ) from exc
            except httpx.TransportError as exc:
                # Its text can quote the request's headers (h11 quotes an illegal header value): the type only.
                broken = type(exc).__name__
            if broken is not None:
                raise SentinelUnavailable(
                    f"connection to Sentinel at {self.base_url} failed: {broken}", code="connection_failed"
                )
            # A retried tool call is a new signed call (new jti): only when nothing can have run.
            # Anything else is retried unless the interceptor says a retry cannot help.
            if response.status_code in RETRYABLE_STATUSES and (
                is_retryable(response) if runs_tool else not marked_not_retryable(response)
            ):
                delay = self.retry.delay(attempt, parse_retry_after(response.headers.get("Retry-After")))
                if delay is not None:
                    logger.info("Sentinel answered %s; retrying in %.2fs", response.status_code, delay)
                    await _sleep(delay)
                    continue
            return response


def _closed_error() -> SentinelError:
    return SentinelError(
        "this client is closed (by close(), the end of `async with`, or a failed start); create a new client",
        code="client_closed",
    )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
