"""The admin API: what people (approvers, operators) do, with admin keys, never with an agent's key.

    GET  /admin/approvals?project=P            -> 200 {"approvals": [...]}      newest first, no arguments
    GET  /admin/approvals/{id}                 -> 200 {..., "arguments": {...}}  what the approver decides on
                                                   (403 not_an_approver for any other admin)
    POST /admin/approvals/{id}/approve         -> 200 {...}   body {} or {"note": text}
    POST /admin/approvals/{id}/deny            -> 200 {...}
    GET  /admin/sessions?project=P[&agent=A]   -> 200 {"sessions": [...]}       live sessions, newest first
    POST /admin/sessions/{sid}/revoke          -> 200 {"revoked": [sid], "confirmed_by_tool_server": [...]}
    POST /admin/revocations                    -> 200 the same, body {"project": P[, "agent": A]}: every
                                                   live session of the project (of that agent)
    POST /admin/breakglass                     -> 201 {...}  body {"project", "session_id", "reason_code",
                                                   "justification", "minutes"}
    GET  /admin/breakglass?project=P           -> 200 {"breakglass": [...]}  open, closed and expired, newest first
    GET  /admin/breakglass/{id}                -> 200 {...}
    POST /admin/breakglass/{id}/close          -> 200 {...}
    GET  /admin/audit/head                     -> 200 {"head": "WRITER:SEQ:HASH" or null}: where this
                                                   process's audit chain ends (`sentinel audit verify --head`)
    GET  /metrics                              -> 200 Prometheus text (interceptor.metrics); an admin key
                                                   too, since agents reach this port

``Authorization: Bearer <admin key>``; the keys are configured by hash with
their holder's name (``SENTINEL_ADMIN_KEYS``), and the name is who decided in
the audit trail and what the policy's ``approvers`` match. A missing or wrong
key, an agent's API key included, is 401 ``admin_key_required``, the same
answer whatever was sent.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from interceptor.errors import BadRequest, InterceptorError, NotFound, SessionNotFound
from interceptor.metrics import CONTENT_TYPE_LATEST
from interceptor.routes import read_limited, refuse_duplicate_keys
from interceptor.runtime import Runtime
from interceptor.state import Session
from sentinel_policy import SessionFacts

__all__ = ["ADMIN_PREFIX", "admin_router", "metrics_router"]

ADMIN_PREFIX = "/admin"
admin_router = APIRouter(prefix=ADMIN_PREFIX)
metrics_router = APIRouter()
_MAX_NOTE = 1024


class AdminKeyRequired(InterceptorError):
    status = 401
    default_code = "admin_key_required"

    def __init__(self) -> None:
        super().__init__("this needs an admin key (Authorization: Bearer <admin key>)")


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _json(body: Any, status: int = 200) -> Response:
    return Response(content=orjson.dumps(body), status_code=status, media_type="application/json")


def admin_name(runtime: Runtime, authorization: str | None) -> str:
    """The admin this request comes from; 401 for anything else (compared in constant time, every entry)."""
    scheme, _, key = (authorization or "").partition(" ")
    wanted = hashlib.sha256(key.strip().encode("utf-8", "surrogateescape")).hexdigest()
    found = None
    for name, digest in runtime.settings.admin_key_hashes().items():
        if hmac.compare_digest(digest, wanted) and found is None:
            found = name
    if found is None or scheme.lower() != "bearer" or not key.strip():
        raise AdminKeyRequired()
    return found


@metrics_router.get("/metrics")
async def metrics(request: Request) -> Response:
    runtime = _runtime(request)
    admin_name(runtime, request.headers.get("authorization"))
    return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@admin_router.get("/approvals")
async def list_approvals(request: Request, project: str | None = None) -> Response:
    runtime = _runtime(request)
    admin_name(runtime, request.headers.get("authorization"))
    approvals = await runtime.approvals.list(_project(project))
    return _json({"approvals": [runtime.approvals.view(a) for a in approvals]})


@admin_router.get("/approvals/{approval_id}")
async def show_approval(approval_id: str, request: Request) -> Response:
    runtime = _runtime(request)
    by = admin_name(runtime, request.headers.get("authorization"))
    approval = await runtime.approvals.get(approval_id)
    # The arguments are sealed at rest; only someone who may decide on them sees them.
    policy = runtime.directory.policy_for(await runtime.directory.project(approval.project))
    runtime.approvals.check_approver(approval, by, policy)
    return _json(runtime.approvals.view(approval, with_arguments=True))


@admin_router.post("/approvals/{approval_id}/approve")
async def approve(approval_id: str, request: Request) -> Response:
    return await _decide(request, approval_id, "approved")


@admin_router.post("/approvals/{approval_id}/deny")
async def deny(approval_id: str, request: Request) -> Response:
    return await _decide(request, approval_id, "denied")


async def _decide(request: Request, approval_id: str, verdict: str) -> Response:
    runtime = _runtime(request)
    by = admin_name(runtime, request.headers.get("authorization"))
    note = await _note(request, runtime)
    approval = await runtime.approvals.get(approval_id)
    project = await runtime.directory.project(approval.project)
    policy = runtime.directory.policy_for(project)
    decided = await runtime.approvals.decide(approval_id, verdict, by=by, note=note, policy=policy)
    return _json(runtime.approvals.view(decided))


@admin_router.get("/sessions")
async def list_sessions(request: Request, project: str | None = None, agent: str | None = None) -> Response:
    runtime = _runtime(request)
    admin_name(runtime, request.headers.get("authorization"))
    return _json({"sessions": [_session_view(s, f) for s, f in await _live(runtime, _project(project), agent)]})


@admin_router.post("/breakglass")
async def open_breakglass(request: Request) -> Response:
    runtime = _runtime(request)
    by = admin_name(runtime, request.headers.get("authorization"))
    body = await _body(request, frozenset({"project", "session_id", "reason_code", "justification", "minutes"}))
    project = await runtime.directory.project(_project(body.get("project") if isinstance(body.get("project"), str)
                                                       else None))
    sid = body.get("session_id")
    if not isinstance(sid, str) or not sid:
        raise BadRequest("'session_id' names the session to open it for", code="invalid_body")
    session, _ = await runtime.sessions.resolve(sid, project.name, agent=None)  # an admin: any of its sessions
    grant = await runtime.breakglass.open(runtime.directory.policy_for(project), session, by=by,
                                          reason_code=body.get("reason_code"), justification=body.get("justification"),
                                          minutes=body.get("minutes"))
    return _json(runtime.breakglass.view(grant), 201)


@admin_router.get("/breakglass")
async def list_breakglass(request: Request, project: str | None = None) -> Response:
    runtime = _runtime(request)
    admin_name(runtime, request.headers.get("authorization"))
    grants = await runtime.breakglass.list(_project(project))
    return _json({"breakglass": [runtime.breakglass.view(g) for g in grants]})


@admin_router.get("/breakglass/{grant_id}")
async def show_breakglass(grant_id: str, request: Request) -> Response:
    runtime = _runtime(request)
    admin_name(runtime, request.headers.get("authorization"))
    return _json(runtime.breakglass.view(await runtime.breakglass.get(grant_id)))


@admin_router.post("/breakglass/{grant_id}/close")
async def close_breakglass(grant_id: str, request: Request) -> Response:
    runtime = _runtime(request)
    by = admin_name(runtime, request.headers.get("authorization"))
    return _json(runtime.breakglass.view(await runtime.breakglass.close(grant_id, by=by)))


@admin_router.get("/audit/head")
async def audit_head(request: Request) -> Response:
    runtime = _runtime(request)
    admin_name(runtime, request.headers.get("authorization"))
    head = runtime.audit.head
    return _json({"head": None if head is None else str(head)})


def _project(name: str | None) -> str:
    if not name:
        raise BadRequest("name the project: ?project=NAME", code="project_required")
    return name


@admin_router.post("/sessions/{sid}/revoke")
async def revoke_session(sid: str, request: Request) -> Response:
    runtime = _runtime(request)
    by = admin_name(runtime, request.headers.get("authorization"))
    loaded = await runtime.state.load(sid) if 0 < len(sid) <= 128 else None
    if loaded is None or loaded[0].ended:
        raise NotFound("no such session (unknown, expired or ended)", code="session_not_found")
    return _json(await _revoke(runtime, [loaded[0]], by))


@admin_router.post("/revocations")
async def revoke_many(request: Request) -> Response:
    runtime = _runtime(request)
    by = admin_name(runtime, request.headers.get("authorization"))
    body = await _body(request, frozenset({"project", "agent"}))
    project, agent = body.get("project"), body.get("agent")
    if not isinstance(project, str) or not project or (agent is not None and not isinstance(agent, str)):
        raise BadRequest("'project' (and 'agent', if given) must be names", code="invalid_body")
    await runtime.directory.project(project)  # an unknown project is a 404, not "nothing revoked"
    return _json(await _revoke(runtime, [s for s, _ in await _live(runtime, project, agent)], by))


async def _live(runtime: Runtime, project: str, agent: str | None) -> list[tuple[Session, SessionFacts]]:
    found = await runtime.state.list_sessions(project, limit=10_000)
    return [(s, f) for s, f in found if agent is None or s.agent == agent]


async def _revoke(runtime: Runtime, sessions: list[Session], by: str) -> dict[str, Any]:
    """End each session here (nothing more is signed for it) and at the tool server (nothing signed runs)."""
    revoked, confirmed = [], []
    for session in sessions:
        try:
            confirmed_here = await runtime.sessions.end(session.sid, session.project, agent=None)
        except SessionNotFound:  # ended meanwhile: already revoked
            continue
        revoked.append(session.sid)
        if confirmed_here:
            confirmed.append(session.sid)
        runtime.events.emit("session.revoked", "session", {
            "sid": session.sid, "project": session.project, "agent": session.agent, "by": by,
            "confirmed_by_tool_server": confirmed_here})
    return {"revoked": revoked, "confirmed_by_tool_server": confirmed}


def _session_view(session: Session, facts: SessionFacts) -> dict[str, Any]:
    return {"session_id": session.sid, "project": session.project, "agent": session.agent,
            "expires_at": session.expires_at, "taint": sorted(facts.tags), "calls": len(facts.history),
            "recent_calls": list(facts.history[-10:])}


async def _note(request: Request, runtime: Runtime) -> str | None:
    body = await _body(request, frozenset({"note"}))
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > _MAX_NOTE):
        raise BadRequest(f"'note' must be text of at most {_MAX_NOTE} characters", code="invalid_note")
    return note


async def _body(request: Request, fields: frozenset[str]) -> dict[str, Any]:
    """A small JSON object body with only ``fields`` ({} when empty)."""
    raw = await read_limited(request.receive, request.headers.get("content-length"), 16_384)
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict) or set(body) - fields:
        raise BadRequest(f"the body takes only {', '.join(sorted(fields))}", code="unknown_field")
    refuse_duplicate_keys(raw, body)
    return body
