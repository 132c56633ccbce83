"""The interceptor's side of the wire to the tool server (Zone C).

Session registration and revocation, and the signed ``tools/call`` JSON-RPC
request, over one pooled long-lived httpx.AsyncClient. Every exchange is
bounded by ``timeout`` in total (not only per socket operation). It must never
send a call that was not signed, and never alter the arguments between hashing
and sending: the body carries exactly the JSON value that was hashed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson

from interceptor.errors import ToolServerError, ToolServerTimeout

__all__ = ["ToolServerClient"]


class ToolServerClient:
    def __init__(self, base_url: str, timeout: float, client: httpx.AsyncClient | None = None) -> None:
        self._timeout = timeout
        self._owned = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )
        self._base = base_url.rstrip("/")

    async def close(self) -> None:
        if self._owned:
            await self._client.aclose()

    async def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        headers = {"content-type": "application/json", **headers}
        try:
            async with asyncio.timeout(self._timeout):
                return await self._client.request(method, self._base + path, content=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ToolServerTimeout("the tool server did not answer in time") from exc
        except httpx.ConnectError as exc:  # nothing was sent: safe to retry
            raise ToolServerError("the tool server is unreachable", code="tool_server_unreachable") from exc
        except httpx.HTTPError as exc:  # the request may have arrived and run
            raise ToolServerError(
                "the connection to the tool server broke", code="tool_server_unreachable", retryable=False
            ) from exc

    async def register(self, token: str) -> None:
        response = await self._send("POST", "/sessions", orjson.dumps({"token": token}), {})
        if response.status_code >= 300:
            raise ToolServerError("the tool server refused the session", code="registration_refused")

    async def revoke(self, sid: str, token: str) -> None:
        response = await self._send("DELETE", f"/sessions/{sid}", orjson.dumps({"token": token}), {})
        if response.status_code >= 300 and response.status_code != 404:
            raise ToolServerError("the tool server refused the revocation", code="revocation_refused")

    async def call_tool(self, token: str, request_id: str, tool: str, arguments_json: bytes) -> dict[str, Any]:
        """Forward one signed call; the tool server's CallToolResult, unchanged.

        ``arguments_json`` is spliced in as sent by the agent (after validation),
        so the tool server hashes the very value the token was signed over.
        """
        head = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": tool}})
        # head ends with "}}"; insert the arguments before the params' closing brace.
        body = head[:-2] + b',"arguments":' + arguments_json + b"}}"
        response = await self._send("POST", "/rpc", body, {"authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise ToolServerError(
                f"the tool server answered HTTP {response.status_code}", code="tool_server_error", retryable=False
            )
        try:
            reply = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise ToolServerError("the tool server answered invalid JSON", code="tool_server_error", retryable=False) from exc
        if not isinstance(reply, dict):
            raise ToolServerError("the tool server answered invalid JSON-RPC", code="tool_server_error", retryable=False)
        error = reply.get("error")
        if error is not None:
            message = error.get("message", "") if isinstance(error, dict) else ""
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
