"""The project record and the interface every config store implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class ConfigStoreError(Exception):
    """The store could not be read or written (unreachable, malformed). ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Project:
    """One row of the `projects` table / one entry of the YAML file's `projects` list."""

    name: str
    api_key_sha256: str  # hex SHA-256 of the API key; the key itself is never stored
    tools: Sequence[Mapping[str, Any]] = ()  # {name, description, input_schema, class}
    policies: Mapping[str, Any] = field(default_factory=dict)  # staticRules, taintRules, extended fields
    policy_version: int = 0


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version: int
    policies: Mapping[str, Any]
    author: str
    created_at: datetime


class ConfigStore(Protocol):
    async def find_by_key_hash(self, api_key_sha256: str) -> Project | None:
        """The project whose stored key hash equals this one (compared in constant time)."""

    async def get_project(self, name: str) -> Project | None: ...

    async def list_projects(self) -> list[Project]: ...

    async def create_project(self, name: str, api_key_sha256: str) -> Project: ...

    async def set_api_key(self, name: str, api_key_sha256: str) -> None: ...

    async def push_tools(self, name: str, tools: Sequence[Mapping[str, Any]]) -> None: ...

    async def push_policy(self, name: str, policies: Mapping[str, Any], author: str) -> int:
        """Store a new policy version (returned) and make it current."""

    async def policy_history(self, name: str) -> list[PolicyVersion]: ...

    async def rollback(self, name: str, version: int, author: str) -> int:
        """Make an earlier version current again, as a new version (returned)."""

    async def close(self) -> None: ...
