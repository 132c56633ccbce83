"""The interceptor's side of the wire to the tool server (Zone C).

Session registration and revocation, and the signed ``tools/call`` JSON-RPC
request, over ONE pooled long-lived client, and the one place where what
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
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import httpx
import orjson

import sentinel_http
from interceptor.errors import (
    BadRequest,
    SettingsError,
    ToolServerError,
    ToolServerTimeout,
)
from sentinel_contract import REGISTRATION_PATH, REVOCATION_PATH, RPC_PATH

__all__ = ["ToolServerClient"]

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

    async def close(self) -> None:
        await self._transport.close()

    async def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        headers = {"content-type": "application/json", **headers}
        return await self._transport.send(method, path, body, headers)

    async def register(self, token: str) -> None:
        status, _ = await self._send("POST", REGISTRATION_PATH, orjson.dumps({"token": token}), {})
        if status >= 300:
            raise ToolServerError("the tool server refused the session", code="registration_refused")

    async def revoke(self, sid: str, token: str) -> None:
        status, _ = await self._send("DELETE", REVOCATION_PATH.format(sid=sid), orjson.dumps({"token": token}), {})
        if status >= 300 and status != 404:
            raise ToolServerError("the tool server refused the revocation", code="revocation_refused")

    async def call_tool(self, token: str, request_id: str, tool: str, arguments_json: bytes) -> dict[str, Any]:
        """Forward one signed call; the tool server's CallToolResult, unchanged.

        ``arguments_json`` is spliced in as sent by the agent (after validation),
        so the tool server hashes the very value the token was signed over.
        """
        head = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": tool}})
        # head ends with "}}"; insert the arguments before the params' closing brace.
        body = head[:-2] + b',"arguments":' + arguments_json + b"}}"
        status, content = await self._send("POST", RPC_PATH, body, {"authorization": f"Bearer {token}"})
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
        return result
