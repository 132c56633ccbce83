"""Writing a classified catalogue into a project of the config store.

Tools are stored in the config-store shape (``name``, ``description``,
``input_schema``, ``class``) with the classifier's ``confidence``, ``rationale``
and ``needs_review`` beside them. The catalogue pushed becomes the project's
whole catalogue; a push that would drop tools the project has is refused
unless ``replace`` is given (``CatalogueChange`` says what a push adds,
changes and removes). It must never write a class outside the five, never
remove a tool without ``replace``, and never touch the project's API key or
policies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rule_maker._errors import CatalogueError, RuleMakerError
from sentinel_policy import SecurityClass

_META = ("confidence", "rationale", "needs_review", "classified_by", "definition_sha256")


def store_shape(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tools as the config store keeps them; CatalogueError on an unknown class."""
    valid = {c.value for c in SecurityClass}
    shaped = []
    problems = []
    for tool in tools:
        cls = tool.get("class")
        if cls is not None and cls not in valid:
            problems.append(f"{tool['name']}: class {cls!r} is not one of {', '.join(sorted(valid))}")
            continue
        schema = tool.get("input_schema", tool.get("inputSchema", tool.get("parameters", {"type": "object", "properties": {}})))
        entry: dict[str, Any] = {"name": tool["name"], "description": tool.get("description", ""), "input_schema": schema}
        if cls is not None:
            entry["class"] = cls
        entry.update({k: tool[k] for k in _META if k in tool})
        shaped.append(entry)
    if problems:
        raise CatalogueError("; ".join(problems))
    return shaped


@dataclass(frozen=True, slots=True)
class CatalogueChange:
    """What a push does to a project's catalogue, by tool name, and the project's policy it must still serve."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    policies: Mapping[str, Any] = field(default_factory=dict)  # the project's current policy, untouched by the push

    @classmethod
    def between(cls, current: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]],
                policies: Mapping[str, Any] | None = None) -> CatalogueChange:
        before = {str(t.get("name")): dict(t) for t in current}
        after = {str(t.get("name")): dict(t) for t in new}
        return cls(
            added=tuple(n for n in after if n not in before),
            changed=tuple(n for n in after if n in before and before[n] != after[n]),
            unchanged=tuple(n for n in after if n in before and before[n] == after[n]),
            removed=tuple(n for n in before if n not in after),
            policies=dict(policies or {}),
        )


async def push_catalogue(
    project: str, tools: Sequence[Mapping[str, Any]], *, config: str | None = None, settings: Any = None,
    replace: bool = False,
) -> CatalogueChange:
    """Make ``tools`` ``project``'s catalogue; what changed. Without ``replace`` a push that would remove a tool
    is refused (RuleMakerError ``would_remove``, naming them) and nothing is written.

    The store is the interceptor's (SENTINEL_DATABASE_URL, Supabase, SENTINEL_CONFIG),
    or ``config`` (a YAML file) / ``settings`` when given.
    """
    from interceptor.config import ConfigStoreError, open_backend, settings_from_env

    shaped = store_shape(tools)
    store = open_backend(settings if settings is not None else settings_from_env(config_path=config))
    try:
        existing = await store.get_project(project)
        if existing is None:
            raise RuleMakerError(f"project {project!r} does not exist; create it with `sentinel keys create --project {project}`", code="project_not_found")
        change = CatalogueChange.between(existing.tools, shaped, existing.policies)
        if change.removed and not replace:
            raise RuleMakerError(
                f"the catalogue would remove {len(change.removed)} tool(s) project {project!r} has: "
                f"{', '.join(change.removed)}; nothing was written. Add them to the file, or pass --replace to remove them",
                code="would_remove",
            )
        await store.push_tools(project, shaped)
    except ConfigStoreError as exc:
        raise RuleMakerError(f"config store: {exc}", code=exc.code) from None
    finally:
        await store.close()
    return change


async def push_tools(
    project: str, tools: Sequence[Mapping[str, Any]], *, config: str | None = None, settings: Any = None,
    replace: bool = False,
) -> int:
    """``push_catalogue``, answering how many tools the project now has."""
    change = await push_catalogue(project, tools, config=config, settings=settings, replace=replace)
    return len(change.added) + len(change.changed) + len(change.unchanged)
