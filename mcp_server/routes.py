"""The HTTP edge besides the hot path: ``POST /sessions``, ``DELETE /sessions/{sid}``,
``GET /healthz`` (liveness), ``GET /readyz`` (readiness), ``GET /metrics`` (Prometheus text, open: this
server's network is internal; mcp_server.metrics), and the framework's ``POST /rpc`` route.

Thin on purpose: read a capped body, verify the token, hand it to the trust
store, map errors to a response once. ``POST /rpc`` is normally answered as raw
ASGI before FastAPI (:mod:`mcp_server.calls`); the Starlette route here serves
whatever that dispatch does not take, through the same function and body reader.

Session endpoints answer HTTP statuses (201/200, 400 bad body or sid, 401 refused token, 409
revoked or conflicting sid, 413, 503 store down) with ``{"error": {"code",
"message"}}``; ``/rpc`` always answers 200 with JSON-RPC (see :mod:`mcp_server.calls`).
``/readyz`` answers 200 ``{"status": "ready", "service", "max_body_bytes", "checks",
"not_ready": []}`` or 503 with ``"status": "not_ready"`` and the checks that failed.
Bodies are capped before they are read in full. Nothing here may execute a tool.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mcp_server.audit import AuditLog
from mcp_server.calls import answer_rpc, read_body
from mcp_server.errors import AuthError, McpError, ProtocolError
from mcp_server.metrics import CONTENT_TYPE_LATEST
from mcp_server.readiness import SERVICE
from mcp_server.runtime import Runtime, RuntimeHolder
from sentinel_contract import (
    READINESS_PATH,
    REGISTRATION_PATH,
    REVOCATION_PATH,
    RPC_PATH,
    ContractError,
    verify_registration,
    verify_revocation,
)

__all__ = ["build_routes"]

# What secrets.token_urlsafe makes (the interceptor's sids), at most the guard's kid limit.
_SID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def build_routes(holder: RuntimeHolder) -> list[BaseRoute]:
    def runtime() -> Runtime:
        assert holder.runtime is not None, "the app's lifespan has not run"
        return holder.runtime

    async def rpc(request: Request) -> Response:
        headers = request.headers
        payload = await answer_rpc(
            runtime(), headers.get("authorization"), headers.get("content-length"), request.receive
        )
        return Response(payload, media_type="application/json")

    async def register(request: Request) -> Response:
        rt = runtime()
        sid: str | None = None
        try:
            token = await _token(request, rt.max_body_bytes)
            now = rt.clock()
            claims = verify_registration(token, rt.trusted_keys, audience=rt.audience, leeway=rt.leeway, now=now)
            sid = claims.sid
            if not _SID.fullmatch(sid):
                # An sid with '/' could never be revoked (DELETE /sessions/{sid}), one over
                # 128 characters never used (the guard refuses such a kid): refuse it here.
                raise ProtocolError("a session id must be 1-128 characters of A-Z a-z 0-9 _ -", code="invalid_sid")
            if claims.exp - claims.iat > rt.max_session_seconds:
                raise AuthError("the session would last longer than this server allows", code="session_too_long")
            outcome = await rt.store.register(claims.sid, claims.public_key, claims.exp, now=now)
        except (McpError, ContractError) as exc:
            return _refuse(rt.audit, exc, "sessions/register", sid)
        rt.audit.record("executed", outcome, method="sessions/register", sid=sid, verified=True)
        status = 201 if outcome == "registered" else 200
        return _json({"sid": claims.sid, "expires_at": claims.exp, "status": outcome}, status)

    async def revoke(request: Request) -> Response:
        rt = runtime()
        sid = request.path_params["sid"]
        try:
            token = await _token(request, rt.max_body_bytes)
            now = rt.clock()
            verify_revocation(token, rt.trusted_keys, sid=sid, audience=rt.audience, leeway=rt.leeway, now=now)
            live = await rt.store.revoke(sid, now=now)
        except (McpError, ContractError) as exc:
            return _refuse(rt.audit, exc, "sessions/revoke", sid)
        rt.audit.record("executed", "revoked", method="sessions/revoke", sid=sid, verified=True)
        return _json({"sid": sid, "revoked": True, "was_live": live})

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})  # liveness only: the process answers

    async def readyz(request: Request) -> Response:
        rt = holder.runtime
        if rt is None:  # before the lifespan has opened the stores, or after it closed them
            return _json({"status": "not_ready", "service": SERVICE, "checks": {}, "not_ready": ["starting"]}, 503)
        report = await rt.readiness.report()
        body = report.body(service=SERVICE, max_body_bytes=rt.max_body_bytes)
        return _json(body, 200 if report.ready else 503)

    async def metrics(request: Request) -> Response:
        rt = holder.runtime
        if rt is None:
            return _json({"error": {"code": "starting", "message": "the server is not ready"}}, 503)
        return Response(rt.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route(RPC_PATH, rpc, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route(REGISTRATION_PATH, register, methods=["POST"]),
        Route(REVOCATION_PATH, revoke, methods=["DELETE"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route(READINESS_PATH, readyz, methods=["GET"]),
    ]


async def _token(request: Request, limit: int) -> str:
    body = await read_body(request.receive, request.headers.get("content-length"), limit)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProtocolError("the body is not valid JSON", code="parse_error") from None
    token = payload.get("token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise AuthError('the body must be {"token": "<signed JWT>"}', code="missing_token", http_status=400)
    return token


def _refuse(audit: AuditLog, exc: McpError | ContractError, method: str, sid: str | None) -> Response:
    if isinstance(exc, ContractError):
        code, message, status = exc.code, exc.message, 401
    else:
        code, message, status = exc.code, exc.message, exc.http_status
    audit.record("rejected", code, method=method, sid=sid, verified=False)
    return _json({"error": {"code": code, "message": message}}, status)
