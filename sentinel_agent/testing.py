"""A local stand-in for an OpenAI-compatible chat completions endpoint, for tests and offline demos.

``StubChatServer(brain)`` serves ``POST /v1/chat/completions`` on 127.0.0.1 (a
thread of this process) and answers with whatever ``brain(messages, tools)``
returns: an assistant message, with ``tool_calls`` where the brain wants tools.
It checks requests the way the real API does (a ``tool`` message must answer a
tool call the assistant made; ``tools`` must be function definitions), so a
client that passes here speaks the wire format correctly.

``gullible_brain`` is a model that does the obvious thing for a request and
then obeys every instruction it finds in a tool's output: the LLM worst case.
This module must never be used to judge a real model; it only proves the path.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sentinel_agent.agents._instructions import find_instructions

__all__ = ["Brain", "StubChatServer", "gullible_brain", "scripted_brain"]

Brain = Callable[[list[dict[str, Any]], list[dict[str, Any]]], dict[str, Any]]


def _tool_call(name: str, arguments: dict[str, Any], ident: str) -> dict[str, Any]:
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def scripted_brain(replies: list[dict[str, Any]]) -> Brain:
    """Answers with ``replies`` in order (then a plain "done")."""
    queue = list(replies)

    def brain(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        return queue.pop(0) if queue else {"role": "assistant", "content": "done"}

    return brain


_URL = re.compile(r"https?://[^\s'\"<>)]+")
_PATH = re.compile(r"\b[\w-]+/[\w.-]+\.\w+\b")


_IBAN = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b")
_AMOUNT = re.compile(r"(?:EUR|€)\s*(\d[\d,]*(?:\.\d+)?)")


def _first_calls(request: str) -> list[tuple[str, dict[str, Any]]]:
    lowered = request.lower()
    iban, amount = _IBAN.search(request), _AMOUNT.search(request)
    if ("pay" in lowered or "transfer" in lowered) and iban and amount and "inbox" not in lowered:
        return [("transfer_funds", {"to_iban": iban.group(0), "amount": float(amount.group(1).replace(",", ""))})]
    if "inbox" in lowered:
        return [("read_inbox", {"limit": 10})]
    if "time" in lowered:
        return [("get_current_time", {"timezone": "Asia/Tokyo" if "tokyo" in lowered else "UTC"})]
    url = _URL.search(request)
    if url:
        return [("fetch_url", {"url": url.group(0).rstrip(".,")})]
    path = _PATH.search(request)
    if path:
        return [("delete_file" if "delete" in lowered else "read_file", {"path": path.group(0)})]
    email = re.search(r"\(([\w.+-]+@[\w.-]+\w)\)", request)
    if email:
        return [("send_email", {"to": email.group(1), "subject": "Note", "body": request})]
    return []


def _canonical(arguments: Any) -> str:
    return json.dumps(arguments, sort_keys=True)


def gullible_brain(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
    """Does the obvious call for the request, then whatever the tool outputs say, one call per turn."""
    made = [call["function"] for m in messages if m.get("role") == "assistant" for call in m.get("tool_calls") or []]
    made_keys = {(f["name"], _canonical(json.loads(f["arguments"]))) for f in made}
    turn = len(made)
    request = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    wanted = list(_first_calls(request))
    last_file = ""
    for message in messages:
        if message.get("role") != "tool":
            continue
        content = str(message.get("content") or "")
        if not content.startswith(("Sentinel ", "The tool reported")):
            last_file = content
        for instruction in find_instructions(content):
            if instruction.verb == "read":
                wanted.append(("read_file", {"path": instruction.target}))
            elif instruction.verb == "mail":
                wanted.append(("send_email", {"to": instruction.target, "subject": instruction.subject or "As requested", "body": last_file}))
            elif instruction.verb == "pay":
                wanted.append(("transfer_funds", {"to_iban": instruction.target, "amount": instruction.amount}))
            elif instruction.verb == "delete":
                wanted.append(("delete_file", {"path": instruction.target}))
            else:
                wanted.append(("fetch_url", {"url": instruction.target}))
    for name, arguments in wanted:
        if (name, _canonical(arguments)) not in made_keys and any(t["function"]["name"] == name for t in tools):
            return {"role": "assistant", "content": None, "tool_calls": [_tool_call(name, arguments, f"call_{turn}")]}
    return {"role": "assistant", "content": f"Done: I made {turn} tool calls."}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a test's output is not the place for an access log

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._answer(404, {"error": {"message": "not found"}})
        stub = self.server.stub
        if stub.api_key is not None and self.headers.get("Authorization") != f"Bearer {stub.api_key}":
            return self._answer(401, {"error": {"message": "invalid api key"}})
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        problem = _check_request(body)
        if problem:
            return self._answer(400, {"error": {"message": problem}})
        stub.requests.append(body)
        message = stub.brain(body["messages"], body.get("tools") or [])
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        self._answer(200, {
            "id": f"chatcmpl-{len(stub.requests)}", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        })


def _check_request(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
        return "model and messages are required"
    for tool in body.get("tools") or []:
        if tool.get("type") != "function" or not tool.get("function", {}).get("name"):
            return "tools must be function definitions"
    open_calls: set[str] = set()
    for message in body["messages"]:
        if message.get("role") == "assistant":
            open_calls |= {call["id"] for call in message.get("tool_calls") or []}
        elif message.get("role") == "tool" and message.get("tool_call_id") not in open_calls:
            return "a tool message must answer a tool call of a preceding assistant message"
    return None


class _Server(ThreadingHTTPServer):
    stub: StubChatServer


class StubChatServer:
    """``with StubChatServer(brain) as stub: stub.base_url`` (``http://127.0.0.1:PORT/v1``)."""

    def __init__(self, brain: Brain = gullible_brain, *, api_key: str | None = None) -> None:
        self.brain = brain
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
