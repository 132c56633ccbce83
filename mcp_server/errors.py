"""The one error tree of the tool server, mapped to JSON-RPC and HTTP once, at the edge.

    McpError(message, *, code)      root; ``code`` is machine-readable, ``message`` safe to show
     ├── ProtocolError              the request is not a JSON-RPC call we serve
     ├── AuthError                  no token, or the token / session / jti was refused
     ├── StoreError                 the trust store (Redis) cannot answer: fail closed
     ├── UpstreamError              an upstream MCP server cannot take the call: nothing was sent
     ├── DefinitionChanged          the tool's live definition is not the one pinned in the call token
     ├── ConfigError                the server cannot start as configured
     └── ToolError                  raised *by a tool*: becomes CallToolResult(isError=True)

Every ``code`` maps to one stable JSON-RPC error number (``RPC_CODES``); the
reason travels as ``error.data.reason``. Messages never carry tokens, keys,
arguments or tracebacks.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "RPC_CODES",
    "AuthError",
    "ConfigError",
    "DefinitionChanged",
    "McpError",
    "ProtocolError",
    "StoreError",
    "ToolError",
    "UpstreamError",
    "rpc_code_for",
]

# Stable JSON-RPC error numbers. -32700..-32600 are JSON-RPC's own; -32001..-32019 are
# implementation-defined in MCP's allocation and used here for the contract's refusals.
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
UNAUTHENTICATED: Final = -32001  # no bearer token at all
TOKEN_REJECTED: Final = -32003  # signature, algorithm, claims, tool or argument binding
SESSION_REJECTED: Final = -32004  # session unknown, expired or revoked
REPLAYED: Final = -32005  # jti already used
PAYLOAD_TOO_LARGE: Final = -32006
STORE_UNAVAILABLE: Final = -32010
UPSTREAM_UNAVAILABLE: Final = -32011  # an upstream MCP server is down or restarting (mcp_server.sources)
TOOL_DEFINITION_CHANGED: Final = -32012  # the tool's definition is not the one the call token pins

RPC_CODES: Final[dict[str, int]] = {
    "parse_error": PARSE_ERROR,
    "invalid_request": INVALID_REQUEST,
    "batch_not_supported": INVALID_REQUEST,
    "notification_not_supported": INVALID_REQUEST,
    "method_not_found": METHOD_NOT_FOUND,
    "invalid_params": INVALID_PARAMS,
    "unknown_tool": INVALID_PARAMS,
    "invalid_tool_name": INVALID_PARAMS,  # outside MCP's tool-name rule: refused before the guard
    "bad_arguments": INVALID_PARAMS,  # not canonicalisable (RFC 8785): a bad request, not a bad token
    "internal_error": INTERNAL_ERROR,
    "missing_token": UNAUTHENTICATED,
    "unknown_session": SESSION_REJECTED,
    "session_expired": SESSION_REJECTED,
    "session_revoked": SESSION_REJECTED,
    "replayed_jti": REPLAYED,
    "payload_too_large": PAYLOAD_TOO_LARGE,
    "store_unavailable": STORE_UNAVAILABLE,
    "upstream_unavailable": UPSTREAM_UNAVAILABLE,
    "tool_definition_changed": TOOL_DEFINITION_CHANGED,
}


def rpc_code_for(code: str) -> int:
    """The JSON-RPC error number for a reason; any other contract refusal is TOKEN_REJECTED."""
    return RPC_CODES.get(code, TOKEN_REJECTED)


class McpError(Exception):
    """Root of every error the tool server raises on purpose.

    Message first, code by keyword, as ``InterceptorError`` takes them; every
    refusal names its reason, so ``code`` has no default.
    """

    http_status = 400

    def __init__(self, message: str, *, code: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if http_status is not None:
            self.http_status = http_status

    @property
    def rpc_code(self) -> int:
        return rpc_code_for(self.code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class ProtocolError(McpError):
    """Malformed, oversized, batched or unknown requests."""


class AuthError(McpError):
    """The request is not backed by a valid, fresh, single-use token of a live session."""

    http_status = 401


class StoreError(McpError):
    """The trust store could not be reached; nothing is executed unchecked."""

    http_status = 503

    def __init__(self, message: str = "the trust store is unavailable") -> None:
        super().__init__(message, code="store_unavailable")


class UpstreamError(McpError):
    """An upstream MCP server cannot take the call now; it was not forwarded (a failure after
    forwarding is the tool's: a CallToolResult with isError)."""

    http_status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message, code="upstream_unavailable")


class DefinitionChanged(McpError):
    """The call token pins a definition of the tool that is not the one it would run (a "rug pull")."""

    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "the tool's definition changed since it was pinned; an operator must approve it", code="tool_definition_changed"
        )


class ConfigError(McpError):
    """The settings do not allow a safe start."""


class ToolError(McpError):
    """Raised by a tool with a message that is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="tool_error")
