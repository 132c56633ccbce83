"""The fast canonical encoder (orjson) is byte-identical to RFC 8785 (rfc8785) on
every input it takes, and hands everything else to rfc8785.

A property test over generated JSON values with a fixed seed (reproducible):
keys and strings drawn from ASCII, control characters, non-ASCII, astral-plane
characters (where UTF-16 order differs from code-point order) and lone
surrogates; integers around the 2**53 boundary; floats; deep nesting.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import rfc8785

from sentinel_contract import ContractError, args_sha256, canonical_json
from sentinel_contract._canonical import _fast_ok

_CHARS = (
    [chr(c) for c in range(0x20, 0x7F)] * 4
    + [chr(c) for c in range(0x20)]
    + ["\x7f", "é", "ß", "中", "\u2028", "\u2029", "\ufeff", "\uffff", "\U0001f600", "\U00010000", "/", "\\", '"']
)
_INTS = [0, 1, -1, 7, 255, 2**31, -(2**31), 2**53 - 1, -(2**53 - 1), 2**53, -(2**53), 2**53 + 1, 2**63, 10**30]
_FLOATS = [0.0, -0.0, 1.5, -2.25, 1e21, 1e-7, 0.1, 123456789.125, 5e-324, 1.7976931348623157e308]


def _text(rng: random.Random, surrogates: bool) -> str:
    text = "".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 8)))
    if surrogates and rng.random() < 0.05:
        text += "\ud800"
    return text


def _value(rng: random.Random, depth: int, surrogates: bool) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.45:
        kind = rng.randint(0, 6)
        if kind == 0:
            return _text(rng, surrogates)
        if kind == 1:
            return rng.choice(_INTS)
        if kind == 2:
            return rng.randint(-(10**6), 10**6)
        if kind == 3:
            return rng.choice(_FLOATS) if rng.random() < 0.5 else rng.uniform(-1e6, 1e6)
        if kind == 4:
            return rng.choice([True, False])
        if kind == 5:
            return None
        return _text(rng, surrogates)
    if roll < 0.7:
        return [_value(rng, depth + 1, surrogates) for _ in range(rng.randint(0, 4))]
    ascii_only = rng.random() < 0.7
    obj = {}
    for _ in range(rng.randint(0, 5)):
        key = "".join(rng.choice(_CHARS[:380]) for _ in range(rng.randint(0, 6))) if ascii_only else _text(rng, False)
        obj[key] = _value(rng, depth + 1, surrogates)
    return obj


def _reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except Exception:
        return Exception


def _ours(value: Any) -> bytes | type[Exception]:
    try:
        return canonical_json(value)
    except ContractError:
        return Exception


@pytest.mark.parametrize("seed", range(8))
def test_fast_encoder_matches_rfc8785_on_generated_values(seed: int) -> None:
    rng = random.Random(seed)
    fast = 0
    for _ in range(600):
        value = _value(rng, 0, surrogates=True)
        fast += _fast_ok(value, 0)
        assert _ours(value) == _reference(value), value
    assert fast > 100  # the property covered the fast path, not only the fallback


def test_astral_keys_sort_by_utf16_like_rfc8785() -> None:
    # Code-point order puts U+FF61 before U+1F600; UTF-16 order puts the surrogate pair first.
    value = {"\uff61": 1, "\U0001f600": 2, "a": 3}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert not _fast_ok(value, 0)


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**30, 1.5, {"k": [0.1]}, {"é": 1}, (1, 2), {1: "a"}])
def test_values_outside_the_fast_subset_go_to_the_reference(value: Any) -> None:
    assert not _fast_ok(value, 0)
    assert _ours(value) == _reference(value)


def test_deep_nesting_is_refused_or_encoded_exactly_like_the_reference() -> None:
    value: Any = "x"
    for _ in range(300):
        value = {"k": [value]}
    assert _ours(value) == _reference(value)


def test_typical_tool_arguments_take_the_fast_path_and_hash_the_same() -> None:
    arguments = {"to": "bob@example.com", "subject": "numbers", "body": "x" * 900, "cc": [], "n": 3, "urgent": False}
    assert _fast_ok(arguments, 0)
    import base64
    import hashlib

    expected = base64.urlsafe_b64encode(hashlib.sha256(rfc8785.dumps(arguments)).digest()).rstrip(b"=").decode()
    assert args_sha256(arguments) == expected
