"""A harness for driving the tool server in-process, for this project's tests and for anyone
writing tools: it plays the interceptor's part (identity key, session keys, signed calls).

    async with McpHarness.open(tmp_path) as mcp:           # or backend="redis", redis_url=...
        session = await mcp.register()
        answer = await mcp.call(session, "get_current_time", {})

It runs the real app (its lifespan included) over ``httpx.ASGITransport``; no
network. It must never be used to run a production server: it generates keys.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from mcp_server.app import create_app
from mcp_server.registry import ToolRegistry
from mcp_server.settings import McpSettings
from mcp_server.sources import ToolSource
from mcp_server.trust import TrustStore
from sentinel_contract import (
    REGISTRATION_PATH,
    REVOCATION_PATH,
    RPC_PATH,
    SigningKeyPair,
    generate_keypair,
    sign_call,
    sign_registration,
    sign_revocation,
)

__all__ = ["BACKENDS", "Clock", "McpHarness", "Session", "assert_refused"]

BACKENDS = ("memory", "redis")
ISS = "sentinel-interceptor"


@dataclass
class Clock:
    """Wall-clock time plus an offset a test can move forward."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass(frozen=True)
class Session:
    sid: str
    key: SigningKeyPair
    expires_at: int


@dataclass
class McpHarness:
    app: FastAPI
    client: httpx.AsyncClient
    settings: McpSettings
    identity: SigningKeyPair
    clock: Clock
    jsonrpc_ids: list[int] = field(default_factory=list)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        root: Path,
        *,
        backend: str = "memory",
        redis_url: str | None = None,
        redis_prefix: str = "sentinel:mcp:",
        identity: SigningKeyPair | None = None,
        registry: ToolRegistry | None = None,
        tools: ToolSource | None = None,
        clock: Clock | None = None,
        trust_store: TrustStore | None = None,
        **overrides: Any,
    ) -> AsyncIterator[McpHarness]:
        identity = identity or generate_keypair()
        clock = clock or Clock()
        settings = McpSettings(
            interceptor_public_keys=identity.public_b64,
            redis_url=redis_url if backend == "redis" else None,
            redis_prefix=redis_prefix,
            mcp_audit_log=root / "mcp-audit.jsonl",
            mcp_data_dir=root / "mcp-data",
            **overrides,
        )
        app = create_app(settings, registry=registry, tools=tools, clock=clock, trust_store=trust_store)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mcp.test") as client:
                yield cls(app=app, client=client, settings=settings, identity=identity, clock=clock)

    # -- the interceptor's side -------------------------------------------------
    async def register(self, sid: str | None = None, *, ttl: int = 3600, key: SigningKeyPair | None = None) -> Session:
        session = Session(sid=sid or f"s-{uuid.uuid4().hex}", key=key or generate_keypair(),
                          expires_at=int(self.clock()) + ttl)
        response = await self.post_session(self.registration_token(session))
        assert response.status_code in (200, 201), response.text
        return session

    def registration_token(self, session: Session, *, signer: SigningKeyPair | None = None, **claims: Any) -> str:
        return sign_registration(
            (signer or self.identity).private, iss=ISS, aud=claims.pop("aud", self.settings.mcp_id),
            sid=session.sid, public_key=session.key.public_b64, exp=claims.pop("exp", session.expires_at),
            now=claims.pop("now", self.clock()),
        )

    async def post_session(self, token: str) -> httpx.Response:
        return await self.client.post(REGISTRATION_PATH, json={"token": token})

    async def revoke(self, session: Session, *, signer: SigningKeyPair | None = None) -> httpx.Response:
        token = sign_revocation((signer or self.identity).private, iss=ISS, aud=self.settings.mcp_id,
                                sid=session.sid, now=self.clock())
        return await self.client.request("DELETE", REVOCATION_PATH.format(sid=session.sid), json={"token": token})

    def sign(self, session: Session, tool: str, arguments: Any, **overrides: Any) -> str:
        token, _ = sign_call(
            overrides.pop("key", session.key).private, iss=ISS, aud=overrides.pop("aud", self.settings.mcp_id),
            sid=overrides.pop("sid", session.sid), tool=tool, arguments=arguments,
            now=overrides.pop("now", self.clock()), **overrides,
        )
        return token

    # -- requests -----------------------------------------------------------------
    async def post_rpc(self, body: bytes | Mapping[str, Any] | list[Any], token: str | None = None,
                       headers: Mapping[str, str] | None = None) -> httpx.Response:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        all_headers = {"content-type": "application/json", **(headers or {})}
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        return await self.client.post(RPC_PATH, content=content, headers=all_headers)

    async def rpc(self, method: str, params: Mapping[str, Any] | None, token: str | None) -> dict[str, Any]:
        self.jsonrpc_ids.append(len(self.jsonrpc_ids) + 1)
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": self.jsonrpc_ids[-1], "method": method}
        if params is not None:
            body["params"] = params
        response = await self.post_rpc(body, token)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def call(self, session: Session, tool: str, arguments: Mapping[str, Any],
                   token: str | None = None) -> dict[str, Any]:
        """A signed tools/call; pass ``token`` to send a token other than the matching one."""
        token = token if token is not None else self.sign(session, tool, dict(arguments))
        return await self.rpc("tools/call", {"name": tool, "arguments": dict(arguments)}, token)

    # -- what happened ----------------------------------------------------------------
    def audit(self) -> list[dict[str, Any]]:
        path = self.settings.mcp_audit_log
        if not path.exists():
            return []
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]

    def outbox(self) -> list[dict[str, Any]]:
        return self._jsonl("outbox.jsonl")

    def ledger(self) -> list[dict[str, Any]]:
        return self._jsonl("ledger.jsonl")

    def _jsonl(self, name: str) -> list[dict[str, Any]]:
        path = self.settings.mcp_data_dir / name
        if not path.exists():
            return []
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def assert_refused(mcp: McpHarness, answer: Mapping[str, Any], *, code: int, reason: str,
                   audit_before: int | None = None) -> None:
    """The answer is a JSON-RPC error with this number and reason, nothing was sent or paid,
    and the request left exactly one ``rejected`` audit record (after ``audit_before`` records)."""
    assert "result" not in answer, answer
    error = answer["error"]
    assert (error["code"], error["data"]["reason"]) == (code, reason), error
    assert "Traceback" not in error["message"] and "eyJ" not in error["message"]
    assert mcp.outbox() == [] and mcp.ledger() == []
    records = mcp.audit()[audit_before or 0:] if audit_before is not None else mcp.audit()[-1:]
    assert [r["event"] for r in records] == ["rejected"], records
    assert records[0]["reason"] == reason
