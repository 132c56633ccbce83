"""The data the engine reads and returns: calls, session facts, decisions, state changes.

Everything here is an immutable value; it must never do I/O or read the clock.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from interceptor.policy._values import decode_filter, encode_filter, filter_add

# Bounded so that per-session state stays small (the performance target is 2 KB).
MAX_HISTORY = 32
MAX_VALUES = 32


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
    bounded to the last MAX_HISTORY; ``values`` holds fingerprints ("t:...")
    of values seen in trusted context, bounded to MAX_VALUES; ``seen`` is a
    fixed-size filter of the fingerprints of values seen in untrusted output.
    ``version`` increases with every committed change; stores use it to
    refuse a commit decided on stale facts. The filter never forgets and its
    false positives make a value look untrusted (fail closed).
    """

    tags: frozenset[str] = frozenset()
    history: tuple[str, ...] = ()
    values: frozenset[str] = frozenset()
    version: int = 0
    seen: bytes = b""

    def to_json(self) -> bytes:
        data: dict[str, Any] = {"t": sorted(self.tags), "h": list(self.history), "v": sorted(self.values)}
        if self.seen:
            data["s"] = encode_filter(self.seen)
        return orjson.dumps(data)

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
            seen=decode_filter(raw.get("s")),
        )


def apply_delta(facts: SessionFacts, delta: StateDelta) -> SessionFacts:
    """The facts after ``delta``; unchanged (same object) when the delta changes nothing."""
    tags = facts.tags | delta.add_tags
    history = facts.history
    if delta.record_call is not None:
        history = (*history, delta.record_call)[-MAX_HISTORY:]
    values = facts.values
    seen = facts.seen
    if delta.add_values:
        # Trusted-context fingerprints ("t:") are kept exactly: a false positive there would
        # wrongly vouch for a value (fail open); when full, new ones are dropped (fail closed).
        # Every other fingerprint goes into the filter, where a false positive only fails closed.
        trusted = {v for v in delta.add_values if v.startswith("t:")}
        others = delta.add_values - trusted
        if others:
            seen = filter_add(seen, others)
        if trusted - values:
            values = frozenset(sorted(values | trusted)[:MAX_VALUES])
    if tags == facts.tags and history == facts.history and values == facts.values and seen == facts.seen:
        return facts
    return SessionFacts(tags=tags, history=history, values=values, version=facts.version + 1, seen=seen)


@dataclass(frozen=True, slots=True)
class Decision:
    effect: Effect
    rule: str
    reason: str
    delta: StateDelta = field(default=EMPTY_DELTA)
    errors: tuple[str, ...] = ()  # rules skipped because they failed to evaluate, with why

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"decision": self.effect.value, "rule": self.rule, "reason": self.reason}
        if self.errors:
            data["errors"] = list(self.errors)
        return data
