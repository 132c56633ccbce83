"""Unit tests of the interceptor's pure-ish parts: settings, key sealing, the
forwarded JSON-RPC body, and the per-version policy cache."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from interceptor.config import Project
from interceptor.errors import InterceptorError, ServiceUnavailable, ToolServerError, ToolServerTimeout, Unauthorized
from interceptor.forwarding import ToolServerClient
from interceptor.projects import ProjectDirectory, agent_tools
from interceptor.settings import InterceptorSettings, load_settings
from interceptor.signing import KeySealer, SessionKeyRing
from interceptor.testing import StaticConfigStore, api_key_hash
from sentinel_contract import b64url_encode, generate_keypair

SEED = b64url_encode(generate_keypair().seed)

# -- settings --------------------------------------------------------------------


def test_settings_read_unprefixed_upstream_and_supabase_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_IDENTITY_KEY", SEED)
    monkeypatch.setenv("MCP_UPSTREAM_URL", "http://tools:9000/")
    monkeypatch.setenv("SUPABASE_PROJECT_URL", "https://x.supabase.co")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-secret")
    monkeypatch.setenv("SENTINEL_REDIS_URL", "redis://r:6379/0")
    monkeypatch.setenv("SENTINEL_CONFIG", "/etc/sentinel.yaml")
    settings = InterceptorSettings()  # type: ignore[call-arg]
    assert settings.mcp_upstream_url == "http://tools:9000"
    assert settings.supabase_project_url == "https://x.supabase.co"
    assert settings.redis_url == "redis://r:6379/0"
    assert str(settings.config_path) == "/etc/sentinel.yaml"
    assert "service-secret" not in repr(settings) and SEED not in repr(settings)


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MCP_UPSTREAM_URL", "SENTINEL_REDIS_URL", "SENTINEL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(identity_key=SEED)
    assert settings.mcp_upstream_url == "http://localhost:9000"
    assert settings.redis_url is None and settings.max_body_bytes == 1_048_576
    assert (settings.interceptor_id, settings.mcp_id) == ("sentinel-interceptor", "sentinel-mcp")


def test_missing_identity_key_refuses_with_a_pointer_to_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTINEL_IDENTITY_KEY", raising=False)
    with pytest.raises(InterceptorError) as caught:
        load_settings()
    assert "SENTINEL_IDENTITY_KEY" in caught.value.message and "sentinel keys identity" in caught.value.message


def test_malformed_identity_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(InterceptorError) as caught:
        load_settings(identity_key="not-a-seed-but-secret")
    assert "not-a-seed-but-secret" not in caught.value.message


# -- sealing ---------------------------------------------------------------------


def test_sealed_seed_opens_for_its_session_only() -> None:
    identity, session = generate_keypair(), generate_keypair()
    sealer = KeySealer(identity.seed)
    sealed = sealer.seal("sid-1", session.seed)
    assert session.seed not in sealed
    assert sealer.open("sid-1", sealed).public_b64 == session.public_b64
    with pytest.raises(ServiceUnavailable):
        sealer.open("sid-2", sealed)


def test_sealed_seed_does_not_open_under_another_identity() -> None:
    sealed = KeySealer(generate_keypair().seed).seal("sid", generate_keypair().seed)
    with pytest.raises(ServiceUnavailable):
        KeySealer(generate_keypair().seed).open("sid", sealed)


def test_a_retired_identity_seed_opens_the_sessions_sealed_before_the_rotation() -> None:
    old, new, session = generate_keypair(), generate_keypair(), generate_keypair()
    sealed_before = KeySealer(old.seed).seal("sid", session.seed)
    rotated = KeySealer(new.seed, [old.seed])
    assert rotated.open("sid", sealed_before).public_b64 == session.public_b64
    sealed_after = rotated.seal("sid-2", session.seed)  # new sessions are sealed under the new seed only
    assert KeySealer(new.seed).open("sid-2", sealed_after).public_b64 == session.public_b64
    with pytest.raises(ServiceUnavailable):
        KeySealer(old.seed).open("sid-2", sealed_after)
    with pytest.raises(ServiceUnavailable):
        rotated.open("other-sid", sealed_before)  # still bound to its session id


def test_a_bad_previous_identity_key_is_one_clear_error_without_the_secret() -> None:
    good = b64url_encode(generate_keypair().seed)
    with pytest.raises(InterceptorError) as caught:
        load_settings(identity_key=good, previous_identity_keys=f"{good}, not-a-seed-but-secret")
    assert "SENTINEL_PREVIOUS_IDENTITY_KEYS: entry 2" in caught.value.message
    assert "not-a-seed-but-secret" not in caught.value.message
    settings = load_settings(identity_key=good, previous_identity_keys=f" {good} ,")
    assert settings.previous_identity_seeds() == [good]
    assert good not in repr(settings)


def test_key_ring_is_bounded_and_reopens_from_the_sealed_copy() -> None:
    sealer = KeySealer(generate_keypair().seed)
    ring = SessionKeyRing(sealer, capacity=2)
    pairs = {sid: generate_keypair() for sid in ("a", "b", "c")}
    for sid, pair in pairs.items():
        ring.remember(sid, pair)
    assert len(ring) == 2
    assert ring.key_for("a", sealer.seal("a", pairs["a"].seed)).public_b64 == pairs["a"].public_b64
    ring.forget("a")
    assert len(ring) == 1


# -- forwarding ------------------------------------------------------------------


def _client(handler: Any, timeout: float = 2.0) -> ToolServerClient:
    return ToolServerClient("http://tools", timeout, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


@pytest.mark.parametrize("tool", ["send_email", 'a"b', "x\\\"},\"y\":{", "ünï"])
async def test_forwarded_body_is_valid_json_rpc_with_the_arguments_sent(tool: str) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content))
        assert request.headers["authorization"] == "Bearer tok"
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": "j", "result": {"content": [], "isError": False}})

    arguments = {"to": "a@b", "nested": {"k": [1, 2.5, None, True]}, "u": "é"}
    result = await _client(handler).call_tool("tok", "j", tool, orjson.dumps(arguments))
    assert result == {"content": [], "isError": False}
    assert seen == [{"jsonrpc": "2.0", "id": "j", "method": "tools/call", "params": {"name": tool, "arguments": arguments}}]


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "error": {"code": -32001, "message": "replayed_jti"}}), "tool_server_rejected"),
        (httpx.Response(500, text="boom"), "tool_server_error"),
        (httpx.Response(200, text="not json"), "tool_server_error"),
        (httpx.Response(200, json={"jsonrpc": "2.0", "id": 1}), "tool_server_error"),
        # -32602 also means "no such tool" there: a config mismatch, not the agent's arguments
        (httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "error": {
            "code": -32602, "message": "unknown tool", "data": {"reason": "unknown_tool"}}}), "tool_server_rejected"),
    ],
)
async def test_tool_server_failures_become_502(response: httpx.Response, code: str) -> None:
    with pytest.raises(ToolServerError) as caught:
        await _client(lambda request: response).call_tool("t", "j", "x", b"{}")
    assert caught.value.status == 502 and caught.value.code == code


async def test_arguments_the_tool_server_refuses_are_the_agents_to_correct() -> None:
    refused = httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "error": {
        "code": -32602, "message": "invalid arguments: argument 'to': Input should be a valid string",
        "data": {"reason": "invalid_params"}}})
    with pytest.raises(InterceptorError) as caught:
        await _client(lambda request: refused).call_tool("t", "j", "x", b"{}")
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (400, "invalid_arguments", False)
    assert "argument 'to'" in caught.value.message


async def test_total_time_is_bounded_even_when_the_transport_ignores_timeouts() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    with pytest.raises(ToolServerTimeout):
        await _client(slow, timeout=0.1).call_tool("t", "j", "x", b"{}")


# -- projects --------------------------------------------------------------------

POLICY = {"staticRules": {"a": "ALLOW"}}


async def test_policy_is_compiled_once_per_version() -> None:
    project = Project("p", api_key_hash("k"), [{"name": "a", "class": "SAFE_READ"}], POLICY, 1)
    directory = ProjectDirectory(StaticConfigStore([project]))
    first = directory.policy_for(project)
    assert directory.policy_for(project) is first
    reloaded = Project("p", project.api_key_sha256, [{"name": "a", "class": "SAFE_READ"}], dict(POLICY), 1)
    assert directory.policy_for(reloaded) is first  # same version, same content: no recompile
    changed = Project("p", project.api_key_sha256, [{"name": "a"}], {"staticRules": {"a": "DENY"}}, 2)
    assert directory.policy_for(changed).static == {"a": "DENY"}


async def test_authenticate_maps_keys_to_projects() -> None:
    project = Project("p", api_key_hash("k"), [], POLICY, 1)
    directory = ProjectDirectory(StaticConfigStore([project]))
    holder = await directory.authenticate("k")
    assert holder.project.name == "p" and holder.agent is None
    for bad in (None, "", "K", project.api_key_sha256):
        with pytest.raises(Unauthorized):
            await directory.authenticate(bad)


def test_agent_tools_hide_the_security_class() -> None:
    project = Project("p", "h", [{"name": "a", "description": "d", "input_schema": {"type": "object"}, "class": "SAFE_READ"}])
    assert agent_tools(project) == [{"name": "a", "description": "d", "input_schema": {"type": "object"}}]
