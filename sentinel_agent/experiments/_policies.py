"""The policies an experiment compares, and the config file each one runs under.

Built in: ``baseline`` (every tool allowed, nothing remembered: shows that the
attacks work), ``static+taint`` (examples/sentinel.yaml: static allow/deny per
tool, taint from untrusted reads and one read-then-send sequence rule, nothing
else), ``sentinel`` (the recommended policy shipped here: named rules with
argument conditions, data flow and approvals).
Any other ``--policy FILE`` (a config, a ``policies`` object or a bare one) runs
in a fresh config with the demo project's tools and key; ``--config FILE`` runs
a whole config file as it is.

Roles decide what a failure means: ``enforced`` policies must stop every attack
and complete every task (the run fails otherwise); ``reference`` (static+taint)
and ``unprotected`` (baseline) are shown for comparison only. This module must
never weaken a policy it was given: it copies ``policies`` verbatim.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from sentinel_agent._errors import ExperimentError

__all__ = ["BUILTIN_POLICIES", "DEFAULT_POLICIES", "PolicyUnderTest", "policy_from_config", "resolve_policy"]

Role = Literal["enforced", "reference", "unprotected"]
DEMO_API_KEY = "sk-sentinel-demo"
BUILTIN_POLICIES = ("baseline", "static+taint", "sentinel")
DEFAULT_POLICIES = BUILTIN_POLICIES
_EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "sentinel.yaml"
_DESCRIPTIONS = {
    "baseline": "no protection: every tool allowed (shows each attack works)",
    "static+taint": "examples/sentinel.yaml: staticRules (allow/deny per tool) + taintRules (taint, one sequence rule)",
    "sentinel": "named rules: argument conditions, data-flow taint, approvals",
}
_ROLES: dict[str, Role] = {"baseline": "unprotected", "static+taint": "reference", "sentinel": "enforced"}


@dataclass(frozen=True, slots=True)
class PolicyUnderTest:
    name: str
    role: Role
    source: str
    description: str = ""
    policies: Mapping[str, Any] | None = None  # written into a fresh demo config
    config_path: Path | None = None  # or a whole config, used as it is
    api_key: str = DEMO_API_KEY
    tools: list[dict[str, Any]] = field(default_factory=list)

    def write_config(self, directory: Path) -> Path:
        """The config file the interceptor loads for this policy."""
        if self.config_path is not None:
            return self.config_path
        from mcp_server.demo import tool_definitions

        project = {
            "name": "demo",
            "api_key_sha256": hashlib.sha256(self.api_key.encode()).hexdigest(),
            "tools": self.tools or tool_definitions(),
            "policies": dict(self.policies or {}),
        }
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.config.yaml"
        path.write_text(yaml.safe_dump({"projects": [project]}, sort_keys=False), encoding="utf-8")
        return path


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ExperimentError(f"cannot read policy file {path}: {exc}") from exc


def _policies_of(document: Any, path: Path) -> tuple[Mapping[str, Any], list[dict[str, Any]]]:
    """The ``policies`` object of a config (its first project), a ``{policies: ...}`` file or a bare one."""
    if not isinstance(document, Mapping):
        raise ExperimentError(f"{path}: a policy file holds a YAML/JSON object")
    if isinstance(document.get("projects"), list) and document["projects"]:
        project = document["projects"][0]
        return project.get("policies") or {}, list(project.get("tools") or [])
    if isinstance(document.get("policies"), Mapping):
        return document["policies"], list(document.get("tools") or [])
    return document, []


def _check_compiles(name: str, policies: Mapping[str, Any], tools: list[dict[str, Any]]) -> None:
    from mcp_server.demo import tool_definitions
    from sentinel_policy import PolicyError, compile_policy

    try:
        compile_policy(policies, tools or tool_definitions())
    except PolicyError as exc:
        raise ExperimentError(f"policy {name!r} is not valid: {exc}") from exc


def resolve_policy(spec: str, *, taken: set[str] | None = None) -> PolicyUnderTest:
    """A built-in name (baseline, static+taint, sentinel) or a policy file."""
    if spec in BUILTIN_POLICIES:
        if spec == "sentinel":
            text = resources.files("sentinel_agent.experiments").joinpath("policies/sentinel.yaml").read_text(encoding="utf-8")
            policies, source = yaml.safe_load(text)["policies"], "sentinel_agent/experiments/policies/sentinel.yaml"
        elif spec == "baseline":
            text = resources.files("sentinel_agent.experiments").joinpath("policies/baseline.yaml").read_text(encoding="utf-8")
            policies, source = yaml.safe_load(text)["policies"], "sentinel_agent/experiments/policies/baseline.yaml"
        else:
            if not _EXAMPLE_CONFIG.exists():
                raise ExperimentError(f"the example policy is not at {_EXAMPLE_CONFIG} (run from a source checkout)")
            policies, _ = _policies_of(_read(_EXAMPLE_CONFIG), _EXAMPLE_CONFIG)
            source = "examples/sentinel.yaml"
        _check_compiles(spec, policies, [])
        return PolicyUnderTest(spec, _ROLES[spec], source, _DESCRIPTIONS[spec], policies=policies)
    path = Path(spec)
    if not path.is_file():
        raise ExperimentError(f"no such policy: {spec!r} (built in: {', '.join(BUILTIN_POLICIES)}; or give a file)")
    policies, tools = _policies_of(_read(path), path)
    _check_compiles(spec, policies, tools)
    return PolicyUnderTest(_unique(path, taken), "enforced", str(path), f"policy file {path}", policies=policies, tools=tools)


def policy_from_config(path: str, api_key: str = DEMO_API_KEY, *, taken: set[str] | None = None) -> PolicyUnderTest:
    """A whole config file, run as it is; ``api_key`` must belong to one of its projects."""
    config = Path(path).resolve()
    document = _read(config)
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    projects = document.get("projects") if isinstance(document, Mapping) else None
    if not isinstance(projects, list) or not any(isinstance(p, Mapping) and p.get("api_key_sha256") == digest for p in projects):
        raise ExperimentError(f"{path}: no project in this config has the API key given with --api-key")
    return PolicyUnderTest(_unique(Path(path), taken), "enforced", str(path), f"config file {path}", config_path=config, api_key=api_key)


def _unique(path: Path, taken: set[str] | None) -> str:
    """The file's stem; its folder joins in when a built-in or an earlier file has that name."""
    taken = taken if taken is not None else set()
    name = path.stem
    if name in taken or name in BUILTIN_POLICIES:
        name = f"{path.resolve().parent.name}-{path.stem}"
    candidate, index = name, 2
    while candidate in taken or candidate in BUILTIN_POLICIES:
        candidate, index = f"{name}-{index}", index + 1
    taken.add(candidate)
    return candidate
