"""Checking a Sentinel webhook on the receiving end: the signature, and that it is fresh.

    event = verify_webhook(secret, request_body, request.headers["X-Sentinel-Signature"])

The header is ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body under the secret>``.
A body that was altered, signed with another secret, or sent more than
``tolerance`` seconds ago (a replay) raises ``WebhookSignatureError``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from sentinel_sdk._exceptions import SentinelError

__all__ = ["WebhookSignatureError", "verify_webhook"]


class WebhookSignatureError(SentinelError):
    default_code = "bad_webhook_signature"


def verify_webhook(
    secret: str | bytes, body: bytes, header: str | None, *, tolerance: float = 300, now: float | None = None
) -> Any:
    """The event the body holds, once its signature and time check out."""
    if isinstance(secret, str):
        secret = secret.encode()
    parts = dict(part.strip().partition("=")[::2] for part in (header or "").split(",") if "=" in part)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or not given:
        raise WebhookSignatureError("the X-Sentinel-Signature header is missing or malformed")
    expected = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise WebhookSignatureError("the webhook signature does not match its body")
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise WebhookSignatureError("the webhook was signed too long ago (a replay?)")
    return json.loads(body)
