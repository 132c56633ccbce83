"""The data the engine reads and returns: calls, session facts, decisions, state changes.

Everything here is an immutable value; it must never do I/O or read the clock.
The one source of chance: new session facts draw their fingerprint key from
``secrets`` unless the caller passes one (see ``SessionFacts``).
"""

from __future__ import annotations

import base64
import binascii
import enum
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from sentinel_policy._dataflow import OVERFLOW_TAG, decode_filter, encode_filter, filter_add, keyed

# Bounded so that per-session state stays small (its target: docs/performance.md, "The policy engine").
MAX_HISTORY = 32
MAX_VALUES = 32
KEY_BYTES = 16
_FINGERPRINT_BYTES = 16


def new_key() -> bytes:
    """A fresh secret for one session's fingerprints."""
    return secrets.token_bytes(KEY_BYTES)


class Effect(str, enum.Enum):  # noqa: UP042 (str() of a member stays "Effect.ALLOW" where it is logged)
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
    """What an allowed call (or its output) changes in the session.

    ``add_values`` holds "zone:digest" items (``_dataflow.digest``, unkeyed):
    ``apply_delta`` keys them with the session's secret, so computing a delta
    needs no session state.
    """

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
    bounded to the last MAX_HISTORY; ``values`` holds the fingerprints
    (base64url of 128-bit keyed hashes) of values seen in trusted context,
    bounded to MAX_VALUES; ``seen`` is a fixed-size filter of the fingerprints
    of values seen in untrusted output. ``key`` is the session's secret for
    those fingerprints: a new session gets a random one, and it is stored with
    the facts once they hold a fingerprint (it is not compared: facts are equal
    when what they say is). ``version`` increases with every committed change;
    stores use it to refuse a commit decided on stale facts. The filter never
    forgets and its false positives make a value look untrusted (fail closed).
    """

    tags: frozenset[str] = frozenset()
    history: tuple[str, ...] = ()
    values: frozenset[str] = frozenset()
    version: int = 0
    seen: bytes = b""
    key: bytes = field(default_factory=new_key, compare=False, repr=False)

    def to_json(self) -> bytes:
        # The trusted fingerprints travel as one base64url text (16 bytes each, sorted): a third smaller
        # than a list of texts, which keeps a full state within its size target.
        packed = b"".join(_bytes(v) for v in sorted(self.values))
        data: dict[str, Any] = {"t": sorted(self.tags), "h": list(self.history), "v": _b64(packed)}
        if self.seen:
            data["s"] = encode_filter(self.seen)
        if self.seen or self.values:
            data["k"] = _b64(self.key)
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, data: bytes | str | None, version: int = 0) -> SessionFacts:
        if not data:
            return cls(version=version)
        raw = orjson.loads(data)
        tags = frozenset(raw.get("t", ()))
        values = _unpack(raw.get("v"))
        seen = decode_filter(raw.get("s"))
        key = _unb64(raw.get("k"))
        if key is None or len(key) != KEY_BYTES or values is None:
            key = new_key()  # nothing keyed yet: any key will do (the next commit stores it)
            if raw.get("v") or seen:  # fingerprints without their key (an older state): trust nothing, taint all
                tags, seen = tags | {OVERFLOW_TAG}, b""
            values = frozenset()
        return cls(tags=tags, history=tuple(raw.get("h", ())), values=values, version=version, seen=seen, key=key)

    def fingerprint(self, zone: str, value_digest: str) -> bytes:
        return keyed(self.key, zone, value_digest)

    def trusts(self, value_digest: str) -> bool:
        """Whether the value was seen in trusted context."""
        return _b64(self.fingerprint("t", value_digest)) in self.values


def _b64(raw: bytes) -> str:
    """Base64url without padding: how keys and fingerprints are written (``SessionFacts.values`` holds these)."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: Any) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _bytes(value: str) -> bytes:
    return _unb64(value) or b""


def _unpack(text: Any) -> frozenset[str] | None:
    """The trusted fingerprints of a stored state; None when they are not in this format."""
    raw = _unb64(text) if text != "" else b""
    if raw is None or len(raw) % _FINGERPRINT_BYTES:
        return None
    return frozenset(_b64(raw[i : i + _FINGERPRINT_BYTES]) for i in range(0, len(raw), _FINGERPRINT_BYTES))


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
        trusted: list[str] = []
        others: list[bytes] = []
        for item in sorted(delta.add_values):
            zone, _, value_digest = item.partition(":")
            if zone == "t":
                trusted.append(_b64(facts.fingerprint(zone, value_digest)))
            else:
                others.append(facts.fingerprint(zone, value_digest))
        if others:
            seen = filter_add(seen, others)
        room = MAX_VALUES - len(values)
        new = [v for v in trusted if v not in values][: max(room, 0)]
        if new:
            values = values | frozenset(new)
    if tags == facts.tags and history == facts.history and values == facts.values and seen == facts.seen:
        return facts
    return SessionFacts(tags=tags, history=history, values=values, version=facts.version + 1, seen=seen, key=facts.key)


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
