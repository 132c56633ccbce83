"""The agent-facing HTTP API: thin handlers that parse, call the enforcer, and answer.

    POST /session/start          -> 200 {"session_id", "expires_at", "tools"}
    GET  /session/{id}/tools     -> 200 {"tools"}
    POST /session/{id}/call      -> 200 {"result", "decision": {"rule", "reason"}, "jti"}
                                    202 {"approval_id", "status": "pending", "rule", "reason"}
    POST /session/{id}/end       -> 200 {"session_id", "status": "ended", "revoked"}
    GET  /healthz                -> 200 {"status": "ok"} (503 when the state store is down)

Errors are mapped once, here, from the InterceptorError tree to
``{"error": {"code", "message", ...}}``. Handlers must never decide policy
themselves and never echo raw arguments back in an error.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from interceptor.errors import BadRequest, BodyTooLarge, InterceptorError, NotFound
from interceptor.projects import agent_tools

if TYPE_CHECKING:
    from interceptor.app import Runtime

__all__ = ["call_route", "install_error_handlers", "router"]

router = APIRouter()


def _json(body: Any, status: int = 200) -> Response:
    return Response(content=orjson.dumps(body), status_code=status, media_type="application/json")


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def _read_object(request: Request, limit: int, *, required: bool) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a lying or absent Content-Length is cut off here
            raise BodyTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
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


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    await _runtime(request).state.ping()
    return _json({"status": "ok"})


@router.post("/session/start")
async def start_session(request: Request) -> Response:
    runtime = _runtime(request)
    project = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    await _read_object(request, runtime.settings.max_body_bytes, required=False)
    runtime.directory.policy_for(project)  # a broken policy refuses sessions, not just calls
    record = await runtime.sessions.start(project.name)
    expires_at = datetime.fromtimestamp(record.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _json({"session_id": record.sid, "expires_at": expires_at, "tools": agent_tools(project)})


@router.get("/session/{sid}/tools")
async def list_tools(sid: str, request: Request) -> Response:
    runtime = _runtime(request)
    project = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    await runtime.sessions.resolve(sid, project.name)
    return _json({"tools": agent_tools(project)})


async def call_tool(request: Request) -> Response:
    # The hot path: a plain Starlette route (see ``call_route``), not a FastAPI
    # one; FastAPI's parameter handling cost ~60 µs a call here, for nothing.
    started = time.perf_counter()
    sid: str = request.path_params["sid"]
    runtime = _runtime(request)
    limit = runtime.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    project = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    body = await _read_object(request, limit, required=True)
    tool = body.get("tool")
    if not isinstance(tool, str) or not tool:
        raise BadRequest("'tool' must be a non-empty string", code="invalid_body")
    arguments = body.get("arguments", {})
    if not isinstance(arguments, dict):
        raise BadRequest("'arguments' must be a JSON object", code="invalid_arguments")
    # Re-serialised once: the same JSON value is hashed, signed and forwarded.
    arguments_json = orjson.dumps(arguments)
    outcome = await runtime.enforcer.call(project, sid, tool, arguments, arguments_json, started)
    return _json(outcome.body, outcome.status)


call_route = Route("/session/{sid}/call", call_tool, methods=["POST"])


@router.post("/session/{sid}/end")
async def end_session(sid: str, request: Request) -> Response:
    runtime = _runtime(request)
    project = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    revoked = await runtime.sessions.end(sid, project.name)
    return _json({"session_id": sid, "status": "ended", "revoked": revoked})


def install_error_handlers(app: FastAPI) -> None:
    async def on_interceptor_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InterceptorError)
        return _json(exc.to_body(), exc.status)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            error: InterceptorError = NotFound("no such endpoint")
        else:
            error = InterceptorError(str(exc.detail), code="http_error")
        return _json(error.to_body(), exc.status_code)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # Fail closed with a fixed message: internals never reach the agent.
        return _json(InterceptorError("internal error").to_body(), 500)

    app.add_exception_handler(InterceptorError, on_interceptor_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
