"""The MCP front door: any MCP client calls the governed tools at ``/mcp``.

Streamable HTTP with JSON answers (never server-sent events: Sentinel sends the
client no request and no notification), for both revisions the official SDK
speaks (docs/mcp-clients.md):

    2025-11-25   ``initialize`` answers an ``Mcp-Session-Id``; every later request
                 carries it; ``DELETE /mcp`` ends it. The MCP session is the
                 Sentinel session (its id is the session id), so any replica
                 serves it: the session lives in the state store.
    2026-07-28   no handshake and no protocol session: each request carries its
                 version in ``params._meta`` (checked against the
                 ``MCP-Protocol-Version``, ``Mcp-Method`` and ``Mcp-Name`` headers
                 by the SDK's own ladder), and the Sentinel session in the
                 ``X-Sentinel-Session`` header the application set.

Sentinel's session outlives the protocol's. A request that names no session,
or an ended one, is refused; it never runs in a fresh, clean session, where an
injected write would land with no taint recorded. Under either revision the
application may name a session it opened (``POST /session/start``) in
``X-Sentinel-Session``: ``initialize`` then adopts it, and ``DELETE`` leaves it
open (the application ends what it opened). The model never chooses a session:
headers are set by the code that builds the client.

``tools/call`` is the agent API's call (``routes.govern_call``): the same
bounds, decision, taint, audit and signing. A denial or a hold is a tool
result with ``isError`` whose text names the rule (and the approval id), so the
model can read it; every other refusal is a JSON-RPC error carrying Sentinel's
code in ``error.data.code``, at the HTTP status the agent API gives it.

Why not the SDK's server: its session manager keeps sessions in one process
(any replica must serve any request here), and it costs 412 µs (2025-11-25) and
218 µs (2026-07-28) of CPU per request before any tool work, against the 0.3 ms
this door may add (docs/performance.md, "MCP front door"). The SDK's types,
version registry and 2026-07-28 envelope checks are used as they are.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import mcp_types
import orjson
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    unsupported_protocol_version_rejection,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS

import sentinel_http
from interceptor.config import KeyHolder, Project
from interceptor.errors import BodyTooLarge, InterceptorError, PolicyDenied, SessionNotFound, ToolServerError
from interceptor.projects import agent_tools, session_agent
from interceptor.routes import agent_name, govern_call, read_limited, refuse_duplicate_keys
from interceptor.runtime import Runtime
from sentinel_http import Receive, Scope, Send
from sentinel_policy import could_allow

__all__ = ["AGENT_HEADER", "SESSION_HEADER", "SUPPORTED_VERSIONS", "serve_mcp"]

_log = logging.getLogger("sentinel.interceptor")

SESSION_HEADER = "x-sentinel-session"  # the Sentinel session the application works in
AGENT_HEADER = "x-sentinel-agent"  # the agent an initialize-opened session is for (``agent:`` conditions)
_MCP_SESSION = "mcp-session-id"
_VERSION_HEADER = "mcp-protocol-version"
# Newest first: what server/discover advertises and an unsupported version is told.
SUPPORTED_VERSIONS: tuple[str, ...] = (*reversed(MODERN_PROTOCOL_VERSIONS), *reversed(HANDSHAKE_PROTOCOL_VERSIONS))
# The headers this door reads, each of which must come once (two readers could take different copies).
_READ = {name.encode(): name for name in (
    "authorization", "x-sentinel-key", SESSION_HEADER, AGENT_HEADER, _MCP_SESSION, _VERSION_HEADER,
    "mcp-method", "mcp-name", "content-length", "origin",
)}
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
MAX_REQUEST_ID_CHARS = 128  # as the tool server: an id is echoed in every answer, so it is bounded
_META = "_meta"

# Sentinel's refusals as JSON-RPC codes, by the HTTP status the agent API gives them (error.data.code says which).
_RPC_CODES = {400: mcp_types.INVALID_PARAMS, 413: mcp_types.INVALID_PARAMS, 401: -32001, 403: -32003, 404: -32004,
              409: -32009, 429: -32029}
SERVER_ERROR = -32000


class McpRefusal(Exception):
    """One JSON-RPC error answer: its code, message, HTTP status and data."""

    def __init__(self, code: int, message: str, *, status: int = 400, data: Any = None,
                 headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.data, self.headers = code, message, status, data, headers


def _invalid(message: str, sentinel_code: str, *, status: int = 400) -> McpRefusal:
    return McpRefusal(mcp_types.INVALID_REQUEST, message, status=status, data={"code": sentinel_code})


def _of(exc: InterceptorError) -> McpRefusal:
    """An agent-API refusal as the same refusal in JSON-RPC."""
    message = exc.message
    headers = exc.headers
    if exc.status == 401:
        message = "missing or invalid API key (Authorization: Bearer KEY, or X-Sentinel-Key)"
        headers = ((b"www-authenticate", b'Bearer realm="sentinel"'),)
    data = {"code": exc.code, "retryable": exc.retryable, **exc.extra}
    return McpRefusal(_RPC_CODES.get(exc.status, SERVER_ERROR), message, status=exc.status, data=data, headers=headers)


@dataclass(frozen=True, slots=True)
class _Request:
    runtime: Runtime
    caller: KeyHolder  # the key's project, and the agent it is bound to
    headers: dict[str, str]
    params: dict[str, Any]
    version: str
    started: float

    @property
    def project(self) -> Project:
        return self.caller.project

    @property
    def modern(self) -> bool:
        return self.version in MODERN_PROTOCOL_VERSIONS


_Answer = tuple[dict[str, Any], tuple[tuple[bytes, bytes], ...]]


async def serve_mcp(runtime: Runtime, scope: Scope, receive: Receive, send: Send) -> None:
    """Every request to ``/mcp``, as raw ASGI (``interceptor.app`` dispatches here before FastAPI)."""
    started = time.perf_counter()
    message_id: Any = None
    try:
        headers = _headers(scope)
        _check_origin(runtime, headers)
        method = scope["method"]
        if method == "POST":
            caller, message = await _read_message(runtime, headers, receive)
            if "id" not in message:
                await _send(send, 202, b"", ())  # a notification: accepted, nothing to answer
                return
            message_id = message["id"]
            result, extra = await _dispatch(runtime, caller, headers, message, started)
            try:
                payload = orjson.dumps({"jsonrpc": "2.0", "id": message_id, "result": result})
            except orjson.JSONEncodeError:  # a result nested past what the encoder writes (it ran: say so)
                raise ToolServerError("the tool's result cannot be passed on: it is nested too deeply",
                                      code="tool_result_unreadable", retryable=False) from None
            await _send(send, 200, payload, extra)
        elif method == "DELETE":
            await _end(runtime, headers)
            await _send(send, 204, b"", ())
        else:
            raise McpRefusal(mcp_types.INVALID_REQUEST, "this endpoint takes POST (a message) and DELETE (end the "
                             "MCP session); it opens no server stream", status=405,
                             data={"code": "method_not_allowed"}, headers=((b"allow", b"POST, DELETE"),))
    except sentinel_http.ClientDisconnected:
        return
    except McpRefusal as refusal:
        await _send_error(send, message_id, refusal)
    except InterceptorError as exc:
        await _send_error(send, message_id, _of(exc))
    except Exception:
        # Fail closed with a fixed message: internals never reach the client.
        _log.exception("MCP request failed unexpectedly")
        await _send_error(send, message_id, McpRefusal(mcp_types.INTERNAL_ERROR, "internal error", status=500))


def _headers(scope: Scope) -> dict[str, str]:
    """The headers this door reads (``_READ``), decoded; the others are left as bytes, unread."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = _READ.get(raw_name.lower())
        if name is None:
            continue
        if name in headers:
            raise _invalid(f"the header {name} is given twice", "duplicate_header")
        headers[name] = raw_value.decode("latin-1")
    return headers


def _check_origin(runtime: Runtime, headers: dict[str, str]) -> None:
    """A browser page must not drive the door through a user's network (DNS rebinding): Origin is allow-listed."""
    origin = headers.get("origin")
    if origin is not None and origin not in runtime.settings.mcp_allowed_origin_list():
        raise _invalid("requests from this Origin are refused (SENTINEL_MCP_ALLOWED_ORIGINS)", "origin_refused",
                       status=403)


def _api_key(headers: dict[str, str]) -> str | None:
    key = headers.get("x-sentinel-key")
    authorization = headers.get("authorization")
    if authorization is None:
        return key
    scheme, _, bearer = authorization.partition(" ")
    bearer = bearer.strip()
    if scheme.lower() != "bearer" or not bearer or (key is not None and key != bearer):
        return None  # a wrong scheme or two different keys: refused as a missing key is
    return bearer


async def _read_message(runtime: Runtime, headers: dict[str, str], receive: Receive) -> tuple[KeyHolder, dict[str, Any]]:
    """The caller's key holder and its one JSON-RPC message, checked down to its envelope."""
    limit = runtime.settings.max_body_bytes
    declared = headers.get("content-length")
    try:
        sentinel_http.check_declared(declared, limit)  # refused before the key is even looked up
    except sentinel_http.BodyTooLarge:
        raise BodyTooLarge(f"the message is larger than {limit} bytes") from None
    except sentinel_http.BadContentLength:
        raise _invalid("the Content-Length header is not a number", "invalid_body") from None
    caller = await runtime.directory.authenticate(_api_key(headers))
    raw = await read_limited(receive, declared, limit)
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise McpRefusal(mcp_types.PARSE_ERROR, "the body is not valid JSON", data={"code": "invalid_json"}) from None
    if isinstance(message, list):
        raise _invalid("a batch is not accepted: send one JSON-RPC message per request (MCP 2025-06-18 and later)",
                       "batch_refused")
    if not isinstance(message, dict):
        raise _invalid("the body must be one JSON-RPC message (an object)", "invalid_body")
    try:
        refuse_duplicate_keys(raw, message)
    except InterceptorError as exc:
        raise _invalid(exc.message, exc.code) from None
    _check_envelope(message)
    return caller, message


def _check_envelope(message: dict[str, Any]) -> None:
    if message.get("jsonrpc") != "2.0":
        raise _invalid("'jsonrpc' must be \"2.0\"", "invalid_message")
    method = message.get("method")
    if not isinstance(method, str):
        if "result" in message or "error" in message:
            raise _invalid("this server sends no requests, so it takes no responses", "invalid_message")
        raise _invalid("'method' must be a string", "invalid_message")
    if "id" in message:
        request_id = message["id"]
        if isinstance(request_id, bool) or not isinstance(request_id, (str, int)):
            raise _invalid("'id' must be a string or an integer", "invalid_message")
        if isinstance(request_id, str) and len(request_id) > MAX_REQUEST_ID_CHARS:  # refused, never echoed
            raise _invalid(f"'id' is longer than {MAX_REQUEST_ID_CHARS} characters", "invalid_message")
        if method.startswith("notifications/"):
            raise _invalid(f"{method} is a notification: it takes no 'id'", "invalid_message")
    params = message.get("params")
    if params is not None and not isinstance(params, dict):
        raise McpRefusal(mcp_types.INVALID_PARAMS, "'params' must be an object", data={"code": "invalid_params"})


def _version(message: dict[str, Any], headers: dict[str, str]) -> str:
    """The revision this message speaks: the SDK's ladder checks a 2026-07-28 envelope against its headers."""
    method = message["method"]
    header = headers.get(_VERSION_HEADER)
    if header is not None and header not in SUPPORTED_VERSIONS:
        rejection = unsupported_protocol_version_rejection(header, SUPPORTED_VERSIONS)
        assert rejection is not None
        raise McpRefusal(rejection.code, rejection.message, data=rejection.data)
    if method == "initialize":
        return LATEST_HANDSHAKE_VERSION
    params = message.get("params") or {}
    meta = params.get(_META)
    enveloped = isinstance(meta, dict) and mcp_types.PROTOCOL_VERSION_META_KEY in meta
    if enveloped or method == "server/discover" or (header is not None and header in MODERN_PROTOCOL_VERSIONS):
        route = classify_inbound_request(message, headers=headers)
        if isinstance(route, InboundLadderRejection):
            raise McpRefusal(route.code, route.message, status=ERROR_CODE_HTTP_STATUS.get(route.code, 400),
                             data=route.data)
        return route.protocol_version
    return header or LATEST_HANDSHAKE_VERSION


async def _dispatch(
    runtime: Runtime, caller: KeyHolder, headers: dict[str, str], message: dict[str, Any], started: float
) -> _Answer:
    request = _Request(runtime, caller, headers, message.get("params") or {}, _version(message, headers), started)
    handler = _HANDLERS.get(message["method"])
    if handler is None or (message["method"] == "ping" and request.modern):  # ping is gone in 2026-07-28
        raise McpRefusal(mcp_types.METHOD_NOT_FOUND, "method not found: this server offers tools only",
                         status=404, data={"code": "method_not_found"})
    try:
        return await handler(request)
    except InterceptorError as exc:
        raise _of(exc) from None


def _session_id(request: _Request) -> str:
    """The Sentinel session this request works in; refused when it names none."""
    named = request.headers.get(SESSION_HEADER)
    if request.modern:
        if named is None:
            raise _invalid(
                "this request names no Sentinel session: the application sets the X-Sentinel-Session header to a "
                "session it opened (POST /session/start); a call never runs in a fresh session",
                "session_required",
            )
        return _well_formed(named)
    mcp_session = request.headers.get(_MCP_SESSION)
    if mcp_session is None:
        raise _invalid("this request carries no Mcp-Session-Id: send initialize first", "not_initialized")
    if named is not None and named != mcp_session:
        raise _invalid("Mcp-Session-Id and X-Sentinel-Session name different sessions", "session_mismatch")
    return _well_formed(mcp_session)


def _well_formed(sid: str) -> str:
    if not _SESSION_ID.fullmatch(sid):
        raise SessionNotFound()
    return sid


async def _initialize(request: _Request) -> _Answer:
    if _MCP_SESSION in request.headers:
        raise _invalid("this MCP session is initialized already; a new one starts without Mcp-Session-Id",
                       "already_initialized")
    runtime, project = request.runtime, request.project
    named = request.headers.get(SESSION_HEADER)
    if named is not None:
        session, _ = await runtime.sessions.resolve(_well_formed(named), project.name, agent=request.caller.agent)
    else:
        agent = session_agent(request.caller, agent_name(request.headers.get(AGENT_HEADER)))
        policy = runtime.directory.policy_for(project)  # a broken policy refuses sessions, not just calls
        await runtime.limiter.admit(policy, project, agent)
        session = await runtime.sessions.start(project.name, agent)
    wanted = request.params.get("protocolVersion")
    agreed = wanted if wanted in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
    return _initialize_result(agreed), ((_MCP_SESSION.encode(), session.sid.encode()),)


async def _ping(request: _Request) -> _Answer:
    return {}, ()


async def _discover(request: _Request) -> _Answer:
    return _discover_result(), ()


async def _list_tools(request: _Request) -> _Answer:
    runtime, project = request.runtime, request.project
    session, _ = await runtime.sessions.resolve(_session_id(request), project.name, agent=request.caller.agent)
    policy = runtime.directory.policy_for(project)
    tools = []
    for tool in agent_tools(project, await runtime.definitions.withheld(project)):
        name = tool["name"]
        if isinstance(name, str) and could_allow(policy, name, project=project.name, agent=session.agent):
            tools.append(_mcp_tool(name, tool["description"], tool["input_schema"]))
    result: dict[str, Any] = {"tools": [t for t in tools if t is not None]}
    if request.modern:
        result.update(ttlMs=0, cacheScope="private", resultType="complete")  # per session: never shared, never kept
    return result, ()


async def _call_tool(request: _Request) -> _Answer:
    params = request.params
    try:
        arguments = params.get("arguments")  # left out or null: none; anything else must be an object
        outcome = await govern_call(request.runtime, request.caller, _session_id(request), params.get("name"),
                                    {} if arguments is None else arguments, request.started)
    except PolicyDenied as denied:
        decision = {"effect": "deny", "rule": denied.rule, "reason": denied.reason}
        text = f"Sentinel denied this call (rule {denied.rule}): {denied.reason}. The tool did not run."
        return _tool_error(request, text, {"sentinel/decision": decision}), ()
    body = outcome.body
    if outcome.status == 202:
        approval = {"id": body["approval_id"], "status": "pending", "rule": body["rule"], "reason": body["reason"]}
        text = (f"Sentinel is holding this call for approval (approval id {body['approval_id']}, rule {body['rule']}):"
                f" {body['reason']}. The tool has not run; once a person approves it, make the same call again.")
        return _tool_error(request, text, {"sentinel/approval": approval}), ()
    result = dict(body["result"])
    meta = result.get(_META)
    result[_META] = {**(meta if isinstance(meta, dict) else {}), "sentinel/decision": body["decision"],
                     "sentinel/jti": body["jti"]}
    if request.modern:
        result["resultType"] = "complete"
    return result, ()


def _tool_error(request: _Request, text: str, meta: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": True, _META: meta}
    if request.modern:
        result["resultType"] = "complete"
    return result


_HANDLERS: dict[str, Callable[[_Request], Awaitable[_Answer]]] = {
    "initialize": _initialize,
    "ping": _ping,
    "server/discover": _discover,
    "tools/list": _list_tools,
    "tools/call": _call_tool,
}


async def _end(runtime: Runtime, headers: dict[str, str]) -> None:
    """``DELETE /mcp``: the MCP session ends, and with it the Sentinel session it opened."""
    caller = await runtime.directory.authenticate(_api_key(headers))
    mcp_session = headers.get(_MCP_SESSION)
    if mcp_session is None:
        raise _invalid("DELETE ends an MCP session: it needs the Mcp-Session-Id header", "not_initialized")
    sid = _well_formed(mcp_session)
    if headers.get(SESSION_HEADER) == sid:
        await runtime.sessions.resolve(sid, caller.project.name, agent=caller.agent)  # the application's: it ends it
        return
    await runtime.sessions.end(sid, caller.project.name, agent=caller.agent)


def _mcp_tool(name: str, description: Any, input_schema: Any) -> dict[str, Any] | None:
    """One catalogue entry as an MCP tool, checked by the SDK's model; None (and a log line) if it is not one."""
    try:
        tool = mcp_types.Tool(name=name, description=description or None, input_schema=input_schema)
    except ValueError:
        _log.warning("tool %s is left out of tools/list: its definition is not a valid MCP tool", name[:64])
        return None
    return tool.model_dump(by_alias=True, mode="json", exclude_none=True)


def _capabilities() -> mcp_types.ServerCapabilities:
    return mcp_types.ServerCapabilities(tools=mcp_types.ToolsCapability(list_changed=False))


@cache
def _server_info() -> mcp_types.Implementation:
    try:
        release = version("sentinel-tool-gateway")
    except PackageNotFoundError:
        release = "0"
    return mcp_types.Implementation(name="sentinel", version=release)


_INSTRUCTIONS = (
    "Every tool call here passes Sentinel's policy. A denied or held call comes back as an error result that "
    "names the rule; a held call runs only after a person approves it."
)


@cache
def _initialize_result(agreed: str) -> dict[str, Any]:
    result = mcp_types.InitializeResult(
        protocol_version=agreed, capabilities=_capabilities(), server_info=_server_info(), instructions=_INSTRUCTIONS
    )
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


@cache
def _discover_result() -> dict[str, Any]:
    result = mcp_types.DiscoverResult(
        supported_versions=list(SUPPORTED_VERSIONS), capabilities=_capabilities(), instructions=_INSTRUCTIONS,
        cache_scope="public",
    )
    answer = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    answer[_META] = {mcp_types.SERVER_INFO_META_KEY: _server_info().model_dump(by_alias=True, exclude_none=True)}
    return answer


async def _send(send: Send, status: int, payload: bytes, extra: tuple[tuple[bytes, bytes], ...]) -> None:
    headers = [(b"content-length", str(len(payload)).encode()), *extra]
    if payload:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _send_error(send: Send, message_id: Any, refusal: McpRefusal) -> None:
    error: dict[str, Any] = {"code": refusal.code, "message": refusal.message}
    if refusal.data is not None:
        error["data"] = refusal.data
    payload = orjson.dumps({"jsonrpc": "2.0", "id": message_id, "error": error})
    await _send(send, refusal.status, payload, refusal.headers)
