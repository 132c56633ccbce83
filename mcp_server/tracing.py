"""Traces of the tool server: one span per ``POST /rpc`` (SpanKind.SERVER), the child of the
interceptor's ``forward`` span when the request carries its ``traceparent``, so a governed call
is one trace across both zones.

Off unless an OTLP endpoint is configured when the app starts (``sentinel_http.traces_wanted``);
``start`` is called by the app's lifespan and returns what shuts the exporter down. Off, a request
reads ``ON`` and does nothing else. The span is named after the request's audit record
(``tools/call {tool}``) and carries what that record names: method, tool, session, jti and
outcome; it must never carry the arguments, the result or the token.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer

from sentinel_http import extract_context, open_provider, traces_endpoint

__all__ = ["ON", "SERVICE_NAME", "install", "recorded", "rpc_span", "start", "uninstall"]

SERVICE_NAME = "sentinel-tool-server"
ON = False  # read once per request: the whole cost of tracing when it is off
_tracer: Tracer | None = None
_provider: TracerProvider | None = None


def start(environ: Mapping[str, str] = os.environ, processor: SpanProcessor | None = None) -> Callable[[], None]:
    """Turn tracing on if an OTLP endpoint is configured (or ``processor`` is given); the stop to call at shutdown.

    A provider installed already (by a test, :func:`install`) is kept and left to whoever installed it.
    """
    endpoint = traces_endpoint(environ)
    if ON or (processor is None and endpoint is None):
        return _nothing
    install(open_provider(SERVICE_NAME, processor, endpoint))
    return uninstall


def install(provider: TracerProvider) -> None:
    global ON, _tracer, _provider
    _provider, _tracer = provider, provider.get_tracer("sentinel.tool_server")
    ON = True


def uninstall() -> None:
    global ON, _tracer, _provider
    provider, ON, _tracer, _provider = _provider, False, None, None
    if provider is not None:
        provider.shutdown()


def _nothing() -> None:
    return None


def rpc_span(traceparent: str | None) -> Span:
    """The span of one ``POST /rpc``, under the caller's trace if it sent one; only when ``ON``."""
    tracer = _tracer
    if tracer is None:
        raise RuntimeError("tracing is off")
    return tracer.start_span("POST /rpc", context=extract_context(traceparent), kind=SpanKind.SERVER)


def recorded(entry: Mapping[str, Any]) -> None:
    """Copy what the request's audit record names onto the current span (the one ``rpc_span`` opened)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    method, tool = entry.get("method"), entry.get("tool")
    if method is not None:
        span.update_name(f"{method} {tool}" if method == "tools/call" and tool else method)
        span.set_attribute("mcp.method.name", method)
    if method == "tools/call" and tool is not None:
        span.set_attribute("gen_ai.tool.name", tool)
    for key, name in (("sid", "mcp.session.id"), ("jti", "sentinel.jti")):
        if entry.get(key) is not None:
            span.set_attribute(name, entry[key])
    span.set_attribute("sentinel.outcome", entry["event"])
    span.set_attribute("sentinel.verified", bool(entry.get("verified")))
    if entry["event"] == "rejected":
        span.set_attribute("error.type", entry.get("reason") or "rejected")
        if entry.get("reason") in ("internal_error", "store_unavailable"):
            span.set_status(StatusCode.ERROR)
