"""A typed way to turn Python functions into MCP tools.

    registry = ToolRegistry()

    @registry.tool(description="Send an email")
    def send_email(to: str, subject: str, body: str) -> str: ...

The JSON input schema comes from the type hints (a pydantic model built per
tool, extra arguments forbidden); arguments are validated strictly, as JSON,
before the function runs, so it gets the values that were signed, never coerced
ones. Sync functions run in a worker thread unless declared ``inline`` (cheap,
non-blocking ones). What a tool returns becomes an MCP ``CallToolResult``.

This module must never let a tool's exception (any BaseException but the
cancellation of the request itself) escape as a 500 or leak a traceback: only a
:class:`~mcp_server.errors.ToolError` message reaches the caller. It never logs arguments.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints, overload

import mcp_types
import orjson
import pydantic
from starlette.concurrency import run_in_threadpool

from mcp_server.errors import ProtocolError, ToolError

__all__ = ["RegisteredTool", "ToolRegistry", "is_request_cancelled"]

_TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

_log = logging.getLogger("mcp_server.tools")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class RegisteredTool:
    """One tool: its function, its argument model and what ``tools/list`` says about it."""

    name: str
    description: str
    fn: Callable[..., Any]
    model: type[pydantic.BaseModel]
    input_schema: dict[str, Any]
    security_class: str | None
    inline: bool

    def definition(self) -> mcp_types.Tool:
        return mcp_types.Tool(name=self.name, description=self.description, input_schema=self.input_schema)

    def validate(self, arguments: Any) -> dict[str, Any]:
        """Validated keyword arguments, or ProtocolError(invalid_params) naming what is wrong."""
        if not isinstance(arguments, Mapping):
            raise ProtocolError("arguments must be a JSON object", code="invalid_params")
        # The tool must run on exactly the values that were signed and checked by policy:
        # strict JSON-mode validation, so nothing is coerced ("yes" -> True, "10" -> 10,
        # 10.0 -> 10, "NaN" -> nan), while JSON's own spellings (ISO dates, UUIDs) still parse.
        try:
            document = orjson.dumps(arguments)
        except orjson.JSONEncodeError:
            raise ProtocolError("invalid arguments: not representable as JSON", code="invalid_params") from None
        if b"null" in document and not _finite(arguments):  # orjson writes NaN and +-Infinity as null
            raise ProtocolError("invalid arguments: numbers must be finite", code="invalid_params")
        try:
            parsed = self.model.model_validate_json(document, strict=True)
        except pydantic.ValidationError as exc:
            raise ProtocolError(_describe(exc), code="invalid_params") from None
        return {name: getattr(parsed, name) for name in type(parsed).model_fields}

    async def invoke(self, kwargs: dict[str, Any]) -> mcp_types.CallToolResult:
        """Run the tool; any failure becomes ``isError: true`` with a message safe to show."""
        try:
            if inspect.iscoroutinefunction(self.fn):
                value = await self.fn(**kwargs)
            elif self.inline:
                value = self.fn(**kwargs)
            else:
                value = await run_in_threadpool(self.fn, **kwargs)
        except ToolError as exc:
            return _error_result(exc.message)
        except Exception:
            # The traceback stays in the server log; the caller learns only that it failed.
            _log.exception("tool %s raised", self.name)
            return _error_result(f"the tool {self.name} failed")
        except BaseException as exc:
            # The tool has run, so its CancelledError (of its own subtask), SystemExit or
            # KeyboardInterrupt is a failed call with its audit record, not a dropped request.
            # Only a cancellation of this request's task goes on up.
            if is_request_cancelled(exc):
                raise
            _log.error("tool %s raised %s", self.name, type(exc).__name__, exc_info=exc)
            return _error_result(f"the tool {self.name} failed")
        return to_result(value)


class ToolRegistry:
    """Tools by name, in registration order."""

    def __init__(self) -> None:
        self._tools: dict[str, RegisteredTool] = {}

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        fn: None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        security_class: str | None = None,
        inline: bool = False,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: F | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        security_class: str | None = None,
        inline: bool = False,
    ) -> F | Callable[[F], F]:
        """Register ``fn`` as a tool; usable bare (``@registry.tool``) or with options."""

        def register(func: F) -> F:
            self.add(func, name=name, description=description, security_class=security_class, inline=inline)
            return func

        return register(fn) if fn is not None else register

    def add(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        security_class: str | None = None,
        inline: bool = False,
    ) -> RegisteredTool:
        tool_name = name or fn.__name__
        if not _TOOL_NAME.fullmatch(tool_name):
            # MCP's tool-name alphabet; no '/', so a tool can never share a name with a method
            raise ValueError(f"tool name {tool_name!r}: use 1-64 of A-Z a-z 0-9 _ - .")
        if tool_name in self._tools:
            raise ValueError(f"a tool named {tool_name!r} is already registered")
        model = _argument_model(tool_name, fn)
        tool = RegisteredTool(
            name=tool_name,
            description=description or inspect.getdoc(fn) or "",
            fn=fn,
            model=model,
            input_schema=_schema(model),
            security_class=security_class,
            inline=inline,
        )
        self._tools[tool_name] = tool
        return tool

    def get(self, name: str) -> RegisteredTool | None:
        return self._tools.get(name)

    def __iter__(self) -> Iterator[RegisteredTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def list_result(self) -> mcp_types.ListToolsResult:
        return mcp_types.ListToolsResult(tools=[tool.definition() for tool in self])


def _argument_model(tool_name: str, fn: Callable[..., Any]) -> type[pydantic.BaseModel]:
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"tool {tool_name}: parameter {param.name!r} must be a plain keyword parameter")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    config = pydantic.ConfigDict(extra="forbid")
    return pydantic.create_model(f"{tool_name}_arguments", __config__=config, **fields)


def is_request_cancelled(exc: BaseException) -> bool:
    """True when ``exc`` is the cancellation of the running task itself (it must propagate),
    not a CancelledError that merely escaped from some other task the code awaited."""
    if not isinstance(exc, asyncio.CancelledError):
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop
        return True
    return task is None or task.cancelling() > 0


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(item) for item in value)
    return True


def _schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("properties", {})
    return schema


def _describe(exc: pydantic.ValidationError) -> str:
    # Names the argument and the kind of problem; never echoes the value received.
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        kind = error["type"]
        if kind == "missing":
            problems.append(f"missing argument {where!r}")
        elif kind == "extra_forbidden":
            problems.append(f"unexpected argument {where!r}")
        else:
            problems.append(f"argument {where!r}: {error['msg']}")
    return "invalid arguments: " + "; ".join(problems)


def _error_result(message: str) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=message)], is_error=True)


def to_result(value: Any) -> mcp_types.CallToolResult:
    """What a tool returned, as MCP content: text, plus structuredContent for JSON objects."""
    if isinstance(value, mcp_types.CallToolResult):
        return value
    if isinstance(value, pydantic.BaseModel):
        value = value.model_dump(mode="json")
    structured: dict[str, Any] | None = None
    if isinstance(value, str):
        text = value
    else:
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        try:
            encoded = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            # Not JSON (an integer past 64 bits, an object): a failed call, never a Python repr
            # passed off as the tool's answer.
            _log.error("tool result of type %s is not representable as JSON", type(value).__name__)
            return _error_result("the tool's result is not representable as JSON")
        text = encoded.decode()
        if isinstance(value, dict | list | tuple):
            # Read back from the text, so the structured part says exactly what the text says
            # (non-string keys as the JSON wrote them, tuples as lists).
            decoded = orjson.loads(encoded)
            structured = decoded if isinstance(decoded, dict) else {"result": decoded}  # MCP requires an object
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=text)],
        structured_content=structured,
        is_error=False,
    )
