"""Compilation of a project's ``policies`` (the original staticRules/taintRules
shape) and ``tools`` into the form the evaluator reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class PolicyError(ValueError):
    """A policy that cannot be compiled; ``problems`` lists every one, with its place."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    tools: frozenset[str]
    classes: Mapping[str, str]
    static: Mapping[str, str]
    adds: Mapping[str, frozenset[str]]                # tool -> tags added when it is used
    checks: Mapping[str, frozenset[str]]              # tool -> tags that block it
    block_second: Mapping[str, frozenset[str]] = field(default_factory=dict)  # second -> firsts


def compile_policy(policies: Mapping[str, Any] | None, tools: Sequence[Mapping[str, Any]] | None) -> CompiledPolicy:
    problems: list[str] = []
    policies = policies or {}
    tool_names: set[str] = set()
    classes: dict[str, str] = {}
    for index, tool in enumerate(tools or ()):
        name = tool.get("name") if isinstance(tool, Mapping) else None
        if not isinstance(name, str) or not name:
            problems.append(f"tools[{index}]: a tool needs a name")
            continue
        tool_names.add(name)
        if isinstance(tool.get("class"), str):
            classes[name] = tool["class"]

    static: dict[str, str] = {}
    raw_static = policies.get("staticRules", {}) or {}
    if not isinstance(raw_static, Mapping):
        problems.append("policies.staticRules: must be a mapping of tool name to ALLOW or DENY")
        raw_static = {}
    for tool, verdict in raw_static.items():
        if verdict not in ("ALLOW", "DENY"):
            problems.append(f"policies.staticRules.{tool}: must be ALLOW or DENY, not {verdict!r}")
            continue
        static[str(tool)] = verdict

    adds: dict[str, set[str]] = {}
    checks: dict[str, set[str]] = {}
    block_second: dict[str, set[str]] = {}
    raw_taint = policies.get("taintRules", []) or []
    if not isinstance(raw_taint, Sequence) or isinstance(raw_taint, str):
        problems.append("policies.taintRules: must be a list")
        raw_taint = []
    for index, rule in enumerate(raw_taint):
        place = f"policies.taintRules[{index}]"
        if not isinstance(rule, Mapping):
            problems.append(f"{place}: must be a mapping")
            continue
        kind = rule.get("type")
        if kind == "ADD_TAINT":
            if not isinstance(rule.get("tool"), str) or not isinstance(rule.get("tag"), str):
                problems.append(f"{place}: ADD_TAINT needs tool and tag")
                continue
            adds.setdefault(rule["tool"], set()).add(rule["tag"])
        elif kind == "CHECK_TAINT":
            tags = rule.get("forbidden_tags")
            if not isinstance(rule.get("tool"), str) or not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                problems.append(f"{place}: CHECK_TAINT needs tool and forbidden_tags (a list)")
                continue
            checks.setdefault(rule["tool"], set()).update(tags)
        elif kind == "BLOCK_SECOND":
            if not isinstance(rule.get("first"), str) or not isinstance(rule.get("second"), str):
                problems.append(f"{place}: BLOCK_SECOND needs first and second")
                continue
            block_second.setdefault(rule["second"], set()).add(rule["first"])
        else:
            problems.append(f"{place}: unknown type {kind!r} (ADD_TAINT, CHECK_TAINT or BLOCK_SECOND)")
    if problems:
        raise PolicyError(problems)
    return CompiledPolicy(
        tools=frozenset(tool_names | set(static)),
        classes=classes,
        static=static,
        adds={k: frozenset(v) for k, v in adds.items()},
        checks={k: frozenset(v) for k, v in checks.items()},
        block_second={k: frozenset(v) for k, v in block_second.items()},
    )
