"""``Runtime``: what the lifespan opens and every route uses, built once per process.

The app holds it in a :class:`RuntimeHolder`, empty before the lifespan has run
and after it has ended, so a request in either window is never answered with
half-opened stores. Nothing here opens or closes anything: ``mcp_server.app``
does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mcp_server.audit import AuditLog
from mcp_server.guard import CallGuard
from mcp_server.metrics import ToolServerMetrics
from mcp_server.sources import ToolSource
from mcp_server.trust import TrustStore
from sentinel_http import Readiness

__all__ = ["Runtime", "RuntimeHolder"]


@dataclass(slots=True)
class Runtime:
    """Everything a request needs."""

    tools: ToolSource  # where tools/list and tools/call go (mcp_server.sources)
    guard: CallGuard | None  # None: verification off (benchmarks only)
    store: TrustStore
    audit: AuditLog
    trusted_keys: list[Ed25519PublicKey]
    audience: str
    leeway: int
    max_body_bytes: int
    max_session_seconds: int
    readiness: Readiness
    clock: Callable[[], float] = time.time
    metrics: ToolServerMetrics = field(default_factory=ToolServerMetrics)  # GET /metrics


class RuntimeHolder:
    runtime: Runtime | None = None
