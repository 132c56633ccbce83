"""The SDK's errors: one root, each with a machine-readable ``code``.

    SentinelError                   code: whatever the interceptor said, else below
    ├── PolicyDenied                policy_denied        403: the policy refused the call
    ├── ApprovalRequired            approval_required    202: a human must approve first
    ├── AuthenticationError         authentication_failed 401: bad, missing or unsendable API key
    ├── InvalidArguments            invalid_arguments    400: the tool's schema (or JSON) refused the arguments
    ├── SessionExpired              session_expired      404: session unknown, ended or expired
    ├── RateLimited                 rate_limited         429 after the retries ran out
    ├── SentinelUnavailable         unavailable          502/503/504, connection errors
    ├── ToolError                   tool_error           the tool ran and reported a failure
    └── ProtocolError               bad_response         an answer the SDK cannot read

A denial and an approval request are answers, not failures: they are never
retried, and they carry the deciding rule and its reason so an agent (or the
model behind it) can explain what happened. ``retryable`` is true only when
nothing can have run and trying again may help (the interceptor's own
``"retryable"`` flag, a 429, or a connection that never left); after a 5xx or a
dropped connection that is not retryable, the tool may have run. This module
must never hold or print the API key.
"""

from __future__ import annotations

from typing import Any


class SentinelError(Exception):
    """Root of every error the SDK raises. ``code`` is stable and machine-readable."""

    default_code = "sentinel_error"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status  # the HTTP status that produced the error, where there was one
        self.retryable = retryable  # True only when nothing ran and trying again may help


class PolicyDenied(SentinelError):
    """The interceptor's policy refused the call; nothing was executed."""

    default_code = "policy_denied"

    def __init__(self, rule: str, reason: str, *, message: str | None = None, code: str | None = None) -> None:
        super().__init__(message or f"denied by rule {rule!r}: {reason}", code=code, status=403)
        self.rule = rule
        self.reason = reason


class ApprovalRequired(SentinelError):
    """The policy requires a human approval for this call; nothing was executed yet."""

    default_code = "approval_required"

    def __init__(self, approval_id: str, *, rule: str = "", reason: str = "", status: str = "pending") -> None:
        super().__init__(f"approval {approval_id} required by rule {rule!r}: {reason}", status=202)
        self.approval_id = approval_id
        self.rule = rule
        self.reason = reason
        self.approval_status = status


class ApprovalDenied(SentinelError):
    """A person denied the held call, or nobody decided before it expired; it did not run."""

    default_code = "approval_denied"

    def __init__(self, approval_id: str, *, status: str, decided_by: Any = None, note: Any = None) -> None:
        who = f" by {decided_by}" if isinstance(decided_by, str) and decided_by else ""
        why = f": {note}" if isinstance(note, str) and note else ""
        super().__init__(f"approval {approval_id} was {status}{who}{why}")
        self.approval_id = approval_id
        self.approval_status = status
        self.decided_by = decided_by if isinstance(decided_by, str) else None
        self.note = note if isinstance(note, str) else None


class AuthenticationError(SentinelError):
    """The interceptor rejected the API key (HTTP 401)."""

    default_code = "authentication_failed"


class InvalidArguments(SentinelError):
    """The arguments were refused before the tool ran (HTTP 400 ``invalid_arguments``, or not sendable as JSON).

    The message names the argument and the problem, never the value, so a model
    can read it and correct its call.
    """

    default_code = "invalid_arguments"


class SessionExpired(SentinelError):
    """The session is unknown, ended or expired (HTTP 404). Start a new client to continue.

    The SDK never starts a replacement session on its own: a new session starts
    with no taint, so that must be the caller's conscious decision.
    """

    default_code = "session_expired"


class RateLimited(SentinelError):
    """Still rate limited (HTTP 429) after the allowed retries. ``retry_after`` is in seconds, if known."""

    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code, status=429, retryable=True)
        self.retry_after = retry_after


class SentinelUnavailable(SentinelError):
    """The interceptor, or the tool server or state store behind it, could not be reached.

    Sentinel fails closed: when this is raised, the tool did not run unchecked.
    After a 504 or a dropped connection the tool may still have run once, checked.
    """

    default_code = "unavailable"


class ToolError(SentinelError):
    """The call was allowed and the tool ran, but it reported a failure (``isError: true``)."""

    default_code = "tool_error"

    def __init__(self, tool: str, text: str) -> None:
        super().__init__(f"tool {tool!r} failed: {text}")
        self.tool = tool
        self.text = text


class ProtocolError(SentinelError):
    """The interceptor answered something this SDK cannot read (wrong shape, unexpected status)."""

    default_code = "bad_response"
