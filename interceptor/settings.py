"""The interceptor's settings: read from the environment once at start-up and passed down.

``ConfigStoreSettings`` is where projects, tools and policies live; the CLI
reads exactly these (``sentinel keys``, ``policy push``, ``tools push``), the
interceptor reads them as part of ``InterceptorSettings``, so both choose the
same store from the same environment. Nothing reads the environment anywhere
else, and nothing at import time. Secrets are ``SecretStr`` so they never
appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from interceptor.errors import SettingsError

__all__ = ["ConfigStoreSettings", "InterceptorSettings", "default_config_path", "load_settings"]


def default_config_path() -> Path:
    """Where the YAML config is when SENTINEL_CONFIG is unset, and where `sentinel init` writes it:
    ``$XDG_CONFIG_HOME/sentinel/sentinel.yaml``, else ``~/.config/sentinel/sentinel.yaml``.
    Never a path relative to the working directory (it would name another file in every folder)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"  # XDG: relative is ignored
    return root / "sentinel" / "sentinel.yaml"

_IDENTITY_HINT = "it is a base64url Ed25519 seed that `sentinel keys identity` makes"


class ConfigStoreSettings(BaseSettings):
    """Which config store to open (``interceptor.config.open_config_store``) and how long to cache it."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_", populate_by_name=True, extra="ignore")

    # `default=` by keyword: mypy then knows each of these may be left out.
    config_path: Path = Field(default_factory=default_config_path, validation_alias=AliasChoices("SENTINEL_CONFIG", "config_path"))
    database_url: SecretStr | None = None
    database_schema: str | None = None  # PostgreSQL schema of the config tables (search_path)
    # Supabase's own variable names, as its dashboard and tooling set them (no prefix).
    supabase_project_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SUPABASE_PROJECT_URL", "supabase_project_url")
    )
    supabase_service_role_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SUPABASE_SERVICE_ROLE_KEY", "supabase_service_role_key")
    )
    config_cache_ttl_seconds: float = Field(default=5, ge=0)
    config_stale_seconds: float = Field(default=300, ge=0)

    @field_validator("database_url", "database_schema", "supabase_project_url", "supabase_service_role_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `SENTINEL_DATABASE_URL=` in a .env file means "no database", not a database at "".
        return None if value == "" else value


class InterceptorSettings(ConfigStoreSettings):
    """Everything the interceptor can be told from outside: its config store, and the rest below."""

    interceptor_id: str = "sentinel-interceptor"
    mcp_id: str = "sentinel-mcp"
    identity_key: SecretStr
    # Identity seeds retired by a rotation (comma-separated): they only open the session
    # keys sealed before it; nothing new is sealed or signed with them.
    previous_identity_keys: SecretStr | None = None
    # Read without the prefix: MCP_UPSTREAM_URL is the name deployments set for the tool server.
    mcp_upstream_url: str = Field(
        "http://localhost:9000", validation_alias=AliasChoices("MCP_UPSTREAM_URL", "mcp_upstream_url")
    )
    redis_url: str | None = None
    redis_prefix: str = "sentinel:interceptor:"  # apart from the tool server's "sentinel:mcp:" (one ACL each)
    audit_log: Path = Path("./var/interceptor-audit.jsonl")
    session_ttl_seconds: int = Field(3600, gt=0)
    call_ttl_seconds: int = Field(30, gt=0, le=60)
    upstream_timeout_seconds: float = Field(10, gt=0)
    # How old the tool server's tools/list may be when an agent's tool list leaves out changed pinned tools.
    definitions_ttl_seconds: float = Field(5, ge=0)
    # Keep it at most the tool server's SENTINEL_MAX_BODY_BYTES: a call whose forwarded
    # request would be larger than this is refused before it is decided.
    max_body_bytes: int = Field(1_048_576, gt=0)
    # A call's arguments as compact JSON; larger ones are refused (413) before policy work.
    max_argument_bytes: int = Field(default=65_536, gt=0)
    # What a client may hold of the server (sentinel_http.ServerLimits); docs/operator-guide.md, "Limits".
    read_timeout_seconds: float = Field(default=10, gt=0)
    keep_alive_seconds: int = Field(default=5, gt=0)
    max_connections: int = Field(default=2048, gt=0)
    # Origins (scheme://host[:port], comma-separated) whose pages may call /mcp; a request with any other
    # Origin header is refused (DNS rebinding). Clients outside a browser send none.
    mcp_allowed_origins: str = ""
    # Who may use the admin API (approvals): "name:sha256-of-key" entries, comma-separated
    # (`sentinel admin key --name NAME` makes one). Unset: the admin API answers 401 to everyone.
    admin_keys: SecretStr | None = None
    # Held calls waiting at once, per session and per project (over the policy's approval TTL).
    max_pending_approvals_per_session: int = Field(default=20, gt=0)
    max_pending_approvals_per_project: int = Field(default=1000, gt=0)
    # Events (approvals, break-glass, revocations) are POSTed here, signed with the secret (docs/approvals.md).
    # The decision trail also goes to PostgreSQL (table sentinel_audit, in SENTINEL_DATABASE_SCHEMA if set);
    # past this many records not yet written there, calls are refused (503) rather than lose them.
    audit_database_url: SecretStr | None = None
    audit_buffer_records: int = Field(default=10_000, gt=0)
    # Rotate SENTINEL_AUDIT_LOG past this many bytes (0: never), keeping this many rotated files.
    audit_max_bytes: int = Field(default=0, ge=0)
    audit_keep_files: int = Field(default=10, gt=0)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    @field_validator("identity_key")
    @classmethod
    def _identity_is_a_seed(cls, value: SecretStr) -> SecretStr:
        from sentinel_contract import ContractError, load_signing_key

        try:
            load_signing_key(value.get_secret_value().strip())
        except ContractError:
            raise ValueError(f"SENTINEL_IDENTITY_KEY is not a 32-byte base64url seed; {_IDENTITY_HINT}") from None
        return value

    @field_validator("previous_identity_keys")
    @classmethod
    def _previous_are_seeds(cls, value: SecretStr | None) -> SecretStr | None:
        from sentinel_contract import ContractError, load_signing_key

        if value is None:
            return None
        for position, seed in enumerate(_split(value.get_secret_value()), start=1):
            try:
                load_signing_key(seed)
            except ContractError:
                raise ValueError(
                    f"SENTINEL_PREVIOUS_IDENTITY_KEYS: entry {position} is not a 32-byte base64url seed; {_IDENTITY_HINT}"
                ) from None
        return value

    @field_validator("admin_keys")
    @classmethod
    def _admin_entries(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        for position, entry in enumerate(_split(value.get_secret_value()), start=1):
            name, _, digest = entry.partition(":")
            if not _ADMIN_NAME.fullmatch(name.strip()) or not _SHA256_HEX.fullmatch(digest.strip().lower()):
                raise ValueError(f"SENTINEL_ADMIN_KEYS: entry {position} is not NAME:SHA256 (64 hex digits of the "
                                 "key's SHA-256; `sentinel admin key --name NAME` prints one)")
        return value

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> InterceptorSettings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("SENTINEL_WEBHOOK_URL needs SENTINEL_WEBHOOK_SECRET: events are signed")
        return self

    def admin_key_hashes(self) -> dict[str, str]:
        """Admin name -> SHA-256 (hex) of its key, from ``SENTINEL_ADMIN_KEYS``."""
        entries: dict[str, str] = {}
        for entry in _split(self.admin_keys.get_secret_value() if self.admin_keys else ""):
            name, _, digest = entry.partition(":")
            entries[name.strip()] = digest.strip().lower()
        return entries

    def mcp_allowed_origin_list(self) -> frozenset[str]:
        return frozenset(_split(self.mcp_allowed_origins))

    def previous_identity_seeds(self) -> list[str]:
        return _split(self.previous_identity_keys.get_secret_value()) if self.previous_identity_keys else []

    @field_validator("mcp_upstream_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")


_ADMIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _split(keys: str) -> list[str]:
    return [part.strip() for part in keys.split(",") if part.strip()]


def load_settings(**overrides: object) -> InterceptorSettings:
    """Settings from the environment; a missing or bad identity key becomes one clear SettingsError."""
    try:
        return InterceptorSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            if field == "identity_key" and error["type"] == "missing":
                problems.append(f"SENTINEL_IDENTITY_KEY is required; {_IDENTITY_HINT}")
            else:
                problems.append(f"{field}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None
