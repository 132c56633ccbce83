"""Traces of the tool server: one span per ``POST /rpc`` (SpanKind.SERVER), the child of the
interceptor's ``forward`` span when the request carries its ``traceparent``, so a governed call
is one trace across both zones.

Off unless an OTLP endpoint is configured when the app starts (``sentinel_http.traces_wanted``);
``start`` is called by the app's lifespan and returns what shuts the exporter down. Off, a request
reads ``SWITCH.on`` and does nothing else. The span is named after the request's audit record
(``tools/call {tool}``) and carries what that record names: method, tool, session, jti and
outcome; it must never carry the arguments, the result or the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from sentinel_http import TraceSwitch, extract_context

__all__ = ["SERVICE_NAME", "SWITCH", "install", "recorded", "rpc_span", "start", "uninstall"]

SERVICE_NAME = "sentinel-tool-server"
SWITCH = TraceSwitch(SERVICE_NAME, "sentinel.tool_server")  # SWITCH.on is read once per call: the cost when off
start, install, uninstall = SWITCH.start, SWITCH.install, SWITCH.uninstall


def rpc_span(traceparent: str | None) -> Span:
    """The span of one ``POST /rpc``, under the caller's trace if it sent one; only when ``SWITCH.on``."""
    tracer = SWITCH.tracer
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
