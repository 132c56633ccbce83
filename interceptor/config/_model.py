"""The project record and the interface every config store implements.

The error tree (one root, ``code`` is machine-readable and safe to show):

    ConfigStoreError(code)
        config_unavailable   the backend cannot be reached, or served stale past the bound
        config_invalid       the file or a row does not have the documented shape
        invalid_argument     a caller passed a bad key hash, name or policy shape
        project_not_found    a write named a project that does not exist
        project_exists       create_project named an existing project, or a key hash is in use
        version_not_found    rollback named a version that was never pushed
        conflict             a compare-and-set write found the value changed since it was read

Messages never contain API keys, key hashes of other projects, or connection strings.
"""

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
        self.message = message

    def __repr__(self) -> str:
        return f"ConfigStoreError({self.code!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class Project:
    """One row of the `projects` table / one entry of the YAML file's `projects` list.

    Stores and the cache share these objects between callers: treat ``tools``
    and ``policies`` as read-only.
    """

    name: str
    api_key_sha256: str  # hex SHA-256 of the project key; the key itself is never stored
    tools: Sequence[Mapping[str, Any]] = ()  # {name, description, input_schema, class}
    policies: Mapping[str, Any] = field(default_factory=dict)  # staticRules, taintRules, extended fields
    policy_version: int = 0
    # hex SHA-256 of an agent-bound key -> the one agent its sessions run as (docs/operator-guide.md,
    # "Agent-bound keys"). A hash is one key of one project: never also a project key or another's.
    agent_keys: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # the key hashes stay out of logs and tracebacks
        return (f"Project(name={self.name!r}, tools={len(self.tools)}, policy_version={self.policy_version}, "
                f"agent_keys={len(self.agent_keys)})")


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """What a key hash opens: its project, and the agent the key is bound to (None: the project key)."""

    project: Project
    agent: str | None
    key_sha256: str = field(repr=False)  # the hash that matched, for the caller's own constant-time re-check


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version: int
    policies: Mapping[str, Any]
    author: str
    created_at: datetime
    note: str = ""  # e.g. "rollback to version 2"; free text from the pusher


class ConfigStore(Protocol):
    async def find_key(self, api_key_sha256: str) -> KeyHolder | None:
        """Who holds this key hash, among every project key and agent-bound key (compared in constant time)."""

    async def find_by_key_hash(self, api_key_sha256: str) -> Project | None:
        """The project whose project key has this hash (an agent-bound key finds nothing here)."""

    async def get_project(self, name: str) -> Project | None: ...

    async def list_projects(self) -> list[Project]: ...

    async def create_project(self, name: str, api_key_sha256: str) -> Project: ...

    async def set_api_key(self, name: str, api_key_sha256: str, *, expected_sha256: str | None = None) -> None:
        """Replace the project's key hash; with ``expected_sha256`` only if it still holds that one
        ("" for no key yet), else ConfigStoreError('conflict') and nothing changes."""

    async def add_agent_key(self, name: str, agent: str, api_key_sha256: str, *, replace: bool = False) -> None:
        """Bind a new key to ``agent`` in the project; with ``replace`` the agent's other keys go in the same write.
        A hash already held by any key of any project is ``project_exists``, and nothing changes."""

    async def revoke_agent_keys(self, name: str, agent: str) -> int:
        """Remove every key bound to ``agent`` in the project; how many there were."""

    async def push_tools(self, name: str, tools: Sequence[Mapping[str, Any]]) -> None: ...

    async def push_policy(self, name: str, policies: Mapping[str, Any], author: str, note: str = "") -> int:
        """Store a new policy version (returned) and make it current."""

    async def policy_history(self, name: str) -> list[PolicyVersion]: ...

    async def rollback(self, name: str, version: int, author: str) -> int:
        """Make an earlier version current again, as a new version (returned)."""

    async def close(self) -> None: ...
