"""``POST /session/{sid}/call``, the hot path, served as raw ASGI.

Nearly every request an interceptor sees is a tool call, and measured here the
framework around the handler (FastAPI's middleware stack and Starlette's
request/response wrappers) cost about a quarter of the interceptor's CPU per
call. :func:`serve_call` answers the call straight from the ASGI scope;
``interceptor.app`` routes to it before FastAPI, and the same logic
(:func:`answer_call`) also backs a plain Starlette route for anything the fast
dispatch does not take. The answers are byte-for-byte those of the error
handlers in ``interceptor.routes``.

It must never decide policy itself (the enforcer does), never echo raw
arguments back, and never answer anything but a fixed message for an
unexpected error.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import orjson

from interceptor.errors import BadRequest, BodyTooLarge, InterceptorError, ToolServerError

if TYPE_CHECKING:
    from interceptor.app import Runtime

__all__ = ["CALL_PATH", "answer_call", "parse_object", "read_limited", "serve_call"]

CALL_PATH = re.compile(r"/session/([^/]+)/call")  # Starlette's {sid}: one path segment

_log = logging.getLogger("sentinel.interceptor")
_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def parse_object(raw: bytes, *, required: bool) -> dict[str, Any]:
    """A request body that must be a JSON object (``{}`` when empty and not required)."""
    if not raw.strip():
        if required:
            raise BadRequest("a JSON object body is required", code="invalid_body")
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_body")
    return body


def _too_large(declared: str | None, limit: int) -> bool:
    return declared is not None and declared.isdigit() and int(declared) > limit


async def read_limited(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """The whole body, refused with 413 past ``limit`` bytes, declared or not."""
    if _too_large(declared, limit):
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:  # a lying or absent Content-Length is cut off here
            raise BodyTooLarge(f"the body is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def answer_call(
    runtime: Runtime, sid: str, api_key: str | None, declared: str | None, chunks: AsyncIterator[bytes]
) -> tuple[int, bytes]:
    """Status and JSON body for one call; InterceptorError for every refusal."""
    started = time.perf_counter()
    limit = runtime.settings.max_body_bytes
    if _too_large(declared, limit):
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    project = await runtime.directory.authenticate(api_key)
    body = parse_object(await read_limited(chunks, declared, limit), required=True)
    tool = body.get("tool")
    if not isinstance(tool, str) or not tool:
        raise BadRequest("'tool' must be a non-empty string", code="invalid_body")
    arguments = body.get("arguments", {})
    if not isinstance(arguments, dict):
        raise BadRequest("'arguments' must be a JSON object", code="invalid_arguments")
    # Re-serialised once: the same JSON value is hashed, signed and forwarded.
    try:
        arguments_json = orjson.dumps(arguments)
    except orjson.JSONEncodeError:  # parsed, but nested past what can be written back
        raise BadRequest("'arguments' is nested too deeply", code="invalid_arguments") from None
    outcome = await runtime.enforcer.call(project, sid, tool, arguments, arguments_json, started)
    try:
        return outcome.status, orjson.dumps(outcome.body)
    except orjson.JSONEncodeError:  # a result nested past what the encoder writes (it ran; say so plainly)
        raise ToolServerError(
            "the tool's result cannot be passed on: it is nested too deeply", code="tool_result_unreadable",
            retryable=False,
        ) from None


class _Disconnected(Exception):
    """The client went away before sending its whole body: nothing to answer."""


async def _body(receive: _Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def serve_call(runtime: Runtime, sid: str, scope: _Scope, receive: _Receive, send: _Send) -> None:
    api_key: str | None = None
    declared: str | None = None
    for name, value in scope["headers"]:
        if name == b"x-sentinel-key":
            if api_key is None:
                api_key = value.decode("latin-1")
        elif name == b"content-length" and declared is None:
            declared = value.decode("latin-1")
    try:
        status, payload = await answer_call(runtime, sid, api_key, declared, _body(receive))
    except InterceptorError as exc:
        status, payload = exc.status, orjson.dumps(exc.to_body())
    except _Disconnected:
        return
    except Exception:
        # Fail closed with a fixed message: internals never reach the agent.
        _log.exception("tool call failed unexpectedly")
        status, payload = 500, orjson.dumps(InterceptorError("internal error").to_body())
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(payload)).encode()), (b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})
