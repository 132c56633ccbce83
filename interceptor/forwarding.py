"""The interceptor's side of the wire to the tool server (Zone C).

Session registration and revocation, the signed ``tools/call`` JSON-RPC request,
and the identity-signed ``tools/list`` (for ``interceptor.definitions``), over ONE
pooled long-lived client, and the one place where what
happened on the wire becomes an error the agent can act on (retry or not).
The default client is the small keep-alive HTTP/1.1 client in
``sentinel_http`` (asyncio Protocols + httptools): the forwarding hop is the
largest single cost of a governed call, and this client is the cheapest per
forwarded request of those measured (docs/performance.md). An injected
``httpx.AsyncClient`` (tests: a stub tool server in-process) is used as given.
Every exchange is bounded by ``timeout`` in total (not only per socket
operation). It must never send a call that was not signed, never alter the
arguments between hashing and sending (the body carries exactly the JSON value
that was hashed), and never mark an error retryable once bytes of the request
may have reached the tool server.

A tool server URL that answers, but not like a Sentinel tool server (a 404, a
page, a body of another shape), is a misconfiguration, not an outage: it is
502 ``tool_server_misconfigured``, never retryable, and logged for the
operator (at most once a minute).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Protocol

import httpx
import orjson

import sentinel_http
from interceptor.errors import (
    BadRequest,
    SettingsError,
    ToolDefinitionChanged,
    ToolServerError,
    ToolServerTimeout,
)
from sentinel_contract import READINESS_PATH, REGISTRATION_PATH, REVOCATION_PATH, RPC_PATH, TOOL_SERVER_SERVICE

__all__ = ["MISCONFIGURED", "ToolServerClient", "forwarded_size"]

MISCONFIGURED = "MCP_UPSTREAM_URL does not answer like a Sentinel tool server"
# The JSON-RPC id of a forwarded call is its jti: sentinel_contract's secrets.token_urlsafe(16).
_REQUEST_ID_CHARS = 22
_REFUSAL_CODE = re.compile(r"[a-z_]{1,64}")
_GATEWAY_DOWN = frozenset({502, 503, 504})

_log = logging.getLogger("sentinel.interceptor")

# Below uvicorn's keep-alive (5 s): a pooled connection is dropped here before
# the server closes it, so a POST is never written into a socket being closed.
_KEEPALIVE_SECONDS = 4.0


def _unreachable(exc: Exception) -> ToolServerError:
    # Nothing was sent: safe to retry.
    return ToolServerError("the tool server is unreachable", code="tool_server_unreachable")


def _broken(exc: Exception) -> ToolServerError:
    # The request may have arrived and run: never retried.
    return ToolServerError("the connection to the tool server broke", code="tool_server_unreachable", retryable=False)


def _garbage(message: str) -> ToolServerError:
    # It answered, so the call may have run: never retried.
    return ToolServerError(message, code="tool_server_error", retryable=False)


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _refusal_code(body: dict[str, Any] | None) -> str | None:
    """The code of a Sentinel tool server's refusal (``{"error": {"code", "message"}}``), else None."""
    error = body.get("error") if body is not None else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) and _REFUSAL_CODE.fullmatch(code) else None


def _call_body(request_id: str, tool: str, arguments_json: bytes) -> bytes:
    """The JSON-RPC request of one call; ``arguments_json`` spliced in as it was hashed."""
    head = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": tool}})
    # head ends with "}}"; insert the arguments before the params' closing brace.
    return head[:-2] + b',"arguments":' + arguments_json + b"}}"


def forwarded_size(tool: str, arguments_json: bytes) -> int:
    """The exact size of the body ``call_tool`` sends for this call (the tool server's limit applies to it)."""
    return len(_call_body("x" * _REQUEST_ID_CHARS, tool, b"")) + len(arguments_json)


class _Transport(Protocol):
    async def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]: ...

    async def close(self) -> None: ...


class _HttpxTransport:
    def __init__(self, client: httpx.AsyncClient, base_url: str, owned: bool, timeout: float) -> None:
        self._client = client
        self._base = base_url
        self._owned = owned
        self._timeout = timeout

    async def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            # In total, whatever the injected client's own settings (or transport) do.
            async with asyncio.timeout(self._timeout):
                response = await self._client.request(method, self._base + path, content=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ToolServerTimeout("the tool server did not answer in time") from exc
        except httpx.ConnectError as exc:
            raise _unreachable(exc) from exc
        except httpx.HTTPError as exc:
            raise _broken(exc) from exc
        return response.status_code, response.content

    async def close(self) -> None:
        if self._owned:
            await self._client.aclose()


class _KeepAliveTransport:
    """The default: ``sentinel_http.KeepAliveClient``, bound to the running loop on first use."""

    def __init__(self, base_url: str, timeout: float) -> None:
        try:
            self._client = sentinel_http.KeepAliveClient(base_url, timeout, keepalive=_KEEPALIVE_SECONDS)
        except ValueError as exc:
            raise SettingsError(f"bad tool server URL: {exc}") from exc

    async def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            return await self._client.request(method, path, body, headers)
        except sentinel_http.ExchangeTimeout as exc:
            raise ToolServerTimeout("the tool server did not answer in time") from exc
        except sentinel_http.ConnectFailed as exc:
            raise _unreachable(exc) from exc
        except sentinel_http.ResponseTooLarge as exc:
            raise _garbage("the tool server's answer is too large") from exc
        except sentinel_http.MalformedResponse as exc:
            raise _garbage("the tool server answered malformed HTTP") from exc
        except sentinel_http.ExchangeFailed as exc:
            raise _broken(exc) from exc

    async def close(self) -> None:
        await self._client.close()


class ToolServerClient:
    def __init__(self, base_url: str, timeout: float, client: httpx.AsyncClient | None = None) -> None:
        base = base_url.rstrip("/")
        self._transport: _Transport = (
            _HttpxTransport(client, base, owned=False, timeout=timeout)
            if client is not None
            else _KeepAliveTransport(base, timeout)
        )
        self._throttle = sentinel_http.LogThrottle()

    def _misconfigured(self, detail: str) -> ToolServerError:
        # Another server behind the URL will not change its mind on a retry: say so, once a minute to the log.
        if self._throttle.allow("misconfigured"):
            _log.error("%s: it answered %s", MISCONFIGURED, detail)
        return ToolServerError(MISCONFIGURED, code="tool_server_misconfigured", retryable=False)

    def _not_sentinel(self, status: int, detail: str) -> ToolServerError:
        if status in _GATEWAY_DOWN:  # a proxy in front of a tool server that is down: an outage, it passes
            return ToolServerError("the tool server is unavailable", code="tool_server_unreachable")
        return self._misconfigured(detail)

    async def close(self) -> None:
        await self._transport.close()

    async def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        headers = {"content-type": "application/json", **headers}
        return await self._transport.send(method, path, body, headers)

    async def register(self, token: str, sid: str) -> None:
        """Register the session's key; a Sentinel tool server answers 201/200 naming ``sid``."""
        status, content = await self._send("POST", REGISTRATION_PATH, orjson.dumps({"token": token}), {})
        body = _json_object(content)
        if 200 <= status < 300:
            if body is None or body.get("sid") != sid:
                raise self._misconfigured(f"HTTP {status} to POST {REGISTRATION_PATH} without the session it registers")
            return
        code = _refusal_code(body)
        if code is None:
            raise self._not_sentinel(status, f"HTTP {status} to POST {REGISTRATION_PATH}")
        # A Sentinel tool server said no. Its own store being down (5xx) passes; a refused
        # signer or a conflict does not, so those are not worth the agent's retries.
        if self._throttle.allow("refused"):
            _log.warning("session.start: the tool server refused a registration: HTTP %s %s", status, code)
        raise ToolServerError("the tool server refused the session", code="registration_refused", retryable=status >= 500)

    async def probe(self) -> tuple[int, dict[str, Any]]:
        """The tool server's ``GET /readyz``: (200 or 503, its report); ToolServerError if it answers like none."""
        status, content = await self._send("GET", READINESS_PATH, b"", {})
        body = _json_object(content)
        if status not in (200, 503) or body is None or body.get("service") != TOOL_SERVER_SERVICE:
            raise self._not_sentinel(status, f"HTTP {status} to GET {READINESS_PATH}")
        return status, body

    async def revoke(self, sid: str, token: str) -> None:
        status, _ = await self._send("DELETE", REVOCATION_PATH.format(sid=sid), orjson.dumps({"token": token}), {})
        if status >= 300 and status != 404:
            raise ToolServerError("the tool server refused the revocation", code="revocation_refused")

    async def list_tools(self, token: str) -> list[dict[str, Any]]:
        """The tool server's ``tools/list`` (``token``: signed by the identity key for that method); its tools."""
        body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
        status, content = await self._send("POST", RPC_PATH, body, {"authorization": f"Bearer {token}"})
        reply = _json_object(content)
        if status != 200 or reply is None:
            raise self._not_sentinel(status, f"HTTP {status} to tools/list")
        result = reply.get("result")
        tools = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
            error = reply.get("error")
            if isinstance(error, dict):
                raise ToolServerError("the tool server refused tools/list", code="tool_server_rejected", retryable=False)
            raise self._misconfigured("a tools/list answer without a list of tools")
        return tools

    async def call_tool(self, token: str, request_id: str, tool: str, arguments_json: bytes) -> dict[str, Any]:
        """Forward one signed call; the tool server's CallToolResult, unchanged."""
        return (await self.forward_call(token, request_id, tool, arguments_json))[0]

    async def forward_call(
        self, token: str, request_id: str, tool: str, arguments_json: bytes, trace_headers: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], int]:
        """Forward one signed call; the tool server's CallToolResult, unchanged, and the size of its answer.

        ``arguments_json`` is spliced in as sent by the agent (after validation),
        so the tool server hashes the very value the token was signed over. ``trace_headers`` carry
        the trace context (``traceparent``) when tracing is on.
        """
        body = _call_body(request_id, tool, arguments_json)
        headers = {"authorization": f"Bearer {token}"}
        if trace_headers:
            headers.update(trace_headers)
        status, content = await self._send("POST", RPC_PATH, body, headers)
        if status != 200:
            raise ToolServerError(f"the tool server answered HTTP {status}", code="tool_server_error", retryable=False)
        try:
            reply = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise ToolServerError("the tool server answered invalid JSON", code="tool_server_error", retryable=False) from exc
        if not isinstance(reply, dict):
            raise ToolServerError("the tool server answered invalid JSON-RPC", code="tool_server_error", retryable=False)
        error = reply.get("error")
        if error is not None:
            message = error.get("message", "") if isinstance(error, dict) else ""
            data = error.get("data") if isinstance(error, dict) else None
            if isinstance(data, dict) and data.get("reason") == "tool_definition_changed":
                raise ToolDefinitionChanged()  # refused before it ran: nothing was executed
            if isinstance(data, dict) and data.get("reason") == "invalid_params":
                # The tool's own schema refused the arguments before it ran: the agent's mistake,
                # which it can correct (the tool server names the argument, never its value).
                raise BadRequest(f"the tool refused the arguments: {str(message)[:300]}", code="invalid_arguments")
            raise ToolServerError(
                f"the tool server refused the call: {str(message)[:200]}",
                code="tool_server_rejected",
                retryable=False,
                upstream_code=error.get("code") if isinstance(error, dict) else None,
            )
        result = reply.get("result")
        if not isinstance(result, dict):
            raise ToolServerError("the tool server answered without a result", code="tool_server_error", retryable=False)
        return result, len(content)
