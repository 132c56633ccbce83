"""Tracing is on only with an OTLP endpoint at start-up, under each service's own name, and off after stop."""

from __future__ import annotations

from types import ModuleType

import pytest

from interceptor import tracing as interceptor_tracing
from mcp_server import tracing as tool_server_tracing
from sentinel_http import traces_endpoint, traces_wanted


@pytest.mark.parametrize(("environ", "wanted"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_EXPORTER": "otlp"}, False),
])
def test_traces_are_wanted_only_with_an_otlp_endpoint(environ: dict[str, str], wanted: bool) -> None:
    assert traces_wanted(environ) is wanted


@pytest.mark.parametrize(("environ", "endpoint"), [
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "http://collector:4318/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, "http://collector:4318/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b/t"}, "http://b/t"),
])
def test_the_traces_endpoint_is_the_specific_one_else_the_general_one_with_v1_traces(
    environ: dict[str, str], endpoint: str
) -> None:
    assert traces_endpoint(environ) == endpoint


@pytest.mark.parametrize(("tracing", "service"), [
    (interceptor_tracing, "sentinel-interceptor"),
    (tool_server_tracing, "sentinel-tool-server"),
])
def test_start_turns_tracing_on_under_the_service_name_and_stop_turns_it_off(
    tracing: ModuleType, service: str
) -> None:
    assert tracing.start({}) is not None and not tracing.SWITCH.on
    stop = tracing.start({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    try:
        assert tracing.SWITCH.on
        assert tracing.SWITCH.provider.resource.attributes["service.name"] == service
    finally:
        stop()
    assert not tracing.SWITCH.on and tracing.SWITCH.provider is None
