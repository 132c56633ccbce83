"""Who is calling, and under which compiled policy.

Turns an ``X-Sentinel-Key`` into its holder through the config store: the
project, and the agent the key is bound to (None for the project key); keeps
each project's policy compiled once per (project, policy version). An
agent-bound key starts sessions only as its agent (``session_agent``) and
reaches only that agent's sessions (``Sessions`` takes the holder's agent).

It must never keep or log the key itself, and must answer a wrong key and an
unknown project in the same way (same error, same work done).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from interceptor.config import ConfigStore, ConfigStoreError, KeyHolder, Project
from interceptor.errors import AgentNotAllowed, NotFound, ServiceUnavailable, Unauthorized
from sentinel_http import LogThrottle
from sentinel_policy import CompiledPolicy, PolicyError, compile_policy

__all__ = ["ProjectDirectory", "agent_tools", "key_hash", "pins_of", "session_agent"]

_log = logging.getLogger("sentinel.interceptor")


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(slots=True)
class _Compiled:
    version: int
    policies: Mapping[str, Any]
    tools: Sequence[Mapping[str, Any]]
    policy: CompiledPolicy


class ProjectDirectory:
    def __init__(self, store: ConfigStore) -> None:
        self._store = store
        self._compiled: dict[str, _Compiled] = {}
        self._pins: dict[str, tuple[Sequence[Mapping[str, Any]], Mapping[str, str]]] = {}
        self._throttle = LogThrottle()

    async def authenticate(self, api_key: str | None) -> KeyHolder:
        """The key's holder: its project, and the agent it is bound to (None: the project key); else 401."""
        # A missing key is looked up as the hash of "" so that it costs what a wrong key costs.
        wanted = key_hash(api_key or "")
        try:
            holder = await self._store.find_key(wanted)
        except ConfigStoreError as exc:
            # Every request fails the same way until it is fixed: the operator hears of it once a minute.
            if self._throttle.allow("config"):
                _log.error("requests are refused (503): the config store cannot be read: %s: %s", exc.code, exc.message)
            raise ServiceUnavailable("the project configuration cannot be read", code="config_unavailable") from exc
        # The store compares in constant time; this second check guards a store that does not.
        if holder is None or not api_key or not hmac.compare_digest(holder.key_sha256, wanted):
            raise Unauthorized()
        return holder

    async def project(self, name: str) -> Project:
        """A project by name (for the admin API, which holds no project key)."""
        try:
            project = await self._store.get_project(name)
        except ConfigStoreError as exc:
            raise ServiceUnavailable("the project configuration cannot be read", code="config_unavailable") from exc
        if project is None:
            raise NotFound(f"no project named {name[:64]!r}", code="project_not_found")
        return project

    def policy_for(self, project: Project) -> CompiledPolicy:
        cached = self._compiled.get(project.name)
        if cached is not None and cached.version == project.policy_version:
            # Same objects: the config cache served the same snapshot (the common case).
            if cached.policies is project.policies and cached.tools is project.tools:
                return cached.policy
            # A reload with the same version and content: keep the compiled form.
            if cached.policies == project.policies and list(cached.tools) == list(project.tools):
                cached.policies, cached.tools = project.policies, project.tools
                return cached.policy
        try:
            policy = compile_policy(project.policies, project.tools)
        except PolicyError as exc:
            # Fail closed: a project with a broken policy gets no calls through.
            # The problems are for the operator (`sentinel policy validate`), not the agent.
            if self._throttle.allow(f"policy:{project.name}"):
                _log.error("project %s: its policy does not compile; its calls are refused (503)", project.name)
            raise ServiceUnavailable("the project's policy does not compile", code="policy_invalid") from exc
        self._compiled[project.name] = _Compiled(project.policy_version, project.policies, project.tools, policy)
        return policy


    def pins(self, project: Project) -> Mapping[str, str]:
        """tool name -> its pinned ``definition_sha256``, for the project's pinned tools (kept per snapshot)."""
        cached = self._pins.get(project.name)
        if cached is not None and cached[0] is project.tools:
            return cached[1]
        pins = pins_of(project.tools)
        self._pins[project.name] = (project.tools, pins)
        return pins


def session_agent(holder: KeyHolder, declared: str | None) -> str | None:
    """The agent a session this key starts runs as: the key's agent if it is bound to one (declared
    or not), else what the application declared; a bound key declaring another agent is 403."""
    if holder.agent is None:
        return declared
    if declared is not None and declared != holder.agent:
        raise AgentNotAllowed(holder.agent)
    return holder.agent


def pins_of(tools: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """tool name -> ``definition_sha256`` of every catalogue entry that carries a pin."""
    return {
        str(tool["name"]): str(tool["definition_sha256"])
        for tool in tools
        if isinstance(tool.get("definition_sha256"), str)
    }


def agent_tools(project: Project, withheld: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The tool definitions an agent sees: name, description, input schema (not the security class).

    ``withheld``: pinned tools whose live definition changed (``LiveDefinitions.withheld``), left out.
    """
    tools = []
    for tool in project.tools:
        if withheld and tool.get("name") in withheld:
            continue
        tools.append(
            {
                "name": tool.get("name"),
                "description": tool.get("description", ""),
                "input_schema": tool.get("input_schema") or {"type": "object", "properties": {}},
            }
        )
    return tools
