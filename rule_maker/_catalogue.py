"""Reading and writing tool catalogues: lists of ``{name, description, parameters}`` definitions.

Accepts the shapes tools arrive in (a bare list, ``{"tools": [...]}`` as MCP's
tools/list answers, ``parameters`` / ``input_schema`` / ``inputSchema``). It must
never drop or rename a field of the input: classification only adds fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rule_maker._classes import Classification
from rule_maker._errors import CatalogueError


def parse_tools(data: Any) -> list[dict[str, Any]]:
    """The tool definitions in ``data``; raises CatalogueError listing every malformed entry."""
    if isinstance(data, Mapping) and "tools" in data:
        data = data["tools"]
    if not isinstance(data, list):
        raise CatalogueError("a catalogue is a JSON list of tool definitions (or {\"tools\": [...]})")
    problems = []
    names: set[str] = set()
    for index, tool in enumerate(data):
        if not isinstance(tool, Mapping):
            problems.append(f"[{index}]: not an object")
        elif not isinstance(tool.get("name"), str) or not tool["name"]:
            problems.append(f"[{index}]: a tool needs a non-empty string name")
        elif tool["name"] in names:
            problems.append(f"[{index}]: duplicate tool name {tool['name']!r}")
        else:
            names.add(tool["name"])
    if problems:
        raise CatalogueError("; ".join(problems))
    return [dict(tool) for tool in data]


def load_tools(path: str | Path) -> list[dict[str, Any]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    return parse_tools(data)


def annotate(tools: Sequence[Mapping[str, Any]], results: Sequence[Classification]) -> list[dict[str, Any]]:
    """The tools, each with ``class``, ``confidence``, ``rationale``, ``needs_review`` added."""
    by_name = {r.tool: r for r in results}
    return [{**tool, **by_name[str(tool["name"])].as_fields()} for tool in tools]


def dump_tools(tools: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(tools), indent=2, ensure_ascii=False) + "\n"
