"""JSON-RPC 2.0 over one POST: parse, authenticate, dispatch, answer, audit.

HTTP status policy (decided): every answer of ``/rpc`` is HTTP 200 with a
JSON-RPC body, including a missing ``Authorization`` header (-32001) and an
oversized body (-32006); only a transport-level failure is anything else.
Error objects carry a stable number (see :mod:`mcp_server.errors`), a short
message that leaks nothing, and ``data: {"reason": <code>}``.

Methods: ``tools/list``, ``tools/call`` (MCP names and result shapes, via
``mcp_types``) and ``ping``. Batches and notifications are refused. The
envelope is checked by hand (:func:`parse_request`): it accepts exactly what
``mcp_types.JSONRPCRequest`` accepts (tests/unit/test_mcp_rpc_envelope.py
compares the two), for a fraction of the cost.

Each request leaves exactly one audit record; a refused request executes
nothing. This module must never run a tool before the guard has passed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import jwt
import mcp_types
import orjson

from mcp_server.audit import AuditLog
from mcp_server.errors import McpError, ProtocolError
from mcp_server.guard import CallGuard
from mcp_server.registry import ToolRegistry, is_request_cancelled

__all__ = ["RpcService", "error_response", "parse_request"]

_log = logging.getLogger("mcp_server.rpc")
_METHODS = frozenset({"tools/list", "tools/call", "ping"})


class RpcService:
    def __init__(self, registry: ToolRegistry, guard: CallGuard | None, audit: AuditLog) -> None:
        self.registry = registry
        self.guard = guard  # None: verification off (benchmarks only)
        self.audit = audit

    async def handle(self, body: bytes, authorization: str | None) -> dict[str, Any]:
        """One JSON-RPC response object for one request body."""
        request_id: Any = None
        method: str | None = None
        tool: str | None = None
        claims = None
        try:
            request_id, method, params = parse_request(body)
            tool, arguments = _binding(method, params)
            if self.guard is not None:
                claims = await self.guard.check(authorization, method=method, tool=tool, arguments=arguments)
            result = await self._dispatch(method, params, tool, arguments)
        except McpError as exc:
            self.audit.record(
                "rejected", exc.code, method=method, tool=tool,
                jti=claims.jti if claims else _peek(authorization, "jti"),
                sid=claims.sid if claims else _peek(authorization, "sid"),
                verified=claims is not None,
            )
            return error_response(request_id, exc)
        except BaseException as exc:
            # Anything but the cancellation of this request still gets its record and a
            # JSON-RPC answer (a tool's own failures never get here: they are results).
            if is_request_cancelled(exc):
                raise
            _log.error("unexpected failure handling %s", method, exc_info=exc)
            self.audit.record(
                "rejected", "internal_error", method=method, tool=tool,
                jti=claims.jti if claims else None, sid=claims.sid if claims else None,
                verified=claims is not None,
            )
            return error_response(request_id, McpError("internal_error", "internal error"))
        reason = "ok" if self.guard is not None else "unverified"
        if isinstance(result, mcp_types.CallToolResult) and result.is_error:
            reason = "tool_error"
        self.audit.record(
            "executed", reason, method=method, tool=tool,
            jti=claims.jti if claims else None, sid=claims.sid if claims else None,
            verified=claims is not None,
        )
        payload = result.model_dump(by_alias=True, exclude_none=True, mode="json")
        return {"jsonrpc": "2.0", "id": request_id, "result": payload}

    async def _dispatch(self, method: str, params: Mapping[str, Any] | None, tool: str, arguments: Any) -> Any:
        if method == "tools/list":
            return self.registry.list_result()
        if method == "ping":
            return mcp_types.EmptyResult()
        if method != "tools/call":
            raise ProtocolError("method_not_found", "method not found")
        registered = self.registry.get(tool)
        if registered is None:
            raise ProtocolError("unknown_tool", "unknown tool")
        kwargs = registered.validate(arguments)
        return await registered.invoke(kwargs)


def parse_request(body: bytes) -> tuple[int | str, str, dict[str, Any] | None]:
    """``(id, method, params)`` of one JSON-RPC 2.0 request, or ProtocolError.

    Accepts exactly what ``mcp_types.JSONRPCRequest`` does (extra members
    ignored): ``jsonrpc`` the string "2.0", ``id`` an integer (not a boolean or
    a float) or a string, ``method`` a string, ``params`` an object, null or absent.
    """
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProtocolError("parse_error", "the body is not valid JSON") from None
    if isinstance(message, list):
        raise ProtocolError("batch_not_supported", "JSON-RPC batches are not accepted")
    if not isinstance(message, dict):
        raise ProtocolError("invalid_request", "a JSON-RPC request must be an object")
    if "id" not in message and "method" in message:
        raise ProtocolError("notification_not_supported", "notifications are not accepted; send an id")
    request_id = message.get("id")
    method = message.get("method")
    params = message.get("params")
    if (
        message.get("jsonrpc") != "2.0"
        or not (isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool)))
        or not isinstance(method, str)
        or not (params is None or isinstance(params, dict))
    ):
        raise ProtocolError("invalid_request", "not a valid JSON-RPC 2.0 request")
    return request_id, method, params


def _binding(method: str, params: Mapping[str, Any] | None) -> tuple[str, Any]:
    """What the token must be bound to: (tool, arguments) for tools/call, else (method, params)."""
    if method != "tools/call":
        return method, dict(params) if params is not None else {}
    if params is None or not isinstance(params.get("name"), str):
        raise ProtocolError("invalid_params", "tools/call needs params.name")
    arguments = params.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ProtocolError("invalid_params", "params.arguments must be an object")
    return params["name"], arguments


def error_response(request_id: Any, exc: McpError) -> dict[str, Any]:
    if not isinstance(request_id, int | str) or isinstance(request_id, bool):
        request_id = None
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": exc.rpc_code, "message": exc.message, "data": {"reason": exc.code}},
    }


def _peek(authorization: str | None, claim: str) -> str | None:
    """An unverified claim, for the audit record of a refused request only."""
    if not authorization or len(authorization) > 8_200:
        return None
    try:
        value = jwt.decode(authorization.partition(" ")[2].strip(), options={"verify_signature": False}).get(claim)
    except Exception:
        return None
    return value if isinstance(value, str) else None
