"""sentinel_http.repeated_key answers what a full standard-library parse with a pair hook answers.

The reference is the check it replaces: ``json.loads(raw, object_pairs_hook=...)``
raising at the first key given twice. The fast answer (no second parse) is taken
only when the colons of the body prove no object lost an entry; these tests hold it
to the reference on generated bodies, with repeats at every depth and spelt every
way JSON allows, and on the cases a colon count could get wrong.
"""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest

from sentinel_http import repeated_key


class _Repeat(Exception):
    pass


def _reference(raw: bytes) -> str | None:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeat(key)
            seen.add(key)
        return dict(pairs)

    try:
        json.loads(raw, object_pairs_hook=hook)
    except _Repeat as exc:
        return str(exc.args[0])
    return None


def _answer(raw: bytes) -> str | None:
    return repeated_key(raw, orjson.loads(raw))


_KEYS = ["a", "b", "to", "url", "x:y", "", "é", "\u2028", 'q"', "back\\slash"]
_STRINGS = ["", "UTC", "https://example.com/a?b=c", "10:30", '"a":1', "\\", "{", "}", ":", "é:é"]


def _spelt(text: str, rng: random.Random) -> str:
    """``text`` as a JSON string, each character written plainly or as a \\u escape."""
    out = []
    for char in text:
        if char in '"\\' or rng.random() < 0.3:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else json.dumps(char)[1:-1])
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _body(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if depth <= 0 or roll < 0.35:
        choice = rng.random()
        if choice < 0.5:
            return _spelt(rng.choice(_STRINGS), rng)
        return rng.choice(["1", "-2.5", "true", "false", "null", "1e3"])
    if roll < 0.55:
        return "[" + ", ".join(_body(rng, depth - 1) for _ in range(rng.randint(0, 3))) + "]"
    keys = [rng.choice(_KEYS) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.7:
        keys = list(dict.fromkeys(keys))  # mostly distinct, so the fast answer is taken often
    members = [f"{_spelt(key, rng)}{rng.choice(['', ' '])}:{_body(rng, depth - 1)}" for key in keys]
    return "{" + ",".join(members) + "}"


@pytest.mark.parametrize("seed", range(40))
def test_generated_bodies_answer_as_the_standard_parser_does(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(250):
        raw = ("{" + f'"tool": "t", "arguments": {_body(rng, 4)}' + "}").encode()
        assert _answer(raw) == _reference(raw), raw


@pytest.mark.parametrize("raw", [
    b'{"a": 1, "a": 2}',
    b'{"a": 1, "\\u0061": 2}',
    b'{"x": {"y": [{"id": 1, "id": 2}]}}',
    b'{"a": {"b": 1}, "c": [1, {"d": 2, "\\u0064": 3}]}',
    b'{"a": 1, "a": "\\u003a"}',  # an escaped colon cannot stand in for the one a repeat removed
    b'{"k": [' + b"[" * 80 + b'{"z": 1, "z": 2}' + b"]" * 80 + b"]}",  # past the counted depth
])
def test_a_key_given_twice_is_named(raw: bytes) -> None:
    assert _answer(raw) is not None
    assert _answer(raw) == _reference(raw)


@pytest.mark.parametrize("raw", [
    b'{"tool": "get_current_time", "arguments": {"timezone": "UTC"}}',
    b'{"a": "x:y", "b": {"c": "http://h:1"}}',
    b'{"a": [], "b": {}, "c": [[], {}]}',
    b'{"a\\u0062": 1, "ab ": 2}',
    b"{}",
])
def test_distinct_keys_pass(raw: bytes) -> None:
    assert _answer(raw) is None


def test_a_body_past_what_the_standard_parser_reads_raises_recursion_error() -> None:
    raw = b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    value = orjson.loads(raw)
    with pytest.raises(RecursionError):
        repeated_key(raw, value)
