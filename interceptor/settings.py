"""The interceptor's settings: read from the environment once at start-up and passed down.

Nothing in the interceptor reads the environment anywhere else. Secrets are
``SecretStr`` so they never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from interceptor.errors import SettingsError

__all__ = ["InterceptorSettings", "load_settings"]

_IDENTITY_HINT = "it is a base64url Ed25519 seed that `sentinel keys identity` makes"


class InterceptorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SENTINEL_", populate_by_name=True, extra="ignore")

    interceptor_id: str = "sentinel-interceptor"
    mcp_id: str = "sentinel-mcp"
    identity_key: SecretStr
    # Identity seeds retired by a rotation (comma-separated): they only open the session
    # keys sealed before it; nothing new is sealed or signed with them.
    previous_identity_keys: SecretStr | None = None
    # The upstream and Supabase variables keep the names of the original deployment (no prefix).
    mcp_upstream_url: str = Field(
        "http://localhost:9000", validation_alias=AliasChoices("MCP_UPSTREAM_URL", "mcp_upstream_url")
    )
    config_path: Path = Field(Path("examples/sentinel.yaml"), validation_alias=AliasChoices("SENTINEL_CONFIG", "config_path"))
    database_url: SecretStr | None = None
    database_schema: str | None = None  # PostgreSQL schema of the config tables (search_path)
    supabase_project_url: str | None = Field(
        None, validation_alias=AliasChoices("SUPABASE_PROJECT_URL", "supabase_project_url")
    )
    supabase_service_role_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SUPABASE_SERVICE_ROLE_KEY", "supabase_service_role_key")
    )
    redis_url: str | None = None
    redis_prefix: str = "sentinel:interceptor:"  # apart from the tool server's "sentinel:mcp:" (one ACL each)
    audit_log: Path = Path("./var/interceptor-audit.jsonl")
    session_ttl_seconds: int = Field(3600, gt=0)
    call_ttl_seconds: int = Field(30, gt=0, le=60)
    upstream_timeout_seconds: float = Field(10, gt=0)
    config_cache_ttl_seconds: float = Field(5, ge=0)
    config_stale_seconds: float = Field(300, ge=0)
    max_body_bytes: int = Field(1_048_576, gt=0)

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

    def previous_identity_seeds(self) -> list[str]:
        return _split(self.previous_identity_keys.get_secret_value()) if self.previous_identity_keys else []

    @field_validator("mcp_upstream_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")


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
