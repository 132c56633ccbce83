"""Reading and writing tool catalogues: lists of ``{name, description, parameters}`` definitions.

Accepts the shapes tools arrive in (a bare list, ``{"tools": [...]}`` as MCP's
tools/list answers, ``parameters`` / ``input_schema`` / ``inputSchema``). It must
never drop or rename a field of the input: classification only adds fields, and
never accept a tool name the tool server would refuse: names end up in policy
files (as tool patterns and in comments) and on the terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rule_maker._classification import Classification
from rule_maker._errors import CatalogueError

# The tool server's rule (mcp_server.registry._TOOL_NAME), kept in step by a test. It has no glob
# characters ([ ] * ?), so a name used as a policy's tool pattern matches that tool only, and no
# line breaks, so a name can never end a comment line of a drafted policy.
TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SHOWN = 40  # characters of a refused name quoted in an error


def printable(text: str) -> str:
    """``text`` with every character that could end a line or drive a terminal escaped (\\n, \\x1b, \\u2028)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def shown_name(name: str) -> str:
    """A tool name quoted for an error message: escaped and cut short."""
    return "'" + printable(name[:_SHOWN]) + "'" + ("..." if len(name) > _SHOWN else "")


def name_problem(name: Any) -> str | None:
    """What is wrong with a tool name, or None when the tool server would accept it."""
    if not isinstance(name, str) or not name:
        return "a tool needs a non-empty string name"
    if not TOOL_NAME.fullmatch(name):
        return f"tool name {shown_name(name)} is not a valid tool name (use 1-64 of A-Z a-z 0-9 _ - .)"
    return None


def name_problems(tools: Sequence[Any]) -> list[str]:
    """One problem per tool whose name is missing or invalid, with its position in the list."""
    problems = []
    for index, tool in enumerate(tools):
        problem = name_problem(tool.get("name") if isinstance(tool, Mapping) else None)
        if problem:
            problems.append(f"[{index}]: {problem}")
    return problems


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
        elif problem := name_problem(tool.get("name")):
            problems.append(f"[{index}]: {problem}")
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
