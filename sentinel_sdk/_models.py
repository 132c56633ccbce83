"""What the interceptor sends back, as small typed values, and how a tool's output is read.

Parsing is strict about the fields the SDK relies on and tolerant of extra
ones (the contract grows by adding). It must never execute or evaluate anything
found in a tool's output: the output is data from an untrusted tool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sentinel_sdk._exceptions import ProtocolError

# An object schema accepting anything: used when a tool publishes no schema.
_EMPTY_OBJECT_SCHEMA: Mapping[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """One tool the session may call, as the interceptor publishes it."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=lambda: dict(_EMPTY_OBJECT_SCHEMA))
    # `class` on the wire, e.g. "UNTRUSTED_READ"; None unless the interceptor publishes it, and
    # Sentinel's interceptor does not (an agent never learns how its tools are classified).
    security_class: str | None = None

    @classmethod
    def from_wire(cls, data: Any) -> ToolDefinition:
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str) or not data["name"]:
            raise ProtocolError(f"a tool definition without a name: {data!r:.200}")
        schema = data.get("input_schema", data.get("inputSchema"))
        if not isinstance(schema, Mapping):
            schema = dict(_EMPTY_OBJECT_SCHEMA)
        security_class = data.get("class", data.get("security_class"))
        return cls(
            name=data["name"],
            description=str(data.get("description") or ""),
            input_schema=dict(schema),
            security_class=security_class if isinstance(security_class, str) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The wire shape (``class``, not ``security_class``)."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),
            "class": self.security_class,
        }


@dataclass(frozen=True, slots=True)
class ToolCallResult:
    """An allowed call's full answer: the tool's MCP result and the decision that let it through.

    ``value`` is what ``SentinelClient.call_tool`` returns: ``structuredContent``
    when the tool returned JSON, otherwise the text parts joined by newlines.
    """

    tool: str
    content: Sequence[Mapping[str, Any]]
    is_error: bool
    structured_content: Any = None
    rule: str = ""
    reason: str = ""
    jti: str | None = None  # joins this call to the interceptor's and tool server's audit records

    @property
    def text(self) -> str:
        return "\n".join(
            str(part.get("text", "")) for part in self.content if isinstance(part, Mapping) and part.get("type") == "text"
        )

    @property
    def value(self) -> Any:
        if self.structured_content is not None:
            return self.structured_content
        return self.text

    @classmethod
    def from_wire(cls, tool: str, body: Any) -> ToolCallResult:
        if not isinstance(body, Mapping) or not isinstance(body.get("result"), Mapping):
            raise ProtocolError(f"a call answer without a result: {body!r:.200}")
        result = body["result"]
        content = result.get("content", [])
        if not isinstance(content, Sequence) or isinstance(content, str | bytes):
            raise ProtocolError("the tool result's content is not a list")
        decision = body.get("decision")
        decision = decision if isinstance(decision, Mapping) else {}
        jti = body.get("jti")
        return cls(
            tool=tool,
            content=[part for part in content if isinstance(part, Mapping)],
            is_error=bool(result.get("isError", False)),
            structured_content=result.get("structuredContent"),
            rule=str(decision.get("rule") or ""),
            reason=str(decision.get("reason") or ""),
            jti=jti if isinstance(jti, str) else None,
        )


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What ``POST /session/start`` answered."""

    session_id: str
    expires_at: str | None
    tools: tuple[ToolDefinition, ...]

    @classmethod
    def from_wire(cls, body: Any) -> SessionInfo:
        if not isinstance(body, Mapping) or not isinstance(body.get("session_id"), str) or not body["session_id"]:
            raise ProtocolError("the session start answer has no session_id")
        expires_at = body.get("expires_at")
        return cls(
            session_id=body["session_id"],
            expires_at=str(expires_at) if expires_at is not None else None,
            tools=parse_tools(body.get("tools", [])),
        )


def parse_tools(data: Any) -> tuple[ToolDefinition, ...]:
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise ProtocolError("the tool list is not a list")
    return tuple(ToolDefinition.from_wire(item) for item in data)
