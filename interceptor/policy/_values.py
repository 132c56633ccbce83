"""Data-flow taint: the values a tool output carries, as fingerprints in a fixed-size filter.

An injected instruction usually names the attacker's destination (an e-mail
address, a link, an account number) in text the agent read. This module pulls
such destination-like values out of tool outputs and call arguments, hashes
them, and keeps the hashes in a Bloom filter of fixed size, so per-session
state stays small however much the agent reads, and nothing is ever evicted
(eviction would let an attacker flush its own address out by padding a page).
A false positive makes a value look untrusted: it can cost utility, never
security.

It must never keep raw values (state and audit hold hashes only) and never
read the clock or do I/O.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

# Kinds of values followed through the session.
KINDS = ("email", "url", "host", "number")

# 2,048 bits (344 characters of base64) with 3 probes: about 2% false positives
# at 200 distinct values, the most the AgentDojo workspace traces carry.
FILTER_BITS = 2048
_PROBES = 3
# Output beyond this many characters is not scanned for values; why: bounded CPU
# per call. The reserved tag OVERFLOW_TAG marks that it happened, and data-flow
# conditions then treat every value as untrusted (fail closed).
MAX_SCAN_CHARS = 1_000_000
OVERFLOW_TAG = "sentinel:unscanned-output"
UNTRUSTED_TAG = "sentinel:untrusted-data"

# Every pattern can only start at a boundary (lookbehind), so a long run of letters
# costs one attempt, not one per position: scanning stays linear in the output size.
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z])")
# A URL with a scheme, or a bare host name with a dot and a letters-only TLD
# (www.example.com/path), possibly followed by a path.
_URL = re.compile(
    r"(?:(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s<>\"'`)\]]+)"
    r"|(?<![@\w.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w@-])(?::\d+)?(?:/[^\s<>\"'`)\]]*)?"
)
# Account-like numbers: IBANs, international phone numbers and runs of 6+ digits
# (accounts, cards, codes). Dates and times (2024-05-20, 10:00) are not numbers here.
_NUMBER = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{8,30}\b|\+\d[\d -]{6,}\d|(?<![\d.:/-])\d{6,}(?![\d.:/-])")
_TRAILING = ".,;:!?'\""
# File names look like hosts (report.docx); these endings are not host names.
_NOT_TLDS = frozenset(
    "docx doc xlsx xls pptx ppt pdf txt csv json yaml yml md png jpg jpeg gif html htm py js ts zip tar gz eml log xml".split()
)


def _url_parts(raw: str) -> tuple[str, str] | None:
    text = raw.rstrip(_TRAILING).lower()
    rest = text.split("://", 1)[1] if "://" in text else text
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0]
    if "." not in host or host.rsplit(".", 1)[-1] in _NOT_TLDS:
        return None
    url = rest.rstrip("/")
    return url, host


def extract(text: str, kinds: Iterable[str] = KINDS) -> Iterator[tuple[str, str]]:
    """(kind, normalised value) pairs found in ``text``."""
    wanted = set(kinds)
    if "email" in wanted or "url" in wanted or "host" in wanted:
        emails = _EMAIL.findall(text)
        if "email" in wanted:
            for email in emails:
                yield "email", email.lower()
        if "url" in wanted or "host" in wanted:
            for match in _URL.findall(text):
                parts = _url_parts(match)
                if parts is None:
                    continue
                if "url" in wanted:
                    yield "url", parts[0]
                if "host" in wanted:
                    yield "host", parts[1]
    if "number" in wanted:
        for number in _NUMBER.findall(text):
            yield "number", re.sub(r"[ -]", "", number)


def strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string inside an argument value (lists and objects included), bounded in depth."""
    if isinstance(value, str):
        yield value
    elif depth < 8 and isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item, depth + 1)
    elif depth < 8 and isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item, depth + 1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)


# A line that holds nothing but a value ("- a@b.c", "sender: a@b.c") is a data field;
# anything else around the value makes it running text.
_FIELD_PREFIX = re.compile(r"^\s*(?:-\s+)?(?:[A-Za-z_][\w-]*:\s*)?(?:-\s+)?")
_QUOTES = "'\",;"


def extract_zoned(text: str) -> Iterator[tuple[str, str, bool]]:
    """(kind, value, in_text) for every value in ``text``; ``in_text`` when it sits in running text, not alone in a field."""
    for line in text.splitlines():
        if not line.strip():
            continue
        core = _FIELD_PREFIX.sub("", line).strip().strip(_QUOTES).lower()
        for kind, value in extract(line):
            yield kind, value, core != value and core.rstrip("/") != value


def fingerprint(zone: str, kind: str, value: str) -> str:
    """A short hash naming one value seen in one zone: "u" untrusted output, "p" running text of untrusted
    output, "t" trusted context. 32 bits: collisions within one session are negligible and cost utility only."""
    digest = hashlib.blake2b(f"{kind}\x00{value}".encode(), digest_size=4).hexdigest()
    return f"{zone}:{digest}"


def _positions(fp: str) -> tuple[int, ...]:
    digest = hashlib.blake2b(fp.encode(), digest_size=8).digest()
    return tuple(int.from_bytes(digest[2 * i : 2 * i + 2], "big") % FILTER_BITS for i in range(_PROBES))


def filter_add(bits: bytes, fps: Iterable[str]) -> bytes:
    array = bytearray(bits) if len(bits) == FILTER_BITS // 8 else bytearray(FILTER_BITS // 8)
    for fp in fps:
        for pos in _positions(fp):
            array[pos >> 3] |= 1 << (pos & 7)
    return bytes(array)


def filter_has(bits: bytes, fp: str) -> bool:
    if len(bits) != FILTER_BITS // 8:
        return False
    return all(bits[pos >> 3] & (1 << (pos & 7)) for pos in _positions(fp))


def encode_filter(bits: bytes) -> str:
    return base64.b64encode(bits).decode("ascii") if bits else ""


def decode_filter(text: str | None) -> bytes:
    if not text:
        return b""
    bits = base64.b64decode(text)
    return bits if len(bits) == FILTER_BITS // 8 else b""
