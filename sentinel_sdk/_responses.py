"""How an answer of the interceptor becomes a value or one of the SDK's typed errors.

The mapping from HTTP status and ``{"error": {"code", ...}}`` to an exception
lives here and only here. It must never guess success: anything it does not
recognise is an error, and a denial is never mistaken for a failure to retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from sentinel_sdk._exceptions import (
    AuthenticationError,
    InvalidArguments,
    PolicyDenied,
    ProtocolError,
    RateLimited,
    SentinelError,
    SentinelUnavailable,
    SessionExpired,
)
from sentinel_sdk._retry import parse_retry_after


def read_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ProtocolError(
            f"HTTP {response.status_code} with a body that is not JSON", status=response.status_code
        ) from exc


def is_retryable(response: httpx.Response) -> bool:
    """True when the answer says nothing ran and trying again may help.

    A 429 is answered before anything is forwarded; any other status only when
    the interceptor marks it ``"retryable": true`` (it does so only when nothing
    was forwarded). A load balancer's 502, or a body the SDK cannot read, carries
    no such mark: behind it the tool may have run.
    """
    return _retryable(response.status_code, error_fields(response)[2])


def marked_not_retryable(response: httpx.Response) -> bool:
    """True when the answer itself says trying again will not help (``"retryable": false``).

    For requests that run no tool (starting a session), where a bare 502 or 503
    is retried: a misconfigured tool server, say, is not worth four attempts.
    """
    return error_fields(response)[2].get("retryable") is False


def _retryable(status: int, error: Mapping[str, Any]) -> bool:
    return status == 429 or error.get("retryable") is True


def check_status(response: httpx.Response, base_url: str) -> httpx.Response:
    """The response if it is a success (200/201); otherwise raise the matching SentinelError."""
    status = response.status_code
    if status in (200, 201):
        return response
    code, message, error = error_fields(response)
    retryable = _retryable(status, error)  # from the body already read, not parsed again
    if status == 400 and code == "invalid_arguments":
        raise InvalidArguments(message or "the arguments were refused", code=code, status=400)
    if status == 401:
        raise AuthenticationError(message or "the API key was rejected", code=code, status=401)
    if status == 403:
        raise PolicyDenied(
            str(error.get("rule") or ""),
            str(error.get("reason") or message or "denied"),
            message=message or None,
            code=code,
        )
    if status == 404 and code == "not_found":
        # No such route: a wrong base URL, not an expired session.
        raise SentinelError(f"{message or 'not found'} (is {base_url} the Sentinel interceptor?)", code=code, status=404)
    if status == 404:
        raise SessionExpired(message or "the session is unknown, ended or expired", code=code, status=404)
    if status == 429:
        raise RateLimited(
            message or "rate limited", retry_after=parse_retry_after(response.headers.get("Retry-After")), code=code
        )
    if status in (502, 503, 504):
        raise SentinelUnavailable(message or f"Sentinel answered {status}", code=code, status=status, retryable=retryable)
    raise SentinelError(
        message or f"unexpected HTTP {status}", code=code or f"http_{status}", status=status, retryable=retryable
    )


def error_fields(response: httpx.Response) -> tuple[str | None, str, Mapping[str, Any]]:
    """(code, message, error object) from ``{"error": {...}}``, FastAPI's ``{"detail": ...}``, or nothing."""
    try:
        body = response.json()
    except ValueError:
        return None, "", {}
    if not isinstance(body, Mapping):
        return None, "", {}
    error = body.get("error")
    if isinstance(error, Mapping):
        code = error.get("code")
        return (code if isinstance(code, str) else None), str(error.get("message") or ""), error
    detail = body.get("detail")
    if isinstance(detail, Mapping):
        code = detail.get("code")
        return (code if isinstance(code, str) else None), str(detail.get("message") or ""), detail
    return None, (str(detail) if detail is not None else ""), {}
