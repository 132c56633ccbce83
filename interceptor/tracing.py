"""Traces of governed calls: one ``tools/call {tool}`` span per call (SpanKind.SERVER), with the
stages ``decide``, ``forward`` and ``observe`` under it, and the trace context carried to the tool
server in the forwarded request's ``traceparent`` header, so its span joins the trace.

Off unless an OTLP endpoint is configured when the app starts (``sentinel_http.traces_wanted``);
``start`` is called by the app's lifespan and returns what shuts the exporter down. Off, the call
path reads ``ON`` once and does nothing else: no span is entered, not even a no-op one.

A span names the tool, the session, the decision (effect and rule) and the jti, as the audit
trail does, following the OpenTelemetry MCP conventions where they have a name
(``mcp.method.name``, ``gen_ai.tool.name``, ``mcp.session.id``). It must never carry the
arguments, the tool's output, a token or a key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer, set_span_in_context

from interceptor.errors import InterceptorError
from sentinel_http import inject_context, open_provider, traces_endpoint
from sentinel_policy import Decision

__all__ = ["ON", "SERVICE_NAME", "CallTrace", "install", "start", "uninstall"]

SERVICE_NAME = "sentinel-interceptor"
ON = False  # read once per call: the whole cost of tracing when it is off
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
    """Trace every call from now on through ``provider`` (the app's lifespan, or a test's in-memory exporter)."""
    global ON, _tracer, _provider
    _provider, _tracer = provider, provider.get_tracer("sentinel.interceptor")
    ON = True


def uninstall() -> None:
    """Stop tracing and flush what is pending to the exporter."""
    global ON, _tracer, _provider
    provider, ON, _tracer, _provider = _provider, False, None, None
    if provider is not None:
        provider.shutdown()


def _nothing() -> None:
    return None


class CallTrace:
    """The spans of one governed call; built only when ``ON``. One stage is open at a time."""

    __slots__ = ("_context", "_span", "_stage", "_tracer")

    def __init__(self, tool: str, sid: str) -> None:
        tracer = _tracer
        if tracer is None:
            raise RuntimeError("tracing is off")
        self._tracer = tracer
        self._span = tracer.start_span(
            f"tools/call {tool}",
            kind=SpanKind.SERVER,
            attributes={
                "mcp.method.name": "tools/call",
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool,
                "mcp.session.id": sid,
            },
        )
        self._context = set_span_in_context(self._span)
        self._stage: Span | None = None

    def stage(self, name: str) -> None:
        """End the open stage, if any, and open ``name`` under the call's span."""
        if self._stage is not None:
            self._stage.end()
        self._stage = self._tracer.start_span(name, context=self._context)

    def decided(self, decision: Decision, rule: str) -> None:
        self._span.set_attributes({"sentinel.decision.effect": decision.effect.value, "sentinel.decision.rule": rule})

    def forwarding(self, jti: str) -> dict[str, str]:
        """Open the ``forward`` stage; the headers that carry its trace context to the tool server."""
        self._span.set_attribute("sentinel.jti", jti)
        self.stage("forward")
        headers: dict[str, str] = {}
        inject_context(set_span_in_context(self._stage or self._span), headers)
        return headers

    def failed(self, exc: BaseException) -> None:
        """Name the refusal or failure (its code, never its message) on the open stage and the call.

        A refusal the agent caused (4xx: a deny, a rate limit) is the call's answer, not a fault of the
        service: only a 5xx or an unexpected exception marks the spans as errors.
        """
        if isinstance(exc, InterceptorError):
            kind, fault = exc.code, exc.status >= 500
        else:
            kind, fault = type(exc).__qualname__, True
        for span in (self._stage, self._span):
            if span is not None:
                span.set_attribute("error.type", kind)
                if fault:
                    span.set_status(StatusCode.ERROR)

    def end(self) -> None:
        if self._stage is not None:
            self._stage.end()
        self._span.end()
