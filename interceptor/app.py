"""The interceptor service: ``create_app`` wires settings, stores, the tool-server
client and the routes into one FastAPI app.

Tool calls bypass FastAPI's request machinery (see ``_InterceptorApp``).
The lifespan opens what was not injected (config store, state store, ONE pooled
forwarding client: the keep-alive client of ``sentinel_http``, or the injected httpx
client), tracing when an OTLP endpoint is configured (``interceptor.tracing``), the policy worker thread for large calls and the readiness report, and
closes only what it opened. Nothing here reads the environment
except through InterceptorSettings, built once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from interceptor import tracing
from interceptor.admin import admin_router, metrics_router
from interceptor.approvals import Approvals
from interceptor.audit import AuditLog
from interceptor.audit_sink import PostgresAuditSink
from interceptor.breakglass import BreakGlassDesk
from interceptor.calls import CallEnforcer, PolicyWorker
from interceptor.config import ConfigStore, open_config_store
from interceptor.definitions import LiveDefinitions
from interceptor.events import Events
from interceptor.forwarding import ToolServerClient
from interceptor.limits import RateLimiter
from interceptor.mcp_endpoint import serve_mcp
from interceptor.metrics import InterceptorMetrics
from interceptor.projects import ProjectDirectory
from interceptor.readiness import open_readiness
from interceptor.routes import (
    CALL_PATH,
    call_route,
    install_error_handlers,
    router,
    serve_call,
)
from interceptor.runtime import Runtime
from interceptor.sessions import SessionIdentity, Sessions
from interceptor.settings import InterceptorSettings, load_settings
from interceptor.signing import KeySealer, SessionKeyRing
from interceptor.state import ApprovalBounds, StateStore, open_state_store
from interceptor.webhooks import Webhook
from sentinel_contract import MCP_PATH, load_signing_key

__all__ = ["create_app"]


class _InterceptorApp(FastAPI):
    """FastAPI, except that a tool call goes straight to ``routes.serve_call``, and ``/mcp`` to ``mcp_endpoint``.

    The call is nearly all of the traffic, and the middleware stack and route
    wrappers cost more than the handler (docs/performance.md); every other
    request, and anything the fast dispatch does not recognise, goes through
    FastAPI as usual.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            runtime = getattr(self.state, "runtime", None)
            if runtime is not None:
                if scope["method"] == "POST" and (match := CALL_PATH.fullmatch(scope["path"])) is not None:
                    scope["app"] = self
                    await serve_call(runtime, match.group(1), scope, receive, send)
                    return
                if scope["path"] == MCP_PATH:  # the MCP front door (mcp_endpoint.py), every method
                    scope["app"] = self
                    await serve_mcp(runtime, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


def create_app(
    settings: InterceptorSettings | None = None,
    *,
    config_store: ConfigStore | None = None,
    state_store: StateStore | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            stack.callback(tracing.start())  # on only with an OTLP endpoint; flushed and shut down last
            config = config_store
            if config is None:
                # YAML, PostgreSQL or Supabase, behind the TTL cache with bounded stale serving.
                config = open_config_store(settings)
                stack.push_async_callback(config.close)
            state = state_store
            if state is None:
                state = open_state_store(settings.redis_url, prefix=settings.redis_prefix)
                stack.push_async_callback(state.close)
            upstream = ToolServerClient(settings.mcp_upstream_url, settings.upstream_timeout_seconds, http_client)
            stack.push_async_callback(upstream.close)
            sink = None
            if settings.audit_database_url is not None and settings.audit_database_url.get_secret_value():
                sink = PostgresAuditSink(settings.audit_database_url.get_secret_value(),
                                         schema=settings.database_schema, bound=settings.audit_buffer_records)
                sink.start()
                stack.push_async_callback(sink.close)
            audit = AuditLog(settings.audit_log, max_bytes=settings.audit_max_bytes, keep=settings.audit_keep_files,
                             sink=sink)
            audit.open()
            stack.callback(audit.close)

            metrics = InterceptorMetrics()
            identity_key = load_signing_key(settings.identity_key.get_secret_value().strip())
            previous = [load_signing_key(seed).seed for seed in settings.previous_identity_seeds()]
            sealer = KeySealer(identity_key.seed, previous)
            identity = SessionIdentity(settings.interceptor_id, settings.mcp_id, identity_key)
            sessions = Sessions(
                identity,
                state,
                upstream,
                sealer,
                SessionKeyRing(sealer),
                ttl_seconds=settings.session_ttl_seconds,
                call_ttl_seconds=settings.call_ttl_seconds,
                metrics=metrics,
            )
            directory = ProjectDirectory(config)
            worker = PolicyWorker()
            stack.callback(worker.close)
            webhook = None
            if settings.webhook_url and settings.webhook_secret:
                webhook = Webhook(settings.webhook_url, settings.webhook_secret.get_secret_value().encode())
                webhook.start()
                stack.push_async_callback(webhook.close)
            bounds = ApprovalBounds(settings.max_pending_approvals_per_session,
                                    settings.max_pending_approvals_per_project, window=settings.session_ttl_seconds)
            events = Events(audit, webhook, metrics)
            approvals = Approvals(state, sealer, events, bounds)
            limiter = RateLimiter(state)
            breakglass = BreakGlassDesk(state, events)
            enforcer = CallEnforcer(sessions, directory, upstream, audit, approvals, limiter, breakglass, worker, metrics)
            readiness = open_readiness(config, state, upstream, settings)
            stack.push_async_callback(readiness.close)
            definitions = LiveDefinitions(upstream, identity, directory, ttl_seconds=settings.definitions_ttl_seconds)
            stack.push_async_callback(definitions.close)
            app.state.runtime = Runtime(settings, state, directory, sessions, enforcer, audit, readiness, approvals,
                                        definitions, limiter, breakglass, events, metrics)
            yield {}

    app = _InterceptorApp(
        title="Sentinel interceptor",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.router.routes.insert(0, call_route)  # first: the route nearly every request takes
    app.include_router(router)
    app.include_router(admin_router)
    app.include_router(metrics_router)
    install_error_handlers(app)
    return app
