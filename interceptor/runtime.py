"""``Runtime``: what the lifespan opens and every route uses, built once per process.

Nothing here opens or closes anything: ``interceptor.app`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from interceptor.approvals import Approvals
from interceptor.audit import AuditLog
from interceptor.breakglass import BreakGlassDesk
from interceptor.calls import CallEnforcer
from interceptor.definitions import LiveDefinitions
from interceptor.events import Events
from interceptor.limits import RateLimiter
from interceptor.metrics import InterceptorMetrics
from interceptor.projects import ProjectDirectory
from interceptor.sessions import Sessions
from interceptor.settings import InterceptorSettings
from interceptor.state import StateStore
from sentinel_http import Readiness

__all__ = ["Runtime"]


@dataclass(slots=True)
class Runtime:
    """Everything a request needs."""

    settings: InterceptorSettings
    state: StateStore
    directory: ProjectDirectory
    sessions: Sessions
    enforcer: CallEnforcer
    audit: AuditLog
    readiness: Readiness
    approvals: Approvals
    definitions: LiveDefinitions  # which pinned tools to leave out of an agent's tool list
    limiter: RateLimiter  # the policy's rate limits and quotas
    breakglass: BreakGlassDesk
    events: Events  # what people did: the audit trail and the webhook
    metrics: InterceptorMetrics  # GET /metrics (admin key)
