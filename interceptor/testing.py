"""Stand-ins for testing code around the interceptor: an in-memory config store and
a stub tool server that checks every token with sentinel_contract.

    store = StaticConfigStore([project])
    tool_server = StubToolServer(identity_public_key, audience="sentinel-mcp")
    client = httpx.AsyncClient(transport=tool_server.transport())
    app = create_app(settings, config_store=store, http_client=client)

The stub verifies exactly what the real tool server verifies (registered key,
audience, expiry, single-use jti, tool name, argument hash), records what it
executed in ``executed`` and what it refused in ``refused``, and can be made
slow or unreachable. It must never be used as a real tool server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from interceptor.config import ConfigStore, ConfigStoreError, KeyHolder, Project
from interceptor.config._records import KeyIndex
from interceptor.state import StateStore
from sentinel_contract import (
    READINESS_PATH,
    TOOL_SERVER_SERVICE,
    ContractError,
    SigningKeyPair,
    b64url_encode,
    generate_keypair,
    load_public_key,
    peek_kid,
    verify_call,
    verify_registration,
    verify_revocation,
)

__all__ = ["Executed", "Harness", "StaticConfigStore", "StubToolServer", "api_key_hash", "running_interceptor"]


class StaticConfigStore:
    """A read-mostly ConfigStore over a fixed list of projects (constant-time key lookup)."""

    def __init__(self, projects: Sequence[Project]) -> None:
        self.projects = list(projects)

    async def find_key(self, api_key_sha256: str) -> KeyHolder | None:
        return KeyIndex(self.projects).find(api_key_sha256)  # every key compared: no early exit

    async def find_by_key_hash(self, api_key_sha256: str) -> Project | None:
        return KeyIndex(self.projects).project_of(api_key_sha256)

    async def get_project(self, name: str) -> Project | None:
        return next((p for p in self.projects if p.name == name), None)

    async def list_projects(self) -> list[Project]:
        return list(self.projects)

    async def create_project(self, name: str, api_key_sha256: str) -> Project:
        project = Project(name=name, api_key_sha256=api_key_sha256)
        self.projects.append(project)
        return project

    async def set_api_key(self, name: str, api_key_sha256: str, *, expected_sha256: str | None = None) -> None:
        raise NotImplementedError

    async def add_agent_key(self, name: str, agent: str, api_key_sha256: str, *, replace: bool = False) -> None:
        index = next((i for i, p in enumerate(self.projects) if p.name == name), None)
        if index is None:
            raise ConfigStoreError("project_not_found", f"no project named {name!r}")
        if KeyIndex(self.projects).find(api_key_sha256) is not None:
            raise ConfigStoreError("project_exists", "that key is in use; nothing was written")
        project = self.projects[index]
        kept = {h: a for h, a in project.agent_keys.items() if not (replace and a == agent)}
        self.projects[index] = dataclasses.replace(project, agent_keys={**kept, api_key_sha256.lower(): agent})

    async def revoke_agent_keys(self, name: str, agent: str) -> int:
        index = next((i for i, p in enumerate(self.projects) if p.name == name), None)
        if index is None:
            raise ConfigStoreError("project_not_found", f"no project named {name!r}")
        project = self.projects[index]
        kept = {h: a for h, a in project.agent_keys.items() if a != agent}
        self.projects[index] = dataclasses.replace(project, agent_keys=kept)
        return len(project.agent_keys) - len(kept)

    async def push_tools(self, name: str, tools: Sequence[Mapping[str, Any]]) -> None:
        raise NotImplementedError

    async def push_policy(self, name: str, policies: Mapping[str, Any], author: str) -> int:
        raise NotImplementedError

    async def policy_history(self, name: str) -> list[Any]:
        return []

    async def rollback(self, name: str, version: int, author: str) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Executed:
    sid: str
    tool: str
    arguments: Mapping[str, Any]
    jti: str
    tool_sha256: str | None = None  # the pin the token carried


@dataclass
class StubToolServer:
    identity: Ed25519PublicKey
    audience: str = "sentinel-mcp"
    outputs: dict[str, Callable[[Mapping[str, Any]], str]] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering a call (a slow tool server)
    down: bool = False  # refuse connections, like a stopped server
    refuse_registration: bool = False
    max_body_bytes: int = 1_048_576  # what its /readyz reports
    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    seen_jti: set[str] = field(default_factory=set)
    executed: list[Executed] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def transport(self) -> httpx.AsyncBaseTransport:
        asgi = httpx.ASGITransport(app=self)
        stub = self

        class _Transport(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                if stub.down:
                    raise httpx.ConnectError("connection refused", request=request)
                return await asgi.handle_async_request(request)

        return _Transport()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer = await self._route(scope["method"], scope["path"], headers, body)
        try:
            payload = orjson.dumps(answer)
        except orjson.JSONEncodeError:  # nested deeper than orjson writes: a real server may still send it
            payload = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    async def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            return 400, {"error": "bad json"}
        if method == "GET" and path == READINESS_PATH:
            report = {"status": "ready", "checks": {}, "not_ready": []}
            return 200, {**report, "service": TOOL_SERVER_SERVICE, "max_body_bytes": self.max_body_bytes}
        if method == "POST" and path == "/sessions":
            if self.refuse_registration:
                return 403, {"error": {"code": "refused", "message": "refused"}}
            try:
                claims = verify_registration(data.get("token", ""), [self.identity], audience=self.audience)
            except ContractError as exc:
                return 401, {"error": {"code": exc.code, "message": exc.message}}
            self.keys[claims.sid] = load_public_key(claims.public_key)
            return 201, {"sid": claims.sid, "expires_at": claims.exp, "status": "registered"}
        if method == "DELETE" and path.startswith("/sessions/"):
            sid = path.removeprefix("/sessions/")
            try:
                verify_revocation(data.get("token", ""), [self.identity], sid=sid, audience=self.audience)
            except ContractError as exc:
                return 401, {"error": exc.code}
            self.revoked.add(sid)
            return 200, {"sid": sid, "revoked": True}
        if method == "POST" and path == "/rpc":
            return 200, await self._rpc(headers, data)
        return 404, {"error": "not found"}

    async def _rpc(self, headers: dict[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
        request_id = data.get("id")

        def refuse(code: str) -> dict[str, Any]:
            self.refused.append(code)
            return {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32001, "message": code}}

        params = data.get("params") or {}
        token = headers.get("authorization", "").removeprefix("Bearer ")
        try:
            sid = peek_kid(token)
            key = self.keys.get(sid)
            if key is None or sid in self.revoked:
                return refuse("unknown_session")
            claims = verify_call(
                token, key, audience=self.audience, tool=params.get("name", ""), arguments=params.get("arguments")
            )
        except ContractError as exc:
            return refuse(exc.code)
        if claims.jti in self.seen_jti:
            return refuse("replayed_jti")
        self.seen_jti.add(claims.jti)
        if self.delay:
            await asyncio.sleep(self.delay)
        arguments = params.get("arguments") or {}
        self.executed.append(Executed(sid, claims.tool, arguments, claims.jti, claims.tool_sha256))
        output = self.outputs.get(claims.tool)
        text = output(arguments) if output else f"ok:{claims.tool}"
        result = {"content": [{"type": "text", "text": text}], "isError": False}
        return {"jsonrpc": "2.0", "id": request_id, "result": result}


def api_key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass
class Harness:
    """An interceptor app running in-process, its agent-facing client and its stub tool server."""

    app: Any
    client: httpx.AsyncClient  # talks to the interceptor
    tool_server: StubToolServer
    identity: SigningKeyPair
    settings: Any

    async def start(self, api_key: str) -> str:
        response = await self.client.post("/session/start", headers={"X-Sentinel-Key": api_key})
        assert response.status_code == 200, response.text
        return str(response.json()["session_id"])

    async def call(self, api_key: str, sid: str, tool: str, arguments: Any = None) -> httpx.Response:
        body = {"tool": tool, "arguments": {} if arguments is None else arguments}
        return await self.client.post(f"/session/{sid}/call", headers={"X-Sentinel-Key": api_key}, json=body)


@asynccontextmanager
async def running_interceptor(
    config_store: ConfigStore,
    *,
    state_store: StateStore | None = None,
    tool_server: StubToolServer | None = None,
    identity: SigningKeyPair | None = None,
    upstream: httpx.AsyncClient | None = None,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """Run ``create_app`` with its lifespan, in-process; the stub tool server trusts ``identity``."""
    from interceptor.app import create_app
    from interceptor.settings import load_settings

    identity = identity or generate_keypair()
    tool_server = tool_server or StubToolServer(identity.public)
    built = load_settings(identity_key=b64url_encode(identity.seed), **settings)
    owned = upstream is None
    upstream = upstream or httpx.AsyncClient(transport=tool_server.transport())
    app = create_app(built, config_store=config_store, state_store=state_store, http_client=upstream)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://interceptor") as client:
                yield Harness(app, client, tool_server, identity, built)
    finally:
        if owned:
            await upstream.aclose()


@asynccontextmanager
async def running_replicas(
    config_store: ConfigStore,
    state_stores: tuple[StateStore, StateStore],
    audit_dir: Any,
    *,
    same_identity: bool = True,
) -> AsyncIterator[tuple[Harness, Harness]]:
    """Two interceptor replicas over the given state stores, in front of one stub tool server.

    The tool server trusts the first replica's identity key; the second shares it
    unless ``same_identity`` is false (a replica that cannot unseal the sessions).
    """
    identity = generate_keypair()
    tool_server = StubToolServer(identity.public)
    second = identity if same_identity else None
    async with (
        running_interceptor(config_store, state_store=state_stores[0], identity=identity,
                            tool_server=tool_server, audit_log=audit_dir / "a.jsonl") as first_replica,
        running_interceptor(config_store, state_store=state_stores[1], identity=second,
                            tool_server=tool_server, audit_log=audit_dir / "b.jsonl") as second_replica,
    ):
        yield first_replica, second_replica
