"""What the interceptor's ``GET /readyz`` checks: the config store, the state store and the tool server.

``/healthz`` only says the process answers; ``/readyz`` says a call could go
through now. The config store is read through its cache (a store that is down
but still within ``SENTINEL_CONFIG_STALE_SECONDS`` serves, so it is ready); the
state store is pinged; the tool server's own ``/readyz`` is asked, and must
answer like a Sentinel tool server whose body limit is at least this
interceptor's (the calls it forwards are sized by ``SENTINEL_MAX_BODY_BYTES``).

The answer names the checks and their codes only: hosts, file names and the
tool server's details go to the log (sentinel_http.Readiness).
"""

from __future__ import annotations

import logging

from interceptor.config import ConfigStore, ConfigStoreError
from interceptor.errors import InterceptorError, ToolServerTimeout
from interceptor.forwarding import ToolServerClient
from interceptor.settings import InterceptorSettings
from interceptor.state import StateStore
from sentinel_contract import clip
from sentinel_http import NotReady, Readiness

__all__ = ["open_readiness"]

_log = logging.getLogger("sentinel.interceptor")


def open_readiness(
    config: ConfigStore, state: StateStore, upstream: ToolServerClient, settings: InterceptorSettings
) -> Readiness:
    async def config_store() -> None:
        try:
            await config.list_projects()
        except ConfigStoreError as exc:
            raise NotReady(exc.code, exc.message) from None

    async def state_store() -> None:
        try:
            await state.ping()
        except InterceptorError as exc:
            raise NotReady("unavailable", exc.message) from None

    async def tool_server() -> None:
        try:
            status, report = await upstream.probe()
        except ToolServerTimeout:
            raise NotReady("timeout", "the tool server did not answer in time") from None
        except InterceptorError as exc:
            code = "misconfigured" if exc.code == "tool_server_misconfigured" else "unreachable"
            raise NotReady(code, exc.message) from None
        if status != 200:
            raise NotReady("not_ready", f"the tool server reports {clip(str(report.get('not_ready')))} not ready")
        limit = report.get("max_body_bytes")
        if isinstance(limit, int) and limit < settings.max_body_bytes:
            raise NotReady(
                "body_limit_below_interceptor",
                f"the tool server refuses bodies over {limit} bytes, below this interceptor's "
                f"SENTINEL_MAX_BODY_BYTES ({settings.max_body_bytes}): keep the tool server's at least as large",
            )

    checks = {"config_store": config_store, "state_store": state_store, "tool_server": tool_server}
    return Readiness(checks, log=_log, service="the interceptor")
