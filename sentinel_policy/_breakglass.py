"""Break-glass in the policy: who may open it, for how long, how often, and what it lets through.

    breakglass:
      openers: [oncall-*, alice]      # admin names (globs); absent: break-glass is off for the project
      max_minutes: 60                 # the longest one may stay open
      cooldown_minutes: 30            # a person's wait between two openings
      per_day: 3                      # openings per person per day (UTC)
      tools: [send_email, "crm_*"]    # what it may let through (globs); absent: every defined tool

An open break-glass turns, for its session only, a denial or a hold of one of
``tools`` into an allow that names it (:func:`override`): the call runs, its
taint and history are recorded as for any allow, and the audit trail says
under which break-glass. A tool the project does not define stays denied.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sentinel_policy._arguments import as_str_list

__all__ = ["REASON_CODES", "BreakGlassRules", "parse_breakglass"]

REASON_CODES = ("incident", "maintenance", "security", "recovery", "other")
_KEYS = {"openers", "max_minutes", "cooldown_minutes", "per_day", "tools"}


@dataclass(frozen=True, slots=True)
class BreakGlassRules:
    openers: tuple[str, ...]
    max_minutes: int = 60
    cooldown_minutes: int = 30
    per_day: int = 3
    tools: tuple[str, ...] | None = None

    def may_open(self, person: str) -> bool:
        return any(fnmatch.fnmatchcase(person, pattern) for pattern in self.openers)

    def covers(self, tool: str) -> bool:
        return self.tools is None or any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.tools)


def parse_breakglass(raw: Any, problems: list[str]) -> BreakGlassRules | None:
    if raw is None:
        return None
    place = "policies.breakglass"
    if not isinstance(raw, Mapping):
        problems.append(f"{place}: must be a mapping with openers (and max_minutes, cooldown_minutes, per_day, tools)")
        return None
    for key in sorted(set(raw) - _KEYS):
        problems.append(f"{place}: unknown field {key!r} (one of {', '.join(sorted(_KEYS))})")
    openers = as_str_list(raw.get("openers"), f"{place}.openers", problems) if "openers" in raw else []
    if not openers:
        problems.append(f"{place}.openers: name who may open it (globs on admin names)")
    numbers = {}
    for key, default, high in (("max_minutes", 60, 1440), ("cooldown_minutes", 30, 1440), ("per_day", 3, 100)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not (0 if key == "cooldown_minutes" else 1) <= value <= high:
            problems.append(f"{place}.{key}: a whole number up to {high}, not {value!r}")
            value = default
        numbers[key] = value
    tools = tuple(as_str_list(raw["tools"], f"{place}.tools", problems)) if "tools" in raw else None
    return BreakGlassRules(tuple(openers), numbers["max_minutes"], numbers["cooldown_minutes"], numbers["per_day"],
                           tools)
