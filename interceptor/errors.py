"""The interceptor's one error tree, mapped to HTTP once, at the edge (routes.py).

    InterceptorError (code, status)
    ├── SettingsError            -      bad or missing settings: refuse to start
    ├── BadRequest               400    malformed body, arguments not an object, invalid_tool_name
    ├── Unauthorized             401    missing or wrong X-Sentinel-Key
    ├── PolicyDenied             403    the policy said no (carries rule and reason)
    ├── AgentNotAllowed          403    an agent-bound key starting a session as another agent
    ├── SessionNotFound          404    unknown, expired, ended, or another project's
    ├── NotFound                 404    no such route
    ├── ToolDefinitionChanged    409    the tool's live definition is not its pin: an operator must approve it
    ├── BodyTooLarge             413    body over max_body_bytes; arguments_too_large
    ├── ToolServerError          502    tool server unreachable, refused or answered garbage;
    │                                   tool_server_misconfigured (not a Sentinel tool server)
    ├── ServiceUnavailable       503    state store, config store, policy or contention
    └── ToolServerTimeout        504    tool server slower than the bounded timeout

Every answer built from these has the shape ``{"error": {"code", "message", "retryable", ...}}``.
``retryable`` is false whenever the tool may already have run (the call was
sent, or it ran and its taint could not be stored): retrying such a call would
execute it twice, since a retry is a new signed call with a new ``jti``.
Messages are safe to show to an untrusted agent: they never carry key material,
upstream addresses or raw arguments.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AgentNotAllowed",
    "BadRequest",
    "BodyTooLarge",
    "InterceptorError",
    "NotFound",
    "PolicyDenied",
    "ServiceUnavailable",
    "SessionNotFound",
    "SettingsError",
    "ToolDefinitionChanged",
    "ToolServerError",
    "ToolServerTimeout",
    "Unauthorized",
]


class InterceptorError(Exception):
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.retryable = self.status in (429, 502, 503) if retryable is None else retryable
        self.extra = extra
        self.headers: tuple[tuple[bytes, bytes], ...] = ()  # sent with the answer (Retry-After)

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "retryable": self.retryable, **self.extra}}


class SettingsError(InterceptorError):
    default_code = "bad_settings"


class BadRequest(InterceptorError):
    status = 400
    default_code = "bad_request"


class Unauthorized(InterceptorError):
    status = 401
    default_code = "unauthorized"

    def __init__(self) -> None:
        # One fixed message, so the answer cannot tell a wrong key from an unknown project.
        super().__init__("missing or invalid X-Sentinel-Key")


class PolicyDenied(InterceptorError):
    status = 403
    default_code = "policy_denied"

    def __init__(self, reason: str, *, rule: str) -> None:
        super().__init__(reason, rule=rule, reason=reason)
        self.rule = rule
        self.reason = reason


class AgentNotAllowed(InterceptorError):
    status = 403
    default_code = "agent_not_allowed"

    def __init__(self, bound: str) -> None:
        # Names only the agent of the key presented: what its holder may already learn from a session it starts.
        super().__init__(
            f"this API key is bound to the agent {bound!r}: it starts sessions only as that agent "
            "(declare that agent or none, or use a key issued for the other agent)",
            retryable=False,
        )


class SessionNotFound(InterceptorError):
    status = 404
    default_code = "session_not_found"

    def __init__(self) -> None:
        super().__init__("no such session (unknown, expired or ended)")


class NotFound(InterceptorError):
    status = 404
    default_code = "not_found"


class ToolDefinitionChanged(InterceptorError):
    """The tool server refused a pinned call: the tool it would run is no longer the definition reviewed.

    Never retryable: it stays refused until an operator runs ``sentinel tools approve``.
    """

    status = 409
    default_code = "tool_definition_changed"

    def __init__(self) -> None:
        super().__init__(
            "the tool's definition changed since it was reviewed; it cannot be called until an operator approves it",
            retryable=False,
        )


class BodyTooLarge(InterceptorError):
    status = 413
    default_code = "body_too_large"


class ToolServerError(InterceptorError):
    status = 502
    default_code = "tool_server_error"


class ServiceUnavailable(InterceptorError):
    status = 503
    default_code = "unavailable"


class RateLimited(InterceptorError):
    status = 429
    default_code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"a rate limit of this project's policy is reached; retry in {retry_after} s",
                         retry_after=retry_after)
        self.headers = ((b"retry-after", str(retry_after).encode()),)


class ToolServerTimeout(InterceptorError):
    status = 504
    default_code = "tool_server_timeout"
