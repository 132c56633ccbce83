"""The session's tools as LangChain ``StructuredTool``s.

Each tool's ``args_schema`` is the JSON schema the interceptor publishes,
passed through unchanged (langchain-core accepts a JSON-schema dict), so the
model sees exactly the schema the tool server enforces. Arguments are checked
by Sentinel and the tool server, not re-validated here; when they are refused
(``InvalidArguments``) the model reads why and can correct its call.

A denial is an answer the model should see: with ``on_denied="message"`` it
becomes the tool's output, as an error ``ToolMessage`` (``status="error"``), so
one blocked action does not end the agent run. Transport failures
(unavailable, bad key, expired session) always raise: the model cannot fix
those. This module must never turn a denial into a success the model could
mistake for the tool's real output, nor let a tool's output pass for a denial:
only Sentinel's own answers are errors.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import Any, Literal, Protocol, TypeVar

from langchain_core.tools import StructuredTool, ToolException

from sentinel_sdk._exceptions import ApprovalRequired, InvalidArguments, PolicyDenied, SentinelError, ToolError
from sentinel_sdk._models import ToolDefinition

OnDenied = Literal["message", "raise"]
T = TypeVar("T")


class ToolCaller(Protocol):
    """What a LangChain tool needs of a client: calling a tool, from async or sync code.

    ``SentinelClient`` is one; naming the need instead of the class keeps this
    module from importing the client that imports it.
    """

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any: ...

    async def run_on_own_loop(self, coro: Coroutine[Any, Any, T]) -> T: ...

    def run_blocking(self, coro: Coroutine[Any, Any, T]) -> T: ...


class SentinelToolException(ToolException):
    """A ``ToolException`` carrying the Sentinel error behind it (``.error``: PolicyDenied, InvalidArguments, ...)."""

    def __init__(self, message: str, error: SentinelError) -> None:
        super().__init__(message)
        self.error = error


def denial_message(error: SentinelError) -> str:
    """The text a model reads when Sentinel did not run its call."""
    if isinstance(error, PolicyDenied):
        return f"Sentinel blocked this call (rule {error.rule or 'unknown'}): {error.reason}"
    if isinstance(error, ApprovalRequired):
        return (
            f"Sentinel is holding this call for human approval (rule {error.rule or 'unknown'}): {error.reason}. "
            f"Approval id: {error.approval_id}. The call has not run."
        )
    if isinstance(error, ToolError):
        return f"The tool reported an error: {error.text}"
    if isinstance(error, InvalidArguments):
        return f"The arguments were refused, so the tool did not run: {error.message}. Correct them and call the tool again."
    return str(error)


def _format_output(value: Any) -> Any:
    # LangChain stringifies non-string outputs with str(); JSON reads better for a model.
    if isinstance(value, str):
        return value
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def build_tools(client: ToolCaller, tools: list[ToolDefinition], *, on_denied: OnDenied) -> list[StructuredTool]:
    if on_denied not in ("message", "raise"):
        raise ValueError('on_denied must be "message" or "raise"')
    return [_build_tool(client, tool, on_denied) for tool in tools]


def _build_tool(client: ToolCaller, tool: ToolDefinition, on_denied: OnDenied) -> StructuredTool:
    name = tool.name

    async def call(arguments: Mapping[str, Any]) -> Any:
        try:
            return _format_output(await client.call_tool(name, arguments))
        except (PolicyDenied, ApprovalRequired, ToolError, InvalidArguments) as exc:
            # In message mode handle_tool_error turns this into the tool's output, with status "error".
            raise SentinelToolException(denial_message(exc), exc) from exc

    async def coroutine(**kwargs: Any) -> Any:
        return await client.run_on_own_loop(call(kwargs))

    def func(**kwargs: Any) -> Any:
        return client.run_blocking(call(kwargs))

    schema = dict(tool.input_schema)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return StructuredTool(
        name=name,
        description=tool.description or name,
        args_schema=schema,
        func=func,
        coroutine=coroutine,
        # In message mode denials, refused arguments and a failing tool's text go back to the model.
        handle_tool_error=on_denied == "message",
        # None unless the interceptor publishes the class; Sentinel's does not show it to agents.
        metadata={"sentinel_class": tool.security_class},
    )

