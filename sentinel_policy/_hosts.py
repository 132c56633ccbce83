"""Host names as the programs that receive them read them: one canonical spelling, or none.

A destination is judged by the host a mail server, an HTTP client or a browser
would reach, not by the characters that spell it. ``canonical`` turns a name
(already read by ``_values``: NFKC, lower case, invisible characters handled)
into the one spelling every such receiver agrees on: ASCII labels as they are,
internationalised labels as IDNA 2008 A-labels after UTS #46 mapping (the
``idna`` package), IPv4 addresses in dotted decimal. It answers None when
receivers could disagree or the name cannot be reached as written: an IPv4
address in any other spelling (``0x7f.1``, ``0177.0.0.1``, ``127.1``: WHATWG
and ``inet_aton`` read them as 127.0.0.1, other parsers as something else), a
single label (``localhost``), an empty label, a label IDNA refuses, or a
deviation character (``ß``, ``ς``, joiners) that older and newer UTS #46
processing map to different hosts. Callers treat None as outside every list.

Pure: no I/O, no clock; ``idna`` is pure Python and only its public API is used. Its results are
memoised (names only), and one text may send at most ``IDNA_BUDGET`` new names through it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna

# File names look like host names (report.docx). These endings are not top-level domains, so a bare
# name that ends in one is a file, not a host. Endings that ARE top-level domains (.zip, .mov, .md, .py,
# .sh, .rs, ...) are not listed: report.zip may be a host.
NOT_TLDS = frozenset(
    "docx doc xlsx xls pptx ppt pdf txt csv json yaml yml png jpg jpeg gif html htm js ts tar gz eml log xml".split()
)
# UTS #46 deviation characters: transitional processing (older browsers and mail clients) maps them away,
# nontransitional keeps them, so the same spelling reaches two different hosts.
_DEVIATIONS = frozenset("\u00df\u03c2\u200c\u200d")
_ASCII_LABEL = re.compile(r"[a-z0-9_-]+")
_PLAIN_NAME = re.compile(r"(?:[a-z0-9_-]+\.)+[a-z_-][a-z0-9_-]*")  # ASCII labels, the last one not a number
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_DECIMAL = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_NUMERIC_PART = re.compile(r"0x[0-9a-f]*|[0-9]+")
# IDNA in pure Python costs tens of microseconds a name: a text may hold this many names that need it (a
# cache miss each) before the rest count as unreadable and the text as not read in full (fail closed).
IDNA_BUDGET = 2000
_CACHE_SIZE = 8192
_cache: dict[str, str | None] = {}  # shared by threads: single lookups and stores only
_UNKNOWN = object()


@dataclass(slots=True)
class Budget:
    """How many more names one text may send through IDNA; ``exhausted`` once one was refused."""

    left: int = IDNA_BUDGET
    exhausted: bool = False


def canonical(name: str, budget: Budget | None = None) -> str | None:
    """The host ``name`` reaches, in canonical spelling, or None when it cannot be read for certain (see the module).
    With a ``budget``, a name that needs IDNA past it is None and the budget says so."""
    if len(name) > 253 * 4:  # longer than any name can be, even before IDNA encoding
        return None
    if _PLAIN_NAME.fullmatch(name) and "xn--" not in name:
        return name  # the common case: nothing to map, nothing to check
    labels = name.split(".")
    if len(labels) < 2 or "" in labels:
        return None
    if _NUMERIC_PART.fullmatch(labels[-1]):  # WHATWG: a host whose last label is a number is an IPv4 address
        return name if _DOTTED_DECIMAL.fullmatch(name) else None
    known = _cache.get(name, _UNKNOWN)  # one lookup: another thread may clear the cache in between
    if known is not _UNKNOWN:
        return known if isinstance(known, str) else None
    if budget is not None:
        if budget.left <= 0:
            budget.exhausted = True
            return None
        budget.left -= 1
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    host = _idna(labels)
    _cache[name] = host
    return host


def _idna(labels: list[str]) -> str | None:
    out: list[str] = []
    for label in labels:
        if label.isascii():
            if not _ASCII_LABEL.fullmatch(label):
                return None
            if label.startswith("xn--"):
                try:
                    idna.decode(label)
                except (idna.IDNAError, UnicodeError):
                    return None
            out.append(label)
            continue
        if not _DEVIATIONS.isdisjoint(label):
            return None
        try:
            out.append(idna.encode(label, uts46=True).decode("ascii"))
        except (idna.IDNAError, UnicodeError):
            return None
    return ".".join(out)


def is_ipv6_literal(text: str) -> bool:
    """Whether ``text`` (without its brackets) is an IPv6 address, with or without a zone."""
    address = text.split("%", 1)[0]
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def tld(host: str) -> str:
    return host.rsplit(".", 1)[-1]
