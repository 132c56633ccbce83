"""What people do and what it releases, announced: approvals, break-glass, revocations.

Each event is one record in the interceptor's audit trail (``"event": name``, chained like
every record) and, when a webhook is configured, one signed POST (``webhooks``). Never
the arguments of a call: its hash, its tool, who acted and why.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from interceptor.audit import AuditLog
from interceptor.metrics import InterceptorMetrics
from interceptor.webhooks import Webhook

__all__ = ["Events"]


@dataclass(frozen=True, slots=True)
class Events:
    audit: AuditLog
    webhook: Webhook | None = None
    metrics: InterceptorMetrics | None = None

    def emit(self, event: str, subject: str, fields: Mapping[str, object]) -> None:
        """Record ``event`` about ``subject`` (``approval``, ``breakglass``, ``session``) and announce it."""
        self.audit.write_event(event, fields)
        if self.metrics is not None:
            self.metrics.event(subject, event)
        if self.webhook is not None:
            self.webhook.send({"event": event, "at": int(time.time()), subject: dict(fields)})
