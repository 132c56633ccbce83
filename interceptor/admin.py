"""The admin API: what people (approvers, operators) do, with admin keys, never with an agent's key.

    GET  /admin/approvals?project=P            -> 200 {"approvals": [...]}      newest first, no arguments
    GET  /admin/approvals/{id}                 -> 200 {..., "arguments": {...}}  what the approver decides on
    POST /admin/approvals/{id}/approve         -> 200 {...}   body {} or {"note": text}
    POST /admin/approvals/{id}/deny            -> 200 {...}

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

from interceptor.errors import BadRequest, InterceptorError
from interceptor.routes import read_limited, refuse_duplicate_keys
from interceptor.runtime import Runtime

__all__ = ["ADMIN_PREFIX", "admin_router"]

ADMIN_PREFIX = "/admin"
admin_router = APIRouter(prefix=ADMIN_PREFIX)
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


@admin_router.get("/approvals")
async def list_approvals(request: Request, project: str) -> Response:
    runtime = _runtime(request)
    admin_name(runtime, request.headers.get("authorization"))
    approvals = await runtime.approvals.list(project)
    return _json({"approvals": [runtime.approvals.view(a) for a in approvals]})


@admin_router.get("/approvals/{approval_id}")
async def show_approval(approval_id: str, request: Request) -> Response:
    runtime = _runtime(request)
    admin_name(runtime, request.headers.get("authorization"))
    approval = await runtime.approvals.get(approval_id)
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


async def _note(request: Request, runtime: Runtime) -> str | None:
    raw = await read_limited(request.receive, request.headers.get("content-length"), 16_384)
    if not raw.strip():
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict) or set(body) - {"note"}:
        raise BadRequest("the body takes only 'note'", code="unknown_field")
    refuse_duplicate_keys(raw)
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > _MAX_NOTE):
        raise BadRequest(f"'note' must be text of at most {_MAX_NOTE} characters", code="invalid_note")
    return note
