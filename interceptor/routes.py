"""The agent-facing HTTP API: thin handlers that parse, call the enforcer, and answer.

    POST /session/start          -> 200 {"session_id", "expires_at", "tools"[, "agent"]}  body {} or {"agent": name}
    GET  /session/{id}/tools     -> 200 {"tools"}
    POST /session/{id}/call      -> 200 {"result", "decision": {"rule", "reason"}, "jti"}
                                    202 {"approval_id", "status": "pending", "rule", "reason"}
    POST /session/{id}/end       -> 200 {"session_id", "status": "ended", "revoked"}
    GET  /healthz                -> 200 {"status": "ok"}: liveness only, the process answers
    GET  /readyz                 -> 200 {"status": "ready", "checks", "not_ready": []}
                                    503 {"status": "not_ready", "checks", "not_ready": [names]} (readiness.py)

Nearly every request is a tool call, and FastAPI's middleware stack and request
wrappers cost more than its handler (docs/performance.md), so the call is
answered as raw ASGI: :func:`serve_call` answers straight from the scope, and
``interceptor.app`` dispatches to it before FastAPI. The same logic
(:func:`answer_call`) backs a plain Starlette route for anything the fast
dispatch does not take, and its answers are byte-for-byte those of the error
handlers below.

Errors are mapped once, here, from the InterceptorError tree to
``{"error": {"code", "message", ...}}``. Handlers must never decide policy
themselves (the enforcer does), never echo raw arguments or a tool name back in
an error, and never answer anything but a fixed message for an unexpected error.

A call is bounded here, before the enforcer looks anything up, decides or
audits: the tool name must follow MCP's rule (400 ``invalid_tool_name``), the
arguments must be at most ``SENTINEL_MAX_ARGUMENT_BYTES`` as compact JSON, and
the request forwarded to the tool server at most ``SENTINEL_MAX_BODY_BYTES``
(413 ``arguments_too_large``): the interceptor never decides a call it could
not forward, as long as the tool server's own limit is at least its own.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

import sentinel_http
from interceptor.calls import CallOutcome
from interceptor.config import KeyHolder
from interceptor.errors import (
    BadRequest,
    BodyTooLarge,
    InterceptorError,
    NotFound,
    ToolServerError,
)
from interceptor.forwarding import forwarded_size
from interceptor.projects import agent_tools, session_agent
from interceptor.runtime import Runtime
from sentinel_contract import (
    READINESS_PATH,
    SESSION_APPROVAL_PATH,
    SESSION_CALL_PATH,
    SESSION_END_PATH,
    SESSION_START_PATH,
    SESSION_TOOLS_PATH,
    TOOL_NAME_RULE,
    is_tool_name,
)
from sentinel_http import Receive, Scope, Send

__all__ = [
    "CALL_PATH",
    "agent_name",
    "call_route",
    "govern_call",
    "install_error_handlers",
    "quoted",
    "read_limited",
    "refuse_duplicate_keys",
    "router",
    "serve_call",
]

CALL_PATH = re.compile(re.escape(SESSION_CALL_PATH).replace(re.escape("{sid}"), "([^/]+)"))  # {sid}: one segment

_log = logging.getLogger("sentinel.interceptor")
_CALL_HEADERS = (b"x-sentinel-key", b"content-length")

router = APIRouter()


# The fields each request body takes (docs/architecture.md, "Agent API").
_START_FIELDS = frozenset({"agent"})
_CALL_FIELDS = frozenset({"tool", "arguments"})


def _json(body: Any, status: int = 200) -> Response:
    return Response(content=orjson.dumps(body), status_code=status, media_type="application/json")


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _parse_object(raw: bytes, *, required: bool, fields: frozenset[str]) -> dict[str, Any]:
    """A request body that must be a JSON object of ``fields`` (``{}`` when empty and not required).

    Refused with 400, the key named: a field the route does not take (a typo such as
    ``agnet`` would otherwise be ignored in silence), and a key given twice anywhere in
    the body (readers disagree on which one wins; the last one would, unseen).
    """
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
    unknown = sorted(set(body) - fields)
    if unknown:
        raise BadRequest(f"unknown field {quoted(unknown[0])}; this request takes {', '.join(sorted(fields))}",
                         code="unknown_field")
    refuse_duplicate_keys(raw, body)
    return body


def refuse_duplicate_keys(raw: bytes, parsed: Any) -> None:
    """400 ``duplicate_key`` for a JSON text (``parsed`` is what orjson read of it) that gives a key twice
    at any depth."""
    # orjson keeps the last of two equal keys; repeated_key finds every one, at any depth.
    try:
        repeated = sentinel_http.repeated_key(raw, parsed)
    except RecursionError:
        raise BadRequest("'arguments' is nested too deeply", code="invalid_arguments") from None
    if repeated is not None:
        raise BadRequest(f"the key {quoted(repeated)} is given twice", code="duplicate_key")


def quoted(name: str) -> str:
    """A caller's key, safe to echo: clipped, and escaped as JSON."""
    return orjson.dumps(name[:64] + ("…" if len(name) > 64 else "")).decode()


def _zone_error(exc: sentinel_http.BodyTooLarge | sentinel_http.BadContentLength) -> InterceptorError:
    """``sentinel_http``'s body errors as this zone's answers: the one place they are mapped."""
    if isinstance(exc, sentinel_http.BodyTooLarge):
        return BodyTooLarge(str(exc))
    return BadRequest("the Content-Length header is not a number", code="invalid_body")


async def read_limited(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The whole body, never past ``limit`` bytes (ClientDisconnected if the client leaves first)."""
    try:
        return await sentinel_http.read_body(receive, declared, limit)
    except (sentinel_http.BodyTooLarge, sentinel_http.BadContentLength) as exc:
        raise _zone_error(exc) from None


async def _read_object(request: Request, limit: int, *, required: bool, fields: frozenset[str]) -> dict[str, Any]:
    raw = await read_limited(request.receive, request.headers.get("content-length"), limit)
    return _parse_object(raw, required=required, fields=fields)


@router.get("/healthz")
async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})  # liveness: no dependency is asked (that is /readyz)


@router.get(READINESS_PATH)
async def readyz(request: Request) -> Response:
    report = await _runtime(request).readiness.report()
    return _json(report.body(), 200 if report.ready else 503)


@router.post(SESSION_START_PATH)
async def start_session(request: Request) -> Response:
    runtime = _runtime(request)
    caller = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    project = caller.project
    body = await _read_object(request, runtime.settings.max_body_bytes, required=False, fields=_START_FIELDS)
    agent = session_agent(caller, agent_name(body.get("agent")))  # an agent-bound key: its agent, or 403
    policy = runtime.directory.policy_for(project)  # a broken policy refuses sessions, not just calls
    await runtime.limiter.admit(policy, project, agent)
    session = await runtime.sessions.start(project.name, agent)
    expires_at = datetime.fromtimestamp(session.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    tools = agent_tools(project, await runtime.definitions.withheld(project))
    answer = {"session_id": session.sid, "expires_at": expires_at, "tools": tools}
    if agent is not None:
        answer["agent"] = agent
    return _json(answer)


_AGENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,127}")


def agent_name(value: Any) -> str | None:
    """The agent the application declares for the session (``agent:`` conditions match it), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _AGENT.fullmatch(value):
        raise BadRequest(
            "'agent' must be 1-128 characters: letters, digits and . _ : @ + / - (not first)", code="invalid_agent"
        )
    return value


@router.get(SESSION_TOOLS_PATH)
async def list_tools(sid: str, request: Request) -> Response:
    runtime = _runtime(request)
    caller = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    project = caller.project
    await runtime.sessions.resolve(sid, project.name, agent=caller.agent)
    return _json({"tools": agent_tools(project, await runtime.definitions.withheld(project))})


async def answer_call(
    runtime: Runtime, sid: str, api_key: str | None, declared: str | None, receive: Receive
) -> tuple[int, bytes]:
    """Status and JSON body for one call; InterceptorError for every refusal."""
    started = time.perf_counter()
    limit = runtime.settings.max_body_bytes
    try:
        sentinel_http.check_declared(declared, limit)  # refused before the key is even looked up
    except (sentinel_http.BodyTooLarge, sentinel_http.BadContentLength) as exc:
        raise _zone_error(exc) from None
    caller = await runtime.directory.authenticate(api_key)
    body = _parse_object(await read_limited(receive, declared, limit), required=True, fields=_CALL_FIELDS)
    outcome = await govern_call(runtime, caller, sid, body.get("tool"), body.get("arguments", {}), started)
    try:
        return outcome.status, orjson.dumps(outcome.body)
    except orjson.JSONEncodeError:  # a result nested past what the encoder writes (it ran; say so plainly)
        raise ToolServerError(
            "the tool's result cannot be passed on: it is nested too deeply", code="tool_result_unreadable",
            retryable=False,
        ) from None


async def govern_call(
    runtime: Runtime, caller: KeyHolder, sid: str, tool: Any, arguments: Any, started: float
) -> CallOutcome:
    """One call of either front door (this API or ``/mcp``), bounded, then decided and run by the enforcer."""
    if not isinstance(tool, str) or not tool:
        raise BadRequest("'tool' must be a non-empty string", code="invalid_body")
    if not is_tool_name(tool):  # never quoted: the name may be a megabyte of anything
        raise BadRequest(f"'tool' must be a tool name of {TOOL_NAME_RULE}", code="invalid_tool_name")
    if not isinstance(arguments, dict):
        raise BadRequest("'arguments' must be a JSON object", code="invalid_arguments")
    limit = runtime.settings.max_body_bytes
    # Re-serialised once: the same JSON value is hashed, signed and forwarded.
    try:
        arguments_json = orjson.dumps(arguments)
    except orjson.JSONEncodeError:  # parsed, but nested past what can be written back
        raise BadRequest("'arguments' is nested too deeply", code="invalid_arguments") from None
    settings = runtime.settings
    if len(arguments_json) > settings.max_argument_bytes:
        raise BodyTooLarge(
            f"'arguments' is larger than {settings.max_argument_bytes} bytes as JSON", code="arguments_too_large"
        )
    if forwarded_size(tool, arguments_json) > limit:
        raise BodyTooLarge(
            f"the call would be larger than {limit} bytes as forwarded to the tool server", code="arguments_too_large"
        )
    return await runtime.enforcer.call(caller, sid, tool, arguments, arguments_json, started)


async def serve_call(runtime: Runtime, sid: str, scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /session/{sid}/call`` as raw ASGI: what ``interceptor.app`` dispatches to before FastAPI."""
    api_key, declared = sentinel_http.first_headers(scope, _CALL_HEADERS)
    try:
        status, payload = await answer_call(runtime, sid, api_key, declared, receive)
    except InterceptorError as exc:
        await sentinel_http.send_json(send, exc.status, orjson.dumps(exc.to_body()), exc.headers)
        return
    except sentinel_http.ClientDisconnected:
        return
    except Exception:
        # Fail closed with a fixed message: internals never reach the agent.
        _log.exception("tool call failed unexpectedly")
        status, payload = 500, orjson.dumps(InterceptorError("internal error").to_body())
    await sentinel_http.send_json(send, status, payload)


async def call_tool(request: Request) -> Response:
    # Reached only for what interceptor.app does not send to serve_call first.
    status, payload = await answer_call(
        _runtime(request),
        request.path_params["sid"],
        request.headers.get("x-sentinel-key"),
        request.headers.get("content-length"),
        request.receive,
    )
    return Response(content=payload, status_code=status, media_type="application/json")


call_route = Route(SESSION_CALL_PATH, call_tool, methods=["POST"])


@router.get(SESSION_APPROVAL_PATH)
async def approval_status(sid: str, approval_id: str, request: Request) -> Response:
    """Where a held call stands, for the agent that made it (the SDK waits on this)."""
    runtime = _runtime(request)
    caller = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    await runtime.sessions.resolve(sid, caller.project.name, agent=caller.agent)
    approval = await runtime.approvals.get(approval_id)
    if approval.sid != sid:
        raise NotFound("no such approval (unknown, or its session ended)", code="approval_not_found")
    view = runtime.approvals.view(approval)
    return _json({key: view[key] for key in ("approval_id", "status", "tool", "rule", "reason", "expires_at",
                                              "decided_by", "note")})


@router.post(SESSION_END_PATH)
async def end_session(sid: str, request: Request) -> Response:
    runtime = _runtime(request)
    caller = await runtime.directory.authenticate(request.headers.get("x-sentinel-key"))
    revoked = await runtime.sessions.end(sid, caller.project.name, agent=caller.agent)
    return _json({"session_id": sid, "status": "ended", "revoked": revoked})


def install_error_handlers(app: FastAPI) -> None:
    async def on_interceptor_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InterceptorError)
        response = _json(exc.to_body(), exc.status)
        for name, value in exc.headers:
            response.headers[name.decode()] = value.decode()
        return response

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
