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

from collections.abc import Mapping, MutableMapping

from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["TRACEPARENT", "TRACES_ENDPOINT_VARIABLES", "extract_context", "inject_context", "open_provider",
           "traces_endpoint", "traces_wanted"]

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
