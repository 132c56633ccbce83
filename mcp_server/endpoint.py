"""``POST /rpc``, the tool server's hot path, answered straight from the ASGI scope; and
the one bounded body reader every route uses.

Every governed call ends here, and FastAPI's middleware stack and Starlette's
request/response wrappers cost more CPU than the handler they wrap
(docs/performance.md). :func:`serve_rpc` reads the two headers it needs from
the scope, the body from ``receive``, and writes the answer as one body message;
``mcp_server.app`` routes ``POST /rpc`` to it before FastAPI. The Starlette
route for ``/rpc`` (anything the fast dispatch does not take) answers through
the same :func:`answer_rpc`, so both give the same bytes.

Answers: HTTP 200 with a JSON-RPC body for every outcome (see
:mod:`mcp_server.rpc`), an oversized body included: refused from a declared
Content-Length before any of it is read, else cut off as soon as it passes the
limit. A client that goes away mid-body gets nothing, and nothing is executed
or audited. An unexpected failure answers a fixed ``internal_error``.

It must never run a tool or check a token itself (:class:`~mcp_server.rpc.RpcService`
does, guard first), never read a body past the limit, and never put an
exception's text in an answer. The only record it writes is the one
``rejected`` line for a body it refused.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import ClientDisconnect

from mcp_server.errors import McpError, ProtocolError
from mcp_server.registry import is_request_cancelled
from mcp_server.rpc import error_response

if TYPE_CHECKING:
    from mcp_server.routes import Runtime

__all__ = ["RPC_PATH", "answer_rpc", "read_body", "serve_rpc"]

RPC_PATH = "/rpc"

_log = logging.getLogger("mcp_server")
_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = b"application/json"
_INTERNAL_ERROR = orjson.dumps(error_response(None, McpError("internal_error", "internal error")))


def _too_large(limit: int) -> ProtocolError:
    return ProtocolError("payload_too_large", f"the body exceeds {limit} bytes", http_status=413)


async def read_body(receive: _Receive, declared: str | None, limit: int) -> bytes:
    """The whole body from ASGI ``receive``, refusing anything over ``limit`` bytes without reading it all.

    ``declared`` is the request's Content-Length header (the first one), if any:
    a declared size over the limit is refused before a byte is read; without it,
    or when it lies, the body is cut off as soon as it passes the limit. A
    client that disconnects first raises ClientDisconnect, as Starlette's
    ``Request.stream()`` does. (A loop over ``receive`` rather than an async
    iterator: the iterator cost a microsecond a request, for a single chunk.)
    """
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ProtocolError("invalid_request", "bad Content-Length") from None
        if too_big:
            raise _too_large(limit)
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


async def answer_rpc(runtime: Runtime, authorization: str | None, declared: str | None, receive: _Receive) -> bytes:
    """The JSON-RPC answer to one ``POST /rpc``, serialised; ClientDisconnect if the client left mid-body."""
    try:
        body = await read_body(receive, declared, runtime.max_body_bytes)
    except McpError as exc:
        runtime.audit.record("rejected", exc.code, method=None)
        return orjson.dumps(error_response(None, exc))
    return orjson.dumps(await runtime.service.handle(body, authorization))


async def serve_rpc(runtime: Runtime, scope: _Scope, receive: _Receive, send: _Send) -> None:
    """Answer one ``POST /rpc`` as raw ASGI: one start message, one body message."""
    authorization: str | None = None
    declared: str | None = None
    # The first of each header, as Starlette's Headers.get() reads them.
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"content-length" and declared is None:
            declared = value.decode("latin-1")
    try:
        payload = await answer_rpc(runtime, authorization, declared, receive)
    except ClientDisconnect:
        return  # nobody to answer; nothing was executed
    except BaseException as exc:
        if is_request_cancelled(exc):
            raise
        # Fail closed with a fixed message: no exception text reaches the caller.
        _log.error("/rpc failed unexpectedly", exc_info=exc)
        payload = _INTERNAL_ERROR
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(payload)).encode()), (b"content-type", _JSON)],
        }
    )
    await send({"type": "http.response.body", "body": payload})
