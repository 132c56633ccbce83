"""Rate limits and quotas in the policy: how many calls, or session starts, per window and per whom.

    limits:
      - {name: mail-per-session, per: session, calls: 5, seconds: 60, tool: send_email}
      - {name: calls-per-agent, per: agent, calls: 600, seconds: 3600}
      - {name: sessions-per-key, per: key, sessions: 100, seconds: 60}

``per`` is what is counted apart: ``project``, ``key`` (the API key), ``agent``
(the agent a session declared; undeclared agents count together), ``session``
or ``tool``. ``calls`` limits tool calls (``tool`` narrows it, a glob);
``sessions`` limits session starts (``per: project``, ``key`` or ``agent``).
Windows are fixed: ``seconds`` long, counted from the epoch. This module only
says which counters a request touches (:func:`counters`); the interceptor's
state store counts them atomically across replicas.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Counter", "Limit", "counters", "parse_limits"]

_PER = ("project", "key", "agent", "session", "tool")
_SESSION_PER = ("project", "key", "agent")
_KEYS = {"name", "per", "calls", "sessions", "seconds", "tool"}


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    per: str
    count: int
    seconds: int
    sessions: bool = False  # counts session starts, not calls
    tool: str | None = None  # a glob: only these tools' calls count


@dataclass(frozen=True, slots=True)
class Counter:
    """One counter a request adds one to: its key (scope and window), its limit, and when the window ends."""

    key: str
    limit: Limit
    resets_at: int


def parse_limits(raw: Any, problems: list[str]) -> tuple[Limit, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        problems.append("policies.limits: must be a list of limits")
        return ()
    limits, names = [], set()
    for index, item in enumerate(raw):
        place = f"policies.limits[{index}]"
        limit = _parse_limit(item, place, problems)
        if limit is None:
            continue
        if limit.name in names:
            problems.append(f"{place}.name: {limit.name!r} is used by an earlier limit")
        names.add(limit.name)
        limits.append(limit)
    return tuple(limits)


def _parse_limit(item: Any, place: str, problems: list[str]) -> Limit | None:
    if not isinstance(item, Mapping):
        problems.append(f"{place}: must be a mapping with name, per, calls or sessions, and seconds")
        return None
    for key in sorted(set(item) - _KEYS):
        problems.append(f"{place}: unknown field {key!r} (one of {', '.join(sorted(_KEYS))})")
    name, per, seconds = item.get("name"), item.get("per"), item.get("seconds")
    sessions = "sessions" in item
    count = item.get("sessions" if sessions else "calls")
    found = len(problems)
    if not isinstance(name, str) or not name or not name.replace("-", "").replace("_", "").isalnum():
        problems.append(f"{place}.name: a name of letters, digits, - and _")
    if per not in (_SESSION_PER if sessions else _PER):
        problems.append(f"{place}.per: one of {', '.join(_SESSION_PER if sessions else _PER)}, not {per!r}")
    if ("calls" in item) == sessions:
        problems.append(f"{place}: give calls or sessions (one of them)")
    if not _positive(count) or not _positive(seconds):
        problems.append(f"{place}: calls or sessions, and seconds, are whole numbers above 0")
    tool = item.get("tool")
    if tool is not None and (sessions or not isinstance(tool, str) or not tool):
        problems.append(f"{place}.tool: a tool name or glob, for a calls limit only")
    if len(problems) > found or not isinstance(count, int) or not isinstance(seconds, int):
        return None
    return Limit(str(name), str(per), count, seconds, sessions, tool)


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def counters(
    limits: Sequence[Limit], now: float, *, project: str, key_hash: str, agent: str | None,
    sid: str | None = None, tool: str | None = None,
) -> list[Counter]:
    """The counters a call of ``tool`` in session ``sid`` (or, with neither, a session start) adds one to."""
    found = []
    starting = tool is None
    for limit in limits:
        if limit.sessions != starting or (limit.tool is not None and not fnmatch.fnmatchcase(tool or "", limit.tool)):
            continue
        scope = {"project": "", "key": key_hash, "agent": agent or "", "session": sid or "", "tool": tool or ""}
        window = int(now // limit.seconds)
        # Hashed: an agent or tool name can never spell another scope's key (a colon, another project).
        subject = hashlib.sha256(f"{project}\0{limit.per}\0{scope[limit.per]}".encode()).hexdigest()[:32]
        found.append(Counter(f"{limit.name}:{subject}:{window}", limit, (window + 1) * limit.seconds))
    return found
