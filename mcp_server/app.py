"""``create_app(settings)``: the tool server as an ASGI app (FastAPI).

The lifespan starts tracing when an OTLP endpoint is configured (``mcp_server.tracing``), opens the tool source (``mcp_server.sources``: the demo tools seed
their data folder if it is missing, upstream MCP servers connect), the trust
store (in-process, or Redis when ``redis_url`` is set) and the audit log; it
closes what it opened. Tests may inject tools, a registry, a trust store or a clock.
``POST /rpc`` is answered before FastAPI (see ``_ToolServerApp``).

It must never start with verification on and no trusted interceptor key, and
never turn verification off without a loud warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from mcp_server import tracing
from mcp_server.audit import AuditLog
from mcp_server.calls import serve_rpc, serve_rpc_traced
from mcp_server.errors import ConfigError
from mcp_server.guard import CallGuard
from mcp_server.metrics import ToolServerMetrics
from mcp_server.readiness import open_readiness
from mcp_server.registry import ToolRegistry
from mcp_server.routes import build_routes
from mcp_server.runtime import Runtime, RuntimeHolder
from mcp_server.settings import McpSettings
from mcp_server.sources import DemoSource, RegistrySource, ToolSource
from mcp_server.trust import TrustStore, open_trust_store
from sentinel_contract import RPC_PATH

__all__ = ["create_app"]

_log = logging.getLogger("mcp_server")


class _ToolServerApp(FastAPI):
    """FastAPI, except that ``POST /rpc`` goes straight to ``calls.serve_rpc``.

    Nearly every request is a call, and FastAPI's middleware stack and route
    wrappers cost more than the handler (docs/performance.md). Every other
    request, an ``/rpc`` under a ``root_path`` (Starlette routes those by a path
    relative to it) and anything before the lifespan has run go through FastAPI
    as usual, where the ``/rpc`` route answers through the same code.
    """

    holder: RuntimeHolder

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == RPC_PATH
            and scope["method"] == "POST"
            and not scope.get("root_path")
        ):
            runtime = self.holder.runtime
            if runtime is not None:
                if tracing.SWITCH.on:
                    await serve_rpc_traced(runtime, scope, receive, send)
                else:
                    await serve_rpc(runtime, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: McpSettings | None = None,
    *,
    registry: ToolRegistry | None = None,
    tools: ToolSource | None = None,
    trust_store: TrustStore | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The tool server. It serves ``tools`` (one source, e.g. a ``ToolCatalog`` of registries and
    upstream MCP servers) or ``registry``; with neither, the demo tools over ``mcp_data_dir``."""
    if registry is not None and tools is not None:
        raise ValueError("pass registry or tools, not both")
    settings = settings if settings is not None else McpSettings()
    trusted = settings.trusted_keys()
    if settings.mcp_verify and not trusted:
        raise ConfigError(
            "SENTINEL_INTERCEPTOR_PUBLIC_KEYS is empty: set it to the interceptor's identity public key "
            "(see `sentinel keys identity`)",
            code="no_trusted_keys",
        )
    holder = RuntimeHolder()
    metrics = ToolServerMetrics()  # the app's, across lifespans
    if tools is None:
        tools = RegistrySource(registry) if registry is not None else DemoSource(settings.mcp_data_dir)
    source = tools

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.callback(tracing.start())  # on only with an OTLP endpoint; flushed and shut down last
            await source.open()  # upstreams connect and list their tools here; ConfigError if one cannot
            stack.push_async_callback(source.close)
            store = trust_store
            if store is None:
                store = open_trust_store(
                    settings.redis_url,
                    prefix=settings.redis_prefix,
                    leeway=settings.leeway_seconds,
                    max_session_seconds=settings.max_session_seconds,
                    cache_size=settings.session_key_cache_size,
                )
                stack.push_async_callback(store.close)
            audit = AuditLog(settings.mcp_audit_log)
            audit.open()
            stack.callback(audit.close)
            guard = None
            if settings.mcp_verify:
                guard = CallGuard(store, trusted, audience=settings.mcp_id, leeway=settings.leeway_seconds, clock=clock)
            else:
                _log.warning(
                    "SIGNATURE VERIFICATION IS OFF (SENTINEL_MCP_VERIFY=false): this tool server executes "
                    "ANY request. Use this only for benchmarks, never where an agent can reach it."
                )
            holder.runtime = Runtime(
                tools=source,
                guard=guard,
                store=store,
                audit=audit,
                trusted_keys=trusted,
                audience=settings.mcp_id,
                leeway=settings.leeway_seconds,
                max_body_bytes=settings.max_body_bytes,
                max_session_seconds=settings.max_session_seconds,
                readiness=open_readiness(store),
                clock=clock,
                metrics=metrics,
            )
            stack.push_async_callback(holder.runtime.readiness.close)
            try:
                yield
            finally:
                holder.runtime = None

    app = _ToolServerApp(
        title="Sentinel tool server", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.holder = holder
    app.router.routes.extend(build_routes(holder))
    return app
