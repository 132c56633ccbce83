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
# How deep ``strings`` looks into an argument value: as deep as the interceptor's
# canonical JSON fast path goes. Deeper is an error, never a silent skip: a value
# a rule cannot see must not pass it (fail closed).
MAX_DEPTH = 64


class RuleEvalError(Exception):
    """A condition could not be evaluated for this call (wrong argument type, nested too deep, ...).

    Its message names the argument and the JSON type at most, never an argument value:
    it reaches the decision's reason (the audit record, the HTTP answer, the logs).
    """

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
# (accounts, cards, codes). Dates and times (2024-05-20, 10:00), decimals and dotted addresses
# are not numbers here; a run that ends a sentence ("to account 98765432.") is.
# Text is lower-cased before matching (see ``normalise``), so IBANs match in any case;
# an IBAN is also recognised in its printed form, 4-character groups separated by single
# spaces ("DE89 3704 0044 0532 0130 00"), because that is how banks print it and tools
# accept it (they strip the spaces and upper-case it).
_NUMBER = re.compile(
    r"(?<![a-z0-9])(?P<iban>[a-z]{2}\d{2}(?:[a-z0-9]{8,30}|(?: [a-z0-9]{4}){2,7}(?: [a-z0-9]{1,3})?))(?![a-z0-9])"
    r"|\+\d[\d -]{6,}\d|(?<![\d.:/-])\d{6,}(?![\d]|[.:/-]\d)"
)
_SHORTEST_IBAN = 15  # Norway
# Full stops that IDNA (UTS #46) maps to "." in a domain name: ideographic, fullwidth, halfwidth.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_TRAILING = ".,;:!?'\""
# File names look like hosts (report.docx); these endings are not host names.
_NOT_TLDS = frozenset(
    "docx doc xlsx xls pptx ppt pdf txt csv json yaml yml md png jpg jpeg gif html htm py js ts zip tar gz eml log xml".split()
)


def normalise(text: str) -> str:
    """``text`` as values are compared: IDNA full stops as ".", lower case. Every extraction goes through it,
    on outputs and on arguments alike, so a value re-encoded this way still has the same fingerprint."""
    return text.translate(_DOTS).lower()


# Where the authority of a URL ends: browsers treat "\\" like "/" (http://evil.io\\@corp.com goes to evil.io).
_AUTHORITY_END = re.compile(r"[/\\?#]")


def _url_parts(raw: str) -> tuple[str, str] | None:
    text = raw.rstrip(_TRAILING)
    rest = text.split("://", 1)[1] if "://" in text else text
    host = _AUTHORITY_END.split(rest, 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    if "." not in host or host.rsplit(".", 1)[-1] in _NOT_TLDS:
        return None
    url = rest.rstrip("/")
    return url, host


def url_host(url: str) -> str:
    """The host of a link as ``extract`` returns it ("" when it has none)."""
    parts = _url_parts(url)
    return parts[1] if parts else ""


def _ibans(compact: str, printed: str) -> Iterator[str]:
    """The account numbers an IBAN-like match may stand for. A printed IBAN (groups of 4) may have swallowed
    the next short word of the text ("... 0130 00 to"), so every group boundary from the shortest IBAN on is a
    candidate; the true number is one of them on both sides (output and argument), whatever follows it."""
    if " " not in printed:
        yield compact.upper()
        return
    groups = printed.split(" ")
    for end in range(3, len(groups) + 1):
        candidate = "".join(groups[:end])
        if len(candidate) >= _SHORTEST_IBAN:
            yield candidate.upper()


def extract(text: str, kinds: Iterable[str] = KINDS) -> Iterator[tuple[str, str]]:
    """(kind, normalised value) pairs found in ``text``."""
    for kind, value, _ in _extract(normalise(text), set(kinds)):
        yield kind, value


def _extract(text: str, wanted: set[str]) -> Iterator[tuple[str, str, str]]:
    """(kind, value, the text it was read from) in normalised ``text``."""
    if "email" in wanted or "url" in wanted or "host" in wanted:
        emails = _EMAIL.findall(text)
        if "email" in wanted:
            for email in emails:
                yield "email", email, email
        if "url" in wanted or "host" in wanted:
            for match in _URL.findall(text):
                parts = _url_parts(match)
                if parts is None:
                    continue
                if "url" in wanted:
                    yield "url", parts[0], match
                if "host" in wanted:
                    yield "host", parts[1], match
    if "number" in wanted:
        for match in _NUMBER.finditer(text):
            number = re.sub(r"[ -]", "", match[0])
            if match["iban"]:
                for candidate in _ibans(number, match["iban"]):
                    yield "number", candidate, match[0]
            else:
                yield "number", number, match[0]


def addresses(text: str, kind: str) -> tuple[list[str], bool]:
    """The e-mail domains (``kind`` "email") or link hosts ("host") in ``text``, and whether some part of it
    looks like such an address but could not be read (``attacker@[203.0.113.7]``, ``http://localhost/``,
    a lone word such as ``attacker``): a consumer may still accept it, so callers must fail closed."""
    text = normalise(text)
    found: list[str] = []
    if kind == "email":
        marks = text.count("@")
        for match in _EMAIL.finditer(text):
            after = text[match.end() : match.end() + 1]
            if not (after.isalnum() or after in ("_", "-")):  # the domain goes on: a@corp.com_evil.io is not at corp.com
                found.append(match[0].rsplit("@", 1)[1])
    else:
        marks = text.count("://")
        for match in _URL.findall(text):
            parts = _url_parts(match)
            if parts is not None:
                found.append(parts[1])
                marks -= "://" in match  # one "://" accounted for; more in the same link stay unread
    word = text.strip()
    unread = (marks > len(found) if kind == "email" else marks > 0) or (not found and bool(word) and not any(c.isspace() for c in word))
    return found, unread


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


# A line that holds nothing but a value ("- a@b.c", "sender: a@b.c") is a data field;
# anything else around the value makes it running text.
_FIELD_PREFIX = re.compile(r"^\s*(?:-\s+)?(?:[A-Za-z_][\w-]*:\s*)?(?:-\s+)?")
_QUOTES = "'\",;"


def extract_zoned(text: str) -> Iterator[tuple[str, str, bool]]:
    """(kind, value, in_text) for every value in ``text``; ``in_text`` when it sits in running text, not alone in a field."""
    for line in normalise(text).splitlines():
        if not line.strip():
            continue
        core = _FIELD_PREFIX.sub("", line).strip().strip(_QUOTES)
        for kind, value, raw in _extract(line, set(KINDS)):
            if kind == "number":  # compared as printed: "iban: DE89 3704 ..." is a field
                yield kind, value, core != raw
            else:
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
