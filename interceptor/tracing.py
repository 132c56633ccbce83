"""Traces of governed calls: one ``tools/call {tool}`` span per call (SpanKind.SERVER), with the
stages ``decide``, ``forward`` and ``observe`` under it, and the trace context carried to the tool
server in the forwarded request's ``traceparent`` header, so its span joins the trace.

Off unless an OTLP endpoint is configured when the app starts (``sentinel_http.traces_wanted``);
``start`` is called by the app's lifespan and returns what shuts the exporter down. Off, the call
path reads ``SWITCH.on`` once and does nothing else: no span is entered, not even a no-op one.

A span names the tool, the session, the decision (effect and rule) and the jti, as the audit
trail does, following the OpenTelemetry MCP conventions where they have a name
(``mcp.method.name``, ``gen_ai.tool.name``, ``mcp.session.id``). It must never carry the
arguments, the tool's output, a token or a key.
"""

from __future__ import annotations

from opentelemetry.trace import Span, SpanKind, StatusCode, set_span_in_context

from interceptor.errors import InterceptorError
from sentinel_http import TraceSwitch, inject_context
from sentinel_policy import Decision

__all__ = ["SERVICE_NAME", "SWITCH", "CallTrace", "install", "start", "uninstall"]

SERVICE_NAME = "sentinel-interceptor"
SWITCH = TraceSwitch(SERVICE_NAME, "sentinel.interceptor")  # SWITCH.on is read once per call: the cost when off
start, install, uninstall = SWITCH.start, SWITCH.install, SWITCH.uninstall


class CallTrace:
    """The spans of one governed call; built only when ``SWITCH.on``. One stage is open at a time."""

    __slots__ = ("_context", "_span", "_stage", "_tracer")

    def __init__(self, tool: str, sid: str) -> None:
        tracer = SWITCH.tracer
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
