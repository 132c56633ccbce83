"""The OpenTelemetry plumbing both services share: whether traces are wanted, the provider that
exports them over OTLP/HTTP, and the W3C trace context carried on the forwarded request.

Tracing is wanted only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
is set when a service starts; the exporter reads the rest of the standard ``OTEL_EXPORTER_OTLP_*``
variables itself. Each service builds its own provider (never the process-global one), so two
services in one process keep their service names. This module never puts a value it is not
given into a span: what a span carries is each zone's choice (``interceptor.tracing``,
``mcp_server.tracing``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, MutableMapping

from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "TRACEPARENT",
    "TRACES_ENDPOINT_VARIABLES",
    "TraceSwitch",
    "extract_context",
    "inject_context",
    "open_provider",
    "traces_endpoint",
    "traces_wanted",
]

TRACES_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
TRACEPARENT = "traceparent"
_PROPAGATOR = TraceContextTextMapPropagator()


def traces_endpoint(environ: Mapping[str, str]) -> str | None:
    """Where OTLP/HTTP traces go, or None (tracing off): the traces endpoint as it is, else the
    general endpoint with ``/v1/traces``, as the OpenTelemetry exporter specification says."""
    specific = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if specific:
        return specific
    general = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return general.rstrip("/") + "/v1/traces" if general else None


def traces_wanted(environ: Mapping[str, str]) -> bool:
    """True when an OTLP endpoint for traces is configured (read once, at start-up)."""
    return traces_endpoint(environ) is not None


def open_provider(
    service_name: str, processor: SpanProcessor | None = None, endpoint: str | None = None
) -> TracerProvider:
    """A provider for one service; spans go to ``processor``, by default batched to the OTLP/HTTP
    exporter at ``endpoint`` (the exporter reads its other settings, headers, timeout, from the environment)."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))
    provider.add_span_processor(processor)
    return provider


def inject_context(context: Context, headers: MutableMapping[str, str]) -> None:
    """Add the W3C ``traceparent`` (and ``tracestate``) of ``context`` to outgoing headers."""
    _PROPAGATOR.inject(headers, context=context)


def extract_context(traceparent: str | None) -> Context | None:
    """The remote parent named by an incoming ``traceparent``, or None (a new trace starts)."""
    if not traceparent:
        return None
    return _PROPAGATOR.extract({TRACEPARENT: traceparent})


class TraceSwitch:
    """One service's tracing: off (``on`` False, the whole cost a hot path pays) until ``start`` finds an
    OTLP endpoint, or a test ``install``s a provider; then ``tracer`` makes its spans."""

    def __init__(self, service: str, scope: str) -> None:
        self.service, self.scope = service, scope
        self.on = False
        self.tracer: Tracer | None = None
        self.provider: TracerProvider | None = None

    def start(self, environ: Mapping[str, str] = os.environ, processor: SpanProcessor | None = None
              ) -> Callable[[], None]:
        """Turn tracing on if an OTLP endpoint is configured (or ``processor`` is given); the stop to call at
        shutdown. A provider installed already (by a test) is kept and left to whoever installed it."""
        endpoint = traces_endpoint(environ)
        if self.on or (processor is None and endpoint is None):
            return _nothing
        self.install(open_provider(self.service, processor, endpoint))
        return self.uninstall

    def install(self, provider: TracerProvider) -> None:
        """Trace from now on through ``provider`` (the app's lifespan, or a test's in-memory exporter)."""
        self.provider, self.tracer = provider, provider.get_tracer(self.scope)
        self.on = True

    def uninstall(self) -> None:
        """Stop tracing and flush what is pending to the exporter."""
        provider, self.on, self.tracer, self.provider = self.provider, False, None, None
        if provider is not None:
            provider.shutdown()


def _nothing() -> None:
    return None
