"""Configuration of the tool server (Zone C), read from ``SENTINEL_*`` environment variables.

Built once at start-up (``McpSettings()``) and passed down; nothing in this
package reads the environment at import time. It must never hold a private key:
the tool server only ever needs the interceptor's *public* identity keys.

Defaults, relative to the working directory of the process:

- ``SENTINEL_MCP_AUDIT_LOG`` = ``./var/mcp-audit.jsonl`` (JSON Lines, one record per request)
- ``SENTINEL_MCP_DATA_DIR``  = ``./var/mcp-data`` (sandbox ``files/``, ``outbox.jsonl``,
  ``ledger.jsonl``, ``inbox.json``, ``web.json``; seeded from the package on first start)
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sentinel_contract import ContractError, load_public_key

__all__ = ["McpSettings"]


class McpSettings(BaseSettings):
    """Everything the tool server can be told from outside."""

    # No aliases and no populate_by_name: each setting has exactly one environment name,
    # SENTINEL_<FIELD>. With an alias plus populate_by_name, pydantic-settings would also read
    # the prefixed field name, and a second name (SENTINEL_VERIFY=false) could switch
    # verification off.
    model_config = SettingsConfigDict(env_prefix="SENTINEL_", extra="ignore")

    mcp_id: str = "sentinel-mcp"
    # Comma-separated base64url Ed25519 public keys of the interceptors trusted to
    # register sessions (and to sign tools/list). Empty means nobody: create_app refuses to start.
    interceptor_public_keys: str = ""
    redis_url: str | None = None
    redis_prefix: str = "sentinel:mcp:"
    mcp_audit_log: Path = Path("var/mcp-audit.jsonl")
    mcp_data_dir: Path = Path("var/mcp-data")
    leeway_seconds: int = 5
    # False only for benchmarks: every request then executes unchecked (a loud warning is logged).
    # Only SENTINEL_MCP_VERIFY sets it (in code: McpSettings(mcp_verify=False)).
    mcp_verify: bool = True
    # At least the interceptor's SENTINEL_MAX_BODY_BYTES (it sizes the calls it forwards by its own).
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # A registration may not open a session longer than this (bounds replayed registrations too).
    max_session_seconds: int = 86_400
    session_key_cache_size: int = 10_000
    # What a client may hold of the server (sentinel_http.ServerLimits); docs/operator-guide.md, "Limits".
    read_timeout_seconds: float = Field(default=10, gt=0)
    # At least 5: the interceptor drops its pooled connections after 4 idle seconds, and must
    # never write a call into a connection this server is closing.
    keep_alive_seconds: int = Field(default=5, ge=5)
    max_connections: int = Field(default=2048, gt=0)

    @field_validator("interceptor_public_keys")
    @classmethod
    def _keys_parse(cls, value: str) -> str:
        for part in _split(value):
            try:
                load_public_key(part)
            except ContractError as exc:
                raise ValueError(f"SENTINEL_INTERCEPTOR_PUBLIC_KEYS: {exc.message}") from exc
        return value

    def trusted_keys(self) -> list[Ed25519PublicKey]:
        """The interceptor identity keys, as key objects ready to verify with."""
        return [load_public_key(part) for part in _split(self.interceptor_public_keys)]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
