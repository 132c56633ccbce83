"""The agent-facing HTTP API: thin handlers that parse, call the enforcer, and answer.

    POST /session/start          -> 200 {"session_id", "expires_at", "tools"[, "agent"]}  body {} or {"agent": name}
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

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from interceptor.calls import answer_call, parse_object, read_limited
from interceptor.errors import BadRequest, InterceptorError, NotFound
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
    raw = await read_limited(request.stream(), request.headers.get("content-length"), limit)
    return parse_object(raw, required=required)


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    await _runtime(request).state.ping()
    return _json({"status": "ok"})


@router.post("/session/start")
async def start_session(request: Request) -> Response:
    runtime = _runtime(request)
    project = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    body = await _read_object(request, runtime.settings.max_body_bytes, required=False)
    agent = _agent(body.get("agent"))
    runtime.directory.policy_for(project)  # a broken policy refuses sessions, not just calls
    record = await runtime.sessions.start(project.name, agent)
    expires_at = datetime.fromtimestamp(record.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = {"session_id": record.sid, "expires_at": expires_at, "tools": agent_tools(project)}
    if agent is not None:
        answer["agent"] = agent
    return _json(answer)


_AGENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,127}")


def _agent(value: Any) -> str | None:
    """The agent the application declares for the session (``agent:`` conditions match it), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _AGENT.fullmatch(value):
        raise BadRequest(
            "'agent' must be 1-128 characters: letters, digits and . _ : @ + / - (not first)", code="invalid_agent"
        )
    return value


@router.get("/session/{sid}/tools")
async def list_tools(sid: str, request: Request) -> Response:
    runtime = _runtime(request)
    project = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    await runtime.sessions.resolve(sid, project.name)
    return _json({"tools": agent_tools(project)})


async def call_tool(request: Request) -> Response:
    # Reached only for what interceptor.app does not send to calls.serve_call first.
    status, payload = await answer_call(
        _runtime(request),
        request.path_params["sid"],
        request.headers.get("x-sentinel-key"),
        request.headers.get("content-length"),
        request.stream(),
    )
    return Response(content=payload, status_code=status, media_type="application/json")


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
