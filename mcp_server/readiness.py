"""What the tool server's ``GET /readyz`` checks: its trust store (Redis in production).

``/healthz`` only says the process answers; ``/readyz`` says a signed call
could be verified now. The interceptor's ``/readyz`` asks this one, and reads
``service`` to know it reached a Sentinel tool server and ``max_body_bytes`` to
know the calls it forwards fit (docs/operator-guide.md, "Limits").
"""

from __future__ import annotations

import logging
from typing import Final

from mcp_server.errors import StoreError
from mcp_server.trust import TrustStore
from sentinel_contract import TOOL_SERVER_SERVICE
from sentinel_http import NotReady, Readiness

__all__ = ["SERVICE", "open_readiness"]

SERVICE: Final = TOOL_SERVER_SERVICE  # what the interceptor expects to find behind MCP_UPSTREAM_URL

_log = logging.getLogger("mcp_server")


def open_readiness(store: TrustStore) -> Readiness:
    async def trust_store() -> None:
        try:
            await store.ping()
        except StoreError as exc:
            raise NotReady("unavailable", exc.message) from None

    return Readiness({"trust_store": trust_store}, log=_log, service="the tool server")
