"""Writing a classified catalogue into a project of the config store.

Tools are stored in the config-store shape (``name``, ``description``,
``input_schema``, ``class``) with the classifier's ``confidence``, ``rationale``
and ``needs_review`` beside them. It must never write a class outside the five,
and never touch the project's API key or policies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rule_maker._errors import CatalogueError, RuleMakerError
from sentinel_policy import SecurityClass

_META = ("confidence", "rationale", "needs_review", "classified_by")


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


async def push_tools(project: str, tools: Sequence[Mapping[str, Any]], *, config: str | None = None, settings: Any = None) -> int:
    """Replace ``project``'s tools with ``tools``; returns how many were written.

    The store is the interceptor's (SENTINEL_DATABASE_URL, Supabase, SENTINEL_CONFIG),
    or ``config`` (a YAML file) / ``settings`` when given.
    """
    from interceptor.config import ConfigStoreError, open_backend, settings_from_env

    shaped = store_shape(tools)
    store = open_backend(settings if settings is not None else settings_from_env(config_path=config))
    try:
        if await store.get_project(project) is None:
            raise RuleMakerError(f"project {project!r} does not exist; create it with `sentinel keys create --project {project}`", code="project_not_found")
        await store.push_tools(project, shaped)
    except ConfigStoreError as exc:
        raise RuleMakerError(f"config store: {exc}", code=exc.code) from None
    finally:
        await store.close()
    return len(shaped)
