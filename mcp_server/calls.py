"""``POST /rpc``, the tool server's hot path: read the body, parse the JSON-RPC request,
check its call token, run the tool, answer, audit. Also the one bounded body reader
every route uses.

Every governed call ends here. :func:`serve_rpc` answers from the ASGI scope
(the framework around a handler costs more than the handler, see
docs/performance.md): it reads the two headers it needs from the scope, the
body from ``receive``, and writes the answer as one body message;
``mcp_server.app`` routes ``POST /rpc`` to it before FastAPI. The Starlette
route for ``/rpc`` (anything the fast dispatch does not take) answers through
the same :func:`answer_rpc`, so both give the same bytes.

HTTP status policy (decided): every answer is HTTP 200 with a JSON-RPC body,
including a missing ``Authorization`` header (-32001) and an oversized body
(-32006): refused from a declared Content-Length before any of it is read, else
cut off as soon as it passes the limit. Error objects carry a stable number
(see :mod:`mcp_server.errors`), a short message that leaks nothing, and
``data: {"reason": <code>}``. A client that goes away mid-body gets nothing, and
nothing is executed or audited. An unexpected failure answers a fixed
``internal_error``.

Methods: ``tools/list``, ``tools/call`` (MCP names and result shapes, via
``mcp_types``) and ``ping``. Batches and notifications are refused. The
envelope is checked by hand (:func:`parse_request`): it accepts exactly what
``mcp_types.JSONRPCRequest`` accepts (tests/unit/test_mcp_rpc_envelope.py
compares the two) without building a model per request.

A call token that pins the tool's definition (``tool_sha256``) is run only if
the tool source's live definition has that hash; otherwise it is refused as
``tool_definition_changed`` and nothing runs (docs/mcp-gateway.md, "Pin tool
definitions").

Each request leaves exactly one audit record. This module must never run a tool
before the guard has passed, never read a body past the limit, and never put an
exception's text in an answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import jwt
import mcp_types
import orjson
from opentelemetry.trace import use_span

import sentinel_http
from mcp_server import tracing
from mcp_server.errors import AuthError, DefinitionChanged, McpError, ProtocolError, StoreError
from mcp_server.registry import is_request_cancelled
from mcp_server.runtime import Runtime
from mcp_server.sources import ToolSource
from sentinel_contract import TOOL_NAME_RULE, is_tool_name
from sentinel_http import TRACEPARENT, Receive, Scope, Send

__all__ = ["answer_rpc", "error_response", "handle", "parse_request", "read_body", "serve_rpc", "serve_rpc_traced"]

_log = logging.getLogger("mcp_server.calls")
_HEADERS = (b"authorization", b"content-length")
_TRACEPARENT = (TRACEPARENT.encode(),)
# The interceptor's ids are 22-character jtis; a longer one is not echoed back (every answer carries it).
MAX_REQUEST_ID_CHARS = 128


def error_response(request_id: Any, exc: McpError) -> dict[str, Any]:
    if not isinstance(request_id, int | str) or isinstance(request_id, bool):
        request_id = None
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": exc.rpc_code, "message": exc.message, "data": {"reason": exc.code}},
    }


_INTERNAL_ERROR = orjson.dumps(error_response(None, McpError("internal error", code="internal_error")))


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The whole body, never past ``limit`` bytes; ``sentinel_http``'s errors mapped to this zone's, here only.

    A client that disconnects first raises ``sentinel_http.ClientDisconnected``.
    """
    try:
        return await sentinel_http.read_body(receive, declared, limit)
    except sentinel_http.BodyTooLarge:
        raise ProtocolError(f"the body exceeds {limit} bytes", code="payload_too_large", http_status=413) from None
    except sentinel_http.BadContentLength:
        raise ProtocolError("bad Content-Length", code="invalid_request") from None


async def answer_rpc(runtime: Runtime, authorization: str | None, declared: str | None, receive: Receive) -> bytes:
    """The JSON-RPC answer to one ``POST /rpc``, serialised; ClientDisconnected if the client left mid-body."""
    started = time.perf_counter()
    try:
        body = await read_body(receive, declared, runtime.max_body_bytes)
    except McpError as exc:
        # The body is refused unread, but the token is in a header: its jti joins this
        # record to the interceptor's decision (unverified, and marked so).
        jti, sid, tool = _peek(authorization)
        runtime.audit.record("rejected", exc.code, method=None, tool=tool, jti=jti, sid=sid, verified=False)
        runtime.metrics.rejected.inc()
        return orjson.dumps(error_response(None, exc))
    answer = orjson.dumps(await handle(runtime, body, authorization))
    runtime.metrics.duration.observe(time.perf_counter() - started)
    return answer


async def serve_rpc(runtime: Runtime, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one ``POST /rpc`` as raw ASGI: one start message, one body message."""
    authorization, declared = sentinel_http.first_headers(scope, _HEADERS)
    try:
        payload = await answer_rpc(runtime, authorization, declared, receive)
    except sentinel_http.ClientDisconnected:
        return  # nobody to answer; nothing was executed
    except BaseException as exc:
        if is_request_cancelled(exc):
            raise
        # Fail closed with a fixed message: no exception text reaches the caller.
        _log.error("/rpc failed unexpectedly", exc_info=exc)
        payload = _INTERNAL_ERROR
    await sentinel_http.send_json(send, 200, payload)


async def serve_rpc_traced(runtime: Runtime, scope: Scope, receive: Receive, send: Send) -> None:
    """:func:`serve_rpc` inside its span (tracing on), under the caller's ``traceparent`` if it sent one."""
    (traceparent,) = sentinel_http.first_headers(scope, _TRACEPARENT)
    with use_span(tracing.rpc_span(traceparent), end_on_exit=True):
        await serve_rpc(runtime, scope, receive, send)


async def handle(runtime: Runtime, body: bytes, authorization: str | None) -> dict[str, Any]:
    """One JSON-RPC response object for one request body: guard first, then the method."""
    audit, guard = runtime.audit, runtime.guard
    request_id: Any = None
    method: str | None = None
    tool: str | None = None
    claims = None
    try:
        request_id, method, params = parse_request(body)
        if isinstance(request_id, str) and len(request_id) > MAX_REQUEST_ID_CHARS:
            request_id = None  # echoed in every answer: refused, and not echoed
            raise ProtocolError(f"the request id is longer than {MAX_REQUEST_ID_CHARS} characters", code="invalid_request")
        tool, arguments = _binding(method, params)
        if method == "tools/call" and not is_tool_name(tool):
            # Before the guard and the registry; the record keeps it clipped, the answer never quotes it.
            raise ProtocolError(f"params.name must be a tool name of {TOOL_NAME_RULE}", code="invalid_tool_name")
        if guard is not None:
            claims = await guard.check(authorization, method=method, tool=tool, arguments=arguments)
        if claims is not None and claims.tool_sha256 is not None and method == "tools/call":
            await _check_pin(runtime.tools, tool, claims.tool_sha256)
        result = await _dispatch(runtime.tools, method, tool, arguments)
    except McpError as exc:
        jti, sid, _ = (claims.jti, claims.sid, None) if claims else _peek(authorization)
        audit.record("rejected", exc.code, method=method, tool=tool, jti=jti, sid=sid, verified=claims is not None)
        runtime.metrics.rejected.inc()
        if isinstance(exc, AuthError | DefinitionChanged | StoreError):
            runtime.metrics.verification_failed(exc.code)
        return error_response(request_id, exc)
    except BaseException as exc:
        # Anything but the cancellation of this request still gets its record and a
        # JSON-RPC answer (a tool's own failures never get here: they are results).
        if is_request_cancelled(exc):
            raise
        _log.error("unexpected failure handling %s", method, exc_info=exc)
        jti, sid, _ = (claims.jti, claims.sid, None) if claims else _peek(authorization)
        audit.record(
            "rejected", "internal_error", method=method, tool=tool, jti=jti, sid=sid, verified=claims is not None
        )
        runtime.metrics.rejected.inc()
        return error_response(request_id, McpError("internal error", code="internal_error"))
    reason = "ok" if guard is not None else "unverified"
    if isinstance(result, mcp_types.CallToolResult) and result.is_error:
        reason = "tool_error"
    audit.record(
        "executed", reason, method=method, tool=tool,
        jti=claims.jti if claims else None, sid=claims.sid if claims else None,
        verified=claims is not None,
    )
    runtime.metrics.executed.inc()
    payload = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    return {"jsonrpc": "2.0", "id": request_id, "result": payload}


async def _dispatch(tools: ToolSource, method: str, tool: str, arguments: Any) -> Any:
    if method == "tools/list":
        return mcp_types.ListToolsResult(tools=await tools.list_tools())
    if method == "ping":
        return mcp_types.EmptyResult()
    if method != "tools/call":
        raise ProtocolError("method not found", code="method_not_found")
    # The arguments the guard hashed, as they are: a registry validates them, an upstream gets them.
    return await tools.call_tool(tool, arguments)


async def _check_pin(tools: ToolSource, tool: str, pin: str) -> None:
    """The token pins the tool's definition: run it only if the live one is that definition."""
    live = await tools.definition_sha256(tool)
    if live is None:
        raise ProtocolError("unknown tool", code="unknown_tool")
    if live != pin:
        raise DefinitionChanged()


def parse_request(body: bytes) -> tuple[int | str, str, dict[str, Any] | None]:
    """``(id, method, params)`` of one JSON-RPC 2.0 request, or ProtocolError.

    Accepts exactly what ``mcp_types.JSONRPCRequest`` does (extra members
    ignored): ``jsonrpc`` the string "2.0", ``id`` an integer (not a boolean or
    a float) or a string, ``method`` a string, ``params`` an object, null or absent.
    """
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProtocolError("the body is not valid JSON", code="parse_error") from None
    if isinstance(message, list):
        raise ProtocolError("JSON-RPC batches are not accepted", code="batch_not_supported")
    if not isinstance(message, dict):
        raise ProtocolError("a JSON-RPC request must be an object", code="invalid_request")
    if "id" not in message and "method" in message:
        raise ProtocolError("notifications are not accepted; send an id", code="notification_not_supported")
    request_id = message.get("id")
    method = message.get("method")
    params = message.get("params")
    if (
        message.get("jsonrpc") != "2.0"
        or not (isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool)))
        or not isinstance(method, str)
        or not (params is None or isinstance(params, dict))
    ):
        raise ProtocolError("not a valid JSON-RPC 2.0 request", code="invalid_request")
    return request_id, method, params


def _binding(method: str, params: Mapping[str, Any] | None) -> tuple[str, Any]:
    """What the token must be bound to: (tool, arguments) for tools/call, else (method, params)."""
    if method != "tools/call":
        return method, dict(params) if params is not None else {}
    if params is None or not isinstance(params.get("name"), str):
        raise ProtocolError("tools/call needs params.name", code="invalid_params")
    arguments = params.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ProtocolError("params.arguments must be an object", code="invalid_params")
    return params["name"], arguments


def _peek(authorization: str | None) -> tuple[str | None, str | None, str | None]:
    """The unverified ``jti``, ``sid`` and ``tool`` claims, for the audit record of a refused request only."""
    if not authorization or len(authorization) > 8_200:
        return None, None, None
    try:
        claims = jwt.decode(authorization.partition(" ")[2].strip(), options={"verify_signature": False})
    except Exception:
        return None, None, None
    if not isinstance(claims, dict):
        return None, None, None
    return _text(claims.get("jti")), _text(claims.get("sid")), _text(claims.get("tool"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
