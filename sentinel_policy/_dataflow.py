"""Data-flow taint: the values a tool output carries, as keyed fingerprints in a fixed-size filter.

An injected instruction usually names the attacker's destination (an e-mail
address, a link, an account number) in text the agent read. ``_values`` reads
such values out of tool outputs and call arguments; this module hashes them
with the session's secret key and keeps the hashes in a Bloom filter of fixed
size, so per-session state stays small however much the agent reads, and
nothing is ever evicted (eviction would let an attacker flush its own address
out by padding a page). A false positive makes a value look untrusted: it can
cost utility, never security. It also walks argument values (``strings``).

It must never keep raw values (state and audit hold keyed hashes only) and
never read the clock or do I/O.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# How deep ``strings`` looks into an argument value: as deep as the fast path of the
# call tokens' canonical JSON goes (``sentinel_contract``). Deeper is an error, never
# a silent skip: a value a rule cannot see must not pass it (fail closed).
MAX_DEPTH = 64


class RuleEvalError(Exception):
    """A condition could not be evaluated for this call (wrong argument type, nested too deep, ...).

    Its message names the argument and the JSON type at most, never an argument value:
    it reaches the decision's reason (the audit record, the HTTP answer, the logs).
    """

# Fixed size, so the session state stays bounded; how it was sized, and its false-positive
# rate: docs/performance.md, "The policy engine".
FILTER_BITS = 2048
_PROBES = 3
# Output beyond this many characters is not scanned for values; why: bounded CPU
# per call. The reserved tag OVERFLOW_TAG marks that it happened, and data-flow
# conditions then treat every value as untrusted (fail closed).
MAX_SCAN_CHARS = 1_000_000
OVERFLOW_TAG = "sentinel:unscanned-output"
UNTRUSTED_TAG = "sentinel:untrusted-data"


def json_type(value: Any) -> str:
    """The JSON type of ``value`` ("a string", "an array", ...): what an error may say about an argument."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return "null" if value is None else f"a {type(value).__name__}"


def number_text(value: float) -> str:
    """A JSON number as text: an integral float as the integer it equals, so 98765432.0 and 9.8765432e7
    read as the account number 98765432 (a tool that takes an integer accepts them as that)."""
    if value.is_integer() and abs(value) < 2**63:  # False for nan and inf
        return str(int(value))
    return str(value)


def strings(value: Any, depth: int = 0, *, keys: bool = False) -> Iterator[str]:
    """Every string inside an argument value (lists and objects included; numbers as text;
    object keys too with ``keys``). Raises RuleEvalError for a value nested deeper than MAX_DEPTH."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (Mapping, list, tuple)):
        if depth >= MAX_DEPTH:
            raise RuleEvalError(f"a value is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, Mapping):
            for key, item in value.items():
                if keys and isinstance(key, str):
                    yield key
                yield from strings(item, depth + 1, keys=keys)
        else:
            for item in value:
                yield from strings(item, depth + 1, keys=keys)
    elif isinstance(value, float):
        yield number_text(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield str(value)


def digest(kind: str, value: str) -> str:
    """The unkeyed hash of one value: what a state change carries until ``apply_delta`` keys it with the
    session's secret. 256 bits; it never reaches the state or the audit."""
    return hashlib.blake2b(f"{kind}\x00{value}".encode("utf-8", "surrogatepass"), digest_size=32).hexdigest()


def keyed(key: bytes, zone: str, value_digest: str) -> bytes:
    """The fingerprint of a value (given by its ``digest``) seen in one zone: "u" untrusted output, "p" running
    text of untrusted output, "t" trusted context. 128 bits keyed with the session's secret: nobody can search
    offline for a value whose fingerprint equals a known contact's (32 bits let anyone do that), and the state
    says nothing about values to whoever reads it without the key."""
    return hashlib.blake2b(f"{zone}\x00{value_digest}".encode(), key=key, digest_size=16).digest()


def _positions(fp: bytes) -> tuple[int, int, int]:
    """The filter's bits for one fingerprint: its first three 16-bit words, modulo the filter's size."""
    n = int.from_bytes(fp[: 2 * _PROBES], "big")
    return (n >> 32) % FILTER_BITS, ((n >> 16) & 0xFFFF) % FILTER_BITS, (n & 0xFFFF) % FILTER_BITS


def filter_add(bits: bytes, fps: Iterable[bytes]) -> bytes:
    array = bytearray(bits) if len(bits) == FILTER_BITS // 8 else bytearray(FILTER_BITS // 8)
    for fp in fps:
        for pos in _positions(fp):
            array[pos >> 3] |= 1 << (pos & 7)
    return bytes(array)


def filter_has(bits: bytes, fp: bytes) -> bool:
    if len(bits) != FILTER_BITS // 8:
        return False
    a, b, c = _positions(fp)
    return bool(bits[a >> 3] & (1 << (a & 7)) and bits[b >> 3] & (1 << (b & 7)) and bits[c >> 3] & (1 << (c & 7)))


def encode_filter(bits: bytes) -> str:
    return base64.b64encode(bits).decode("ascii") if bits else ""


def decode_filter(text: str | None) -> bytes:
    if not text:
        return b""
    bits = base64.b64decode(text)
    return bits if len(bits) == FILTER_BITS // 8 else b""
