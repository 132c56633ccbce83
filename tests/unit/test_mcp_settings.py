"""Settings of the tool server: environment names, defaults, refusal of an unsafe start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mcp_server import McpSettings, create_app
from mcp_server.errors import ConfigError, rpc_code_for
from sentinel_contract import generate_keypair


def test_environment_names(monkeypatch):
    key = generate_keypair().public_b64
    monkeypatch.setenv("SENTINEL_INTERCEPTOR_PUBLIC_KEYS", f"{key}, {generate_keypair().public_b64}")
    monkeypatch.setenv("SENTINEL_MCP_ID", "mcp-eu-1")
    monkeypatch.setenv("SENTINEL_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("SENTINEL_MCP_AUDIT_LOG", "/tmp/x/audit.jsonl")
    monkeypatch.setenv("SENTINEL_MCP_DATA_DIR", "/tmp/x/data")
    monkeypatch.setenv("SENTINEL_MCP_VERIFY", "false")
    settings = McpSettings()
    assert settings.mcp_id == "mcp-eu-1" and len(settings.trusted_keys()) == 2
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.mcp_audit_log == Path("/tmp/x/audit.jsonl") and settings.mcp_data_dir == Path("/tmp/x/data")
    assert settings.mcp_verify is False


def test_defaults(monkeypatch):
    for name in ("SENTINEL_REDIS_URL", "SENTINEL_MCP_VERIFY", "SENTINEL_MCP_ID", "SENTINEL_INTERCEPTOR_PUBLIC_KEYS"):
        monkeypatch.delenv(name, raising=False)
    settings = McpSettings()
    assert (settings.mcp_id, settings.redis_url, settings.redis_prefix) == ("sentinel-mcp", None, "sentinel:mcp:")
    assert settings.mcp_audit_log == Path("var/mcp-audit.jsonl") and settings.mcp_data_dir == Path("var/mcp-data")
    assert settings.leeway_seconds == 5 and settings.mcp_verify is True


def test_a_malformed_trusted_key_is_refused():
    with pytest.raises(ValidationError):
        McpSettings(interceptor_public_keys="not-a-key")


def test_no_trusted_key_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError) as err:
        create_app(McpSettings(interceptor_public_keys="", mcp_data_dir=tmp_path))
    assert "SENTINEL_INTERCEPTOR_PUBLIC_KEYS" in err.value.message


def test_error_numbers_are_stable():
    assert [rpc_code_for(c) for c in ("parse_error", "batch_not_supported", "method_not_found", "invalid_params",
                                      "missing_token", "bad_signature", "unknown_session", "replayed_jti",
                                      "payload_too_large", "store_unavailable")] == [
        -32700, -32600, -32601, -32602, -32001, -32003, -32004, -32005, -32006, -32010]


@pytest.mark.parametrize("name", ["SENTINEL_VERIFY", "sentinel_verify", "VERIFY", "MCP_VERIFY"])
def test_only_sentinel_mcp_verify_can_turn_verification_off(monkeypatch, name):
    monkeypatch.delenv("SENTINEL_MCP_VERIFY", raising=False)
    monkeypatch.setenv(name, "false")
    assert McpSettings().mcp_verify is True


def test_sentinel_mcp_verify_is_read_case_insensitively_and_a_keyword_still_wins(monkeypatch):
    monkeypatch.setenv("sentinel_mcp_verify", "0")
    assert McpSettings().mcp_verify is False
    assert McpSettings(mcp_verify=True).mcp_verify is True
    monkeypatch.delenv("sentinel_mcp_verify")
    assert McpSettings(mcp_verify=False).mcp_verify is False  # benchmarks and tests construct it so
