"""The data the engine reads and returns: calls, session facts, decisions, state changes."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

# Bounded so that per-session state stays small (the performance target is 2 KB).
MAX_HISTORY = 32
MAX_VALUES = 64


class Effect(str, enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"


@dataclass(frozen=True, slots=True)
class ToolCall:
    tool: str
    arguments: Mapping[str, Any]
    project: str = ""
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class StateDelta:
    """What an allowed call (or its output) changes in the session."""

    add_tags: frozenset[str] = frozenset()
    record_call: str | None = None
    add_values: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not self.add_tags and self.record_call is None and not self.add_values


EMPTY_DELTA = StateDelta()


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """The session state the policy may depend on.

    ``history`` holds the names of the session's allowed calls, oldest first,
    bounded to the last MAX_HISTORY; ``values`` holds fingerprints of values
    seen in untrusted tool output (data-flow taint), bounded to MAX_VALUES.
    ``version`` increases with every committed change; stores use it to
    refuse a commit decided on stale facts.
    """

    tags: frozenset[str] = frozenset()
    history: tuple[str, ...] = ()
    values: frozenset[str] = frozenset()
    version: int = 0

    def to_json(self) -> bytes:
        return orjson.dumps({"t": sorted(self.tags), "h": list(self.history), "v": sorted(self.values)})

    @classmethod
    def from_json(cls, data: bytes | str | None, version: int = 0) -> SessionFacts:
        if not data:
            return cls(version=version)
        raw = orjson.loads(data)
        return cls(
            tags=frozenset(raw.get("t", ())),
            history=tuple(raw.get("h", ())),
            values=frozenset(raw.get("v", ())),
            version=version,
        )


def apply_delta(facts: SessionFacts, delta: StateDelta) -> SessionFacts:
    """The facts after ``delta``; unchanged (same object) when the delta changes nothing."""
    tags = facts.tags | delta.add_tags
    history = facts.history
    if delta.record_call is not None:
        history = (*history, delta.record_call)[-MAX_HISTORY:]
    values = facts.values
    if delta.add_values - values:
        values = frozenset(sorted(values | delta.add_values)[:MAX_VALUES])
    if tags == facts.tags and history == facts.history and values == facts.values:
        return facts
    return SessionFacts(tags=tags, history=history, values=values, version=facts.version + 1)


@dataclass(frozen=True, slots=True)
class Decision:
    effect: Effect
    rule: str
    reason: str
    delta: StateDelta = field(default=EMPTY_DELTA)

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    def as_dict(self) -> dict[str, str]:
        return {"decision": self.effect.value, "rule": self.rule, "reason": self.reason}
