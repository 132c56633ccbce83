"""HTTP plumbing both services use: the forwarding client, the server launcher, raw-ASGI helpers,
and the readiness report behind each service's ``/readyz``.

Library code with no knowledge of either zone: it raises its own neutral errors
(:class:`HTTPClientError` for the client, :class:`ASGIRequestError` for a
request's body) and each service maps them to its own, in one place, as httpx
maps httpcore's.
"""

from sentinel_http._asgi import (
    ASGIRequestError,
    BadContentLength,
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    check_declared,
    first_headers,
    read_body,
    send_json,
)
from sentinel_http._client import (
    MAX_CONNECTIONS,
    MAX_RESPONSE_BYTES,
    ConnectFailed,
    ExchangeFailed,
    ExchangeTimeout,
    HTTPClientError,
    KeepAliveClient,
    MalformedResponse,
    ResponseTooLarge,
)
from sentinel_http._histogram import LATENCY_BUCKETS, LatencyHistogram
from sentinel_http._json import repeated_key
from sentinel_http._readiness import Check, LogThrottle, NotReady, Readiness, ReadinessReport
from sentinel_http._server import CoalescingTransport, ServerLimits, serve_app
from sentinel_http._tracing import (
    TRACEPARENT,
    TraceSwitch,
    extract_context,
    inject_context,
    open_provider,
    traces_endpoint,
    traces_wanted,
)

__all__ = [
    "LATENCY_BUCKETS",
    "MAX_CONNECTIONS",
    "MAX_RESPONSE_BYTES",
    "TRACEPARENT",
    "ASGIRequestError",
    "BadContentLength",
    "BodyTooLarge",
    "Check",
    "ClientDisconnected",
    "CoalescingTransport",
    "ConnectFailed",
    "ExchangeFailed",
    "ExchangeTimeout",
    "HTTPClientError",
    "KeepAliveClient",
    "LatencyHistogram",
    "LogThrottle",
    "MalformedResponse",
    "NotReady",
    "Readiness",
    "ReadinessReport",
    "Receive",
    "ResponseTooLarge",
    "Scope",
    "Send",
    "ServerLimits",
    "TraceSwitch",
    "check_declared",
    "extract_context",
    "first_headers",
    "inject_context",
    "open_provider",
    "read_body",
    "repeated_key",
    "send_json",
    "serve_app",
    "traces_endpoint",
    "traces_wanted",
]
