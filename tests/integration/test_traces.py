"""OpenTelemetry traces of governed calls on both services (memory state, real tool server in process),
spans kept by an in-memory exporter instead of the OTLP one."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from interceptor import tracing as interceptor_tracing
from interceptor.app import create_app
from interceptor.settings import load_settings
from interceptor.state.memory import MemoryStateStore
from mcp_server import tracing as tool_server_tracing
from mcp_server.app import create_app as create_tool_server
from mcp_server.settings import McpSettings
from sentinel_contract import b64url_encode, generate_keypair
from tests.conftest import in_process_stack

DEMO_KEY = "sk-sentinel-demo"
ADMIN_KEY = "adm-traces-0123456789"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sentinel.yaml"
SECRET = "quarterly-figures-7f3a9c"  # an argument value: it must appear in no span


@dataclass
class Stack:
    client: httpx.AsyncClient

    async def start(self) -> str:
        response = await self.client.post("/session/start", headers={"X-Sentinel-Key": DEMO_KEY})
        return str(response.json()["session_id"])

    async def call(self, sid: str, tool: str, arguments: dict[str, object]) -> httpx.Response:
        return await self.client.post(
            f"/session/{sid}/call", headers={"X-Sentinel-Key": DEMO_KEY}, json={"tool": tool, "arguments": arguments}
        )


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Both services trace to one in-memory exporter (the hook tests use instead of OTLP)."""
    exporter = InMemorySpanExporter()
    for tracing in (interceptor_tracing, tool_server_tracing):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracing.install(provider)
    yield exporter
    interceptor_tracing.uninstall()
    tool_server_tracing.uninstall()


@pytest.fixture
async def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    admin = f"ops:{hashlib.sha256(ADMIN_KEY.encode()).hexdigest()}"
    async with in_process_stack(tmp_path, admin_keys=admin) as (_, client, _upstream):
        yield Stack(client)


def _by_name(spans: tuple[ReadableSpan, ...], scope: str = "sentinel.interceptor") -> dict[str, ReadableSpan]:
    """The spans one service made (both name a call's span ``tools/call {tool}``), by name."""
    mine = [span for span in spans if span.instrumentation_scope and span.instrumentation_scope.name == scope]
    named = {span.name: span for span in mine}
    assert len(named) == len(mine), [span.name for span in mine]
    return named


def _everything_said(spans: tuple[ReadableSpan, ...]) -> str:
    return " ".join(f"{span.name} {dict(span.attributes or {})} {[e.attributes for e in span.events]}" for span in spans)


async def test_a_governed_call_is_one_server_span_with_decide_forward_and_observe_under_it(
    exporter: InMemorySpanExporter, stack: Stack
) -> None:
    sid = await stack.start()
    response = await stack.call(sid, "send_email", {"to": "bob@example.com", "subject": SECRET, "body": SECRET})
    assert response.status_code == 200, response.text
    spans = exporter.get_finished_spans()
    named = _by_name(spans)
    call = named["tools/call send_email"]
    assert call.kind is SpanKind.SERVER and call.parent is None
    assert dict(call.attributes or {}) == {
        "mcp.method.name": "tools/call",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "send_email",
        "mcp.session.id": sid,
        "sentinel.decision.effect": "allow",
        "sentinel.decision.rule": "staticRules.send_email",
        "sentinel.jti": response.json()["jti"],
    }
    for stage in ("decide", "forward", "observe"):
        assert named[stage].parent is not None and named[stage].parent.span_id == call.context.span_id, stage
        assert named[stage].context.trace_id == call.context.trace_id
    assert named["decide"].end_time <= named["forward"].start_time <= named["forward"].end_time  # type: ignore[operator]
    assert named["forward"].end_time <= named["observe"].start_time  # type: ignore[operator]
    said = _everything_said(spans)
    assert SECRET not in said and "bob@example.com" not in said and DEMO_KEY not in said and "Bearer" not in said


async def test_the_tool_servers_span_joins_the_trace_under_the_forward_stage(
    exporter: InMemorySpanExporter, stack: Stack
) -> None:
    sid = await stack.start()
    response = await stack.call(sid, "get_current_time", {"timezone": "UTC"})
    assert response.status_code == 200, response.text
    spans = exporter.get_finished_spans()
    server_side = _by_name(spans, "sentinel.tool_server")
    assert list(server_side) == ["tools/call get_current_time"]
    rpc = server_side["tools/call get_current_time"]
    forward = _by_name(spans)["forward"]
    assert rpc.name == "tools/call get_current_time" and rpc.kind is SpanKind.SERVER
    assert rpc.context.trace_id == forward.context.trace_id
    assert rpc.parent is not None and rpc.parent.span_id == forward.context.span_id and rpc.parent.is_remote
    assert dict(rpc.attributes or {}) == {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "get_current_time",
        "mcp.session.id": sid,
        "sentinel.jti": response.json()["jti"],
        "sentinel.outcome": "executed",
        "sentinel.verified": True,
    }


async def test_a_denied_call_names_its_rule_and_is_not_an_error(exporter: InMemorySpanExporter, stack: Stack) -> None:
    sid = await stack.start()
    response = await stack.call(sid, "delete_file", {"path": SECRET})
    assert response.status_code == 403
    spans = exporter.get_finished_spans()
    named = _by_name(spans)
    assert set(named) == {"tools/call delete_file", "decide"}
    assert _by_name(spans, "sentinel.tool_server") == {}  # nothing forwarded
    call = named["tools/call delete_file"]
    attributes = dict(call.attributes or {})
    assert attributes["sentinel.decision.effect"] == "deny"
    assert attributes["sentinel.decision.rule"] == "staticRules.delete_file"
    assert attributes["error.type"] == "policy_denied" and "sentinel.jti" not in attributes
    assert call.status.status_code is not StatusCode.ERROR
    assert SECRET not in _everything_said(exporter.get_finished_spans())


async def test_with_tracing_off_no_span_is_entered(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    entered: list[Any] = []

    def record(*args: Any) -> Any:
        entered.append(args)
        raise AssertionError("a span was entered with tracing off")

    monkeypatch.setattr(interceptor_tracing, "CallTrace", record)
    monkeypatch.setattr(tool_server_tracing, "rpc_span", record)
    monkeypatch.setattr(tool_server_tracing, "recorded", record)
    assert not interceptor_tracing.SWITCH.on and not tool_server_tracing.SWITCH.on
    sid = await stack.start()
    assert (await stack.call(sid, "get_current_time", {"timezone": "UTC"})).status_code == 200
    assert (await stack.call(sid, "delete_file", {"path": "notes.txt"})).status_code == 403
    assert entered == []


def test_with_an_otlp_endpoint_spans_are_posted_to_it_and_flushed_at_stop() -> None:
    """The real exporter, to a stand-in collector: ``POST /v1/traces``, protobuf, the service named."""
    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, self.headers["content-type"], self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stop = interceptor_tracing.start({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}"})
        trace = interceptor_tracing.CallTrace("send_email", "sid-1")
        trace.stage("decide")
        trace.end()
        stop()  # the app's lifespan calls this at shutdown: the batch is sent before it returns
    finally:
        server.shutdown()
        server.server_close()
    assert [(path, kind) for path, kind, _ in received] == [("/v1/traces", "application/x-protobuf")]
    assert b"sentinel-interceptor" in received[0][2] and b"tools/call send_email" in received[0][2]


async def test_the_lifespans_turn_tracing_on_with_an_endpoint_and_off_at_shutdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # nothing is sent: no call is made
    identity = generate_keypair()
    tool_server = create_tool_server(McpSettings(
        interceptor_public_keys=identity.public_b64, mcp_audit_log=tmp_path / "mcp-audit.jsonl",
        mcp_data_dir=tmp_path / "mcp-data",
    ))
    settings = load_settings(identity_key=b64url_encode(identity.seed), config_path=EXAMPLE,
                             audit_log=tmp_path / "audit.jsonl")
    app = create_app(settings, state_store=MemoryStateStore())
    async with tool_server.router.lifespan_context(tool_server), app.router.lifespan_context(app):
        assert tool_server_tracing.SWITCH.on and interceptor_tracing.SWITCH.on
        assert interceptor_tracing.SWITCH.provider is not None
        assert interceptor_tracing.SWITCH.provider.resource.attributes["service.name"] == "sentinel-interceptor"
    assert not tool_server_tracing.SWITCH.on and not interceptor_tracing.SWITCH.on
