"""RFC 8785 (JCS) canonical JSON and the ``args_sha256`` claim computed over it.

Two encoders, one output. The reference is the ``rfc8785`` package. orjson with
sorted keys produces the very same bytes for a subset of values, several times
faster (docs/performance.md, item 6), so it is used for exactly that subset and
for nothing else:

- objects whose keys are all ASCII (for ASCII, UTF-16 and code-point order agree);
- integers in the IEEE-754 safe range (|n| < 2**53; JCS writes numbers as doubles);
- strings (orjson and JCS escape the same characters the same way), booleans, null;
- lists, nesting at most ``_MAX_FAST_DEPTH`` deep.

Anything else (floats, non-ASCII keys, big integers, other types, lone
surrogates) goes to ``rfc8785``. tests/unit/test_canonical_json.py checks the two
agree on generated values. This module must never produce bytes that differ
from RFC 8785 for an input that rfc8785 accepts.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import rfc8785

from sentinel_contract._errors import ContractError
from sentinel_contract._keys import b64url_encode

_SAFE_INT = 2**53
_MAX_FAST_DEPTH = 64


def _fast_ok(value: Any, depth: int) -> bool:
    """True when orjson's sorted-key output of ``value`` is its RFC 8785 form."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INT < value < _SAFE_INT)
    if depth >= _MAX_FAST_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or not _fast_ok(item, depth + 1):
                return False
        return True
    if kind is list:
        return all(_fast_ok(item, depth + 1) for item in value)
    return False


def _reference(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
        raise ContractError("bad_arguments", "arguments cannot be canonicalised as JSON") from exc


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical form of ``value``; key order and whitespace do not matter."""
    if _fast_ok(value, 0):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # e.g. a lone surrogate: let the reference decide
            pass
    return _reference(value)


def args_sha256(arguments: Any) -> str:
    """base64url (unpadded) SHA-256 of the canonical form of ``arguments``."""
    return b64url_encode(hashlib.sha256(canonical_json(arguments)).digest())
