"""An in-memory stand-in for the interceptor's agent API, for testing code that uses the SDK.

    fake = FakeInterceptor(tools=[{"name": "read_inbox", ...}], api_key="k")
    fake.deny("send_email", rule="no-exfil", reason="session is tainted")
    async with SentinelClient(api_key="k", transport=fake.transport) as client: ...

It speaks the wire shapes of the agent API (docs/architecture.md, "Wire contracts", "Agent API"),
with the real interceptor's bodies for the answers it imitates (a tool not in
``tools`` is denied by rule ``unknown_tool``; arguments that are not an object
are 400 ``invalid_arguments``), and nothing more: it enforces no real policy and
must never be used as one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["FakeInterceptor", "RecordedCall"]

ToolHandler = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class RecordedCall:
    session_id: str
    tool: str
    arguments: Mapping[str, Any]


@dataclass
class FakeInterceptor:
    tools: list[dict[str, Any]] = field(default_factory=list)
    api_key: str = "test-key"
    requests: list[httpx.Request] = field(default_factory=list)
    calls: list[RecordedCall] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    _handlers: dict[str, ToolHandler] = field(default_factory=dict)
    _verdicts: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _queued: list[httpx.Response] = field(default_factory=list)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- scripting -----------------------------------------------------------

    def on(self, tool: str, handler: ToolHandler) -> None:
        """``handler(arguments)`` returns a full MCP CallToolResult dict, or a value (str -> text, else JSON)."""
        self._handlers[tool] = handler

    def deny(self, tool: str, *, rule: str, reason: str) -> None:
        self._verdicts[tool] = (403, _denial(rule, reason))

    def refuse_arguments(self, tool: str, problem: str) -> None:
        """Answer calls of ``tool`` as when its schema refuses the arguments, e.g. ``"missing argument 'path'"``."""
        message = f"the tool refused the arguments: invalid arguments: {problem}"
        self._verdicts[tool] = (400, {"error": {"code": "invalid_arguments", "message": message, "retryable": False}})

    def require_approval(self, tool: str, *, rule: str, reason: str, approval_id: str = "appr-1") -> None:
        self._verdicts[tool] = (202, {"approval_id": approval_id, "status": "pending", "rule": rule, "reason": reason})

    def queue(self, *responses: httpx.Response) -> None:
        """Answer the next requests (any path) with these, in order, before normal handling resumes."""
        self._queued.extend(responses)

    # -- the API -------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._queued:
            return self._queued.pop(0)
        if request.headers.get("X-Sentinel-Key") != self.api_key:
            # the interceptor's one 401 answer
            return _json(401, _error("unauthorized", "missing or invalid X-Sentinel-Key"))
        parts = request.url.path.strip("/").split("/")
        if parts == ["session", "start"] and request.method == "POST":
            sid = uuid.uuid4().hex
            self.started.append(sid)
            return _json(200, {"session_id": sid, "expires_at": "2099-01-01T00:00:00Z", "tools": self.tools})
        if len(parts) != 3 or parts[0] != "session":
            return _json(404, _error("not_found", "no such endpoint"))
        sid, action = parts[1], parts[2]
        if sid not in self.started or sid in self.ended:
            return _json(404, _error("session_not_found", "no such session (unknown, expired or ended)"))
        if action == "end" and request.method == "POST":
            self.ended.append(sid)
            return _json(200, {"session_id": sid, "ended": True})
        if action == "tools" and request.method == "GET":
            return _json(200, {"tools": self.tools})
        if action == "call" and request.method == "POST":
            body = json.loads(request.content or b"{}")
            tool, arguments = body.get("tool"), body.get("arguments", {})
            if not isinstance(tool, str) or not tool:
                return _json(400, _error("invalid_body", "'tool' must be a non-empty string"))
            if not isinstance(arguments, dict):
                return _json(400, _error("invalid_arguments", "'arguments' must be a JSON object"))
            self.calls.append(RecordedCall(sid, tool, arguments))
            if tool in self._verdicts:
                return _json(*self._verdicts[tool])
            if tool not in {definition.get("name") for definition in self.tools}:
                return _json(403, _denial("unknown_tool", f"tool {tool!r} is not defined for this project"))
            output = self._handlers.get(tool, _echo)(arguments)
            return _json(
                200, {"result": _as_result(output), "decision": {"rule": "allow-all", "reason": "fake"}, "jti": uuid.uuid4().hex}
            )
        return _json(405, {"error": {"code": "method_not_allowed", "message": "method not allowed"}})


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "retryable": False}}


def _denial(rule: str, reason: str) -> dict[str, Any]:
    # as interceptor.errors.PolicyDenied answers: the reason is also the message
    return {"error": {"code": "policy_denied", "message": reason, "retryable": False, "rule": rule, "reason": reason}}


def _echo(arguments: Mapping[str, Any]) -> Any:
    return {"echo": dict(arguments)}


def _as_result(output: Any) -> dict[str, Any]:
    if isinstance(output, Mapping) and "content" in output:
        return dict(output)
    if isinstance(output, str):
        return {"content": [{"type": "text", "text": output}], "isError": False}
    return {"content": [{"type": "text", "text": json.dumps(output)}], "isError": False, "structuredContent": output}


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)
