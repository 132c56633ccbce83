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

Pure: no I/O, no clock; ``idna`` is pure Python and only its public API is used.
"""

from __future__ import annotations

import functools
import ipaddress
import re

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
_NUMERIC_PART = re.compile(r"0x[0-9a-f]*|[0-9]+")


def canonical(name: str) -> str | None:
    """The host ``name`` reaches, in canonical spelling, or None when it cannot be read for certain (see the module)."""
    if len(name) > 253 * 4:  # longer than any name can be, even before IDNA encoding
        return None
    return _canonical(name)


@functools.lru_cache(maxsize=4096)
def _canonical(name: str) -> str | None:
    labels = name.split(".")
    if len(labels) < 2 or "" in labels:
        return None
    if _NUMERIC_PART.fullmatch(labels[-1]):  # WHATWG: a host whose last label is a number is an IPv4 address
        return name if _dotted_decimal(labels) else None
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


def _dotted_decimal(labels: list[str]) -> bool:
    return len(labels) == 4 and all(p.isdigit() and p.isascii() and str(int(p)) == p and int(p) <= 255 for p in labels)


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
