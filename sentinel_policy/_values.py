"""Values in text, read as the agent reads the text and as the receiver of each value reads the value.

Rules follow destinations (e-mail addresses, links, host names, account-like
numbers) from what an agent read into what it sends. Both ends must be read the
same way, and the way that counts: the agent reads a tool result as text, not
as the escapes of its serialisation, and a mail server or browser reaches the
host IDNA maps a name to, not the one its characters seem to spell. So a text
is read in up to three readings (as written; with JSON, YAML, Python, Markdown
backslash escapes and HTML character references decoded; decoded twice, for
JSON inside JSON), each one normalised (NFKC, lower case, every Unicode space a
separator, IDNA full stops as ".", invisible characters deleted as UTS #46
deletes them), and values are taken from all of them. A destination that
cannot be read for certain (an IPv6 literal, a non-canonical IPv4 address, a
name IDNA refuses or that an invisible character splits) is still returned,
as an *unreadable* value (``UNREADABLE`` + its text), never dropped: callers
fail closed on it.

Every pattern starts only at a boundary (lookbehind) and runs of characters
are matched possessively, so scanning stays linear in the size of the text.
It must never do I/O or read the clock.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sentinel_policy._dataflow import digest
from sentinel_policy._hosts import NOT_TLDS, canonical, is_ipv6_literal, tld

KINDS = ("email", "url", "host", "number")
DESTINATIONS = frozenset({"email", "url", "host"})
UNREADABLE = "?"  # first character of a value that looks like a destination but cannot be read
# Text is read in at most this many decoded readings beyond the text as written (JSON inside JSON).
_DECODE_ROUNDS = 2
# NFKC can lengthen a text (one character may become 18); a reading longer than this is cut, and the
# cut is reported (``TextValues.complete``) so callers fail closed.
MAX_READING_CHARS = 2_000_000

# Default-ignorable code points: UTS #46 deletes them from a domain name (soft hyphen, zero-width
# characters, word joiner, BOM, variation selectors, Hangul fillers, tags) or refuses them (bidi controls).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# After NFKC only these spaces remain besides " " and "\n"; they separate values like a space or a line break.
_SPACE = re.compile("[\t\x1f\u1680]")
_BREAK = re.compile("\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_ODD_ASCII = re.compile("[\t\x0b-\r\x1c-\x1f]")
_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")

# Backslash escapes of JSON, YAML, Python and Markdown (a backslash before ASCII punctuation), and the YAML
# and Python line continuation (a backslash at the end of a line joins the next one, minus its indentation).
_ESCAPE = re.compile(
    r"\\(?:u(d[89abAB][0-9a-fA-F]{2})\\u(d[c-fC-F][0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})"
    r"|x([0-9a-fA-F]{2})|N\{([A-Za-z0-9 -]{1,88})\}|\r?\n[ \t]*|([nrtbfv0aeNLP_]|[!-/:-@\[-`{-~ ]))"
)
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "a": "\a", "e": "\x1b",
           "N": "\x85", "L": "\u2028", "P": "\u2029", "_": "\xa0"}

# A character that can be part of a host name once read: not a space, not ASCII punctuation other than
# "-", "." and "_". Non-ASCII punctuation stays in (IDNA refuses it, so a name holding it is unreadable).
_H = r"[^\s\x00-\x2c\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"
_H_NO_DOT = r"[^\s\x00-\x2c\x2e\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"
_LOCAL = r"[a-z0-9._%+-]"
_PATH = r"(?:[/\\?#][^\s<>\"'`)\]]*)?"
_EMAIL = re.compile(rf"(?<!{_LOCAL})({_LOCAL}++)@(\[[^\]\s]{{0,80}}\]|{_H}++)")
_LINK = re.compile(rf"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{{0,31}}://([^\s/\\?#<>\"'`()]*+)({_PATH})")
_BARE = re.compile(rf"(?<!@)(?<!{_H})({_H_NO_DOT}*+\.{_H}*+)(?!@)(?::([0-9]{{1,5}}))?({_PATH})")
# Hosts without a scheme that no name pattern sees: IPv4 addresses in any spelling (dotted, hexadecimal,
# octal parts) with an optional port, bracketed IPv6 literals, a single label with a port and a path
# (intranet:8080/admin), and localhost.
_ODD_HOST = re.compile(
    r"(?<![\w.:])(?P<ipv4>(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){1,3})(?P<port>:[0-9]{1,5})?(?!\w|\.\w)"
    r"|\[(?P<ipv6>[0-9a-f:.]{2,45}(?:%[^\]\s]{1,32})?)\]"
    r"|(?<![\w.@/:-])[a-z][a-z0-9-]{0,62}:[0-9]{1,5}(?=[/?#])"
    r"|(?<![\w.-])localhost(?![\w-])"
)
# Account-like numbers: IBANs (in one piece or printed in groups of 4, the groups separated by a space or a
# line break), international phone numbers and runs of 6+ digits. Not dates, times, decimals or dotted
# addresses; a run that ends a sentence ("to account 98765432.") is a number.
_NUMBER = re.compile(
    r"(?<![a-z0-9])(?P<iban>[a-z]{2}[0-9]{2}(?:[a-z0-9]{8,30}|(?:(?: |\n {0,16})[a-z0-9]{4}){2,7}(?:(?: |\n {0,16})[a-z0-9]{1,3})?))(?![a-z0-9])"
    r"|\+\d[\d -]{6,}\d|(?<![\d.:/-])\d{6,}(?![\d]|[.:/-]\d)"
)
_SEPARATORS = re.compile(r"[ \n-]")
_SHORTEST_IBAN = 15  # Norway
_TRAILING = ".,;:!?'\""

# A line that holds nothing but a value ("- a@b.c", "sender: a@b.c") is a data field;
# anything else around the value makes it running text.
_FIELD_PREFIX = re.compile(r"^\s*(?:-\s+)?(?:[A-Za-z_][\w-]*:\s*)?(?:-\s+)?")
_QUOTES = "'\",;"


def _unescape(match: re.Match[str]) -> str:
    hi, lo, u4, u8, x2, name, simple = match.groups()
    if hi is not None:
        return chr(0x10000 + ((int(hi, 16) - 0xD800) << 10) + (int(lo, 16) - 0xDC00))
    code = u4 or u8 or x2
    if code is not None:
        number = int(code, 16)
        return chr(number) if number <= 0x10FFFF else match[0]
    if name is not None:
        try:
            return unicodedata.lookup(name)
        except KeyError:
            return match[0]
    if simple is None:  # a line continuation
        return ""
    return _SIMPLE.get(simple, simple)


def decode(text: str) -> str:
    """``text`` with its backslash escapes and HTML character references decoded once (unchanged if it has none)."""
    if "\\" in text:
        text = _ESCAPE.sub(_unescape, text)
    if "&" in text:
        text = html.unescape(text)
    return text


def normalise(text: str, invisible: str = "") -> str:
    """``text`` as values are read from it: NFKC (full-width letters, digits and full stops become ASCII), lower
    case, every Unicode space a separator, IDNA full stops as ".", and the characters UTS #46 deletes from a
    domain replaced by ``invisible`` (deleted by default)."""
    if text.isascii():
        if _ODD_ASCII.search(text):
            text = _SPACE.sub(" ", _BREAK.sub("\n", text))
        return text.lower()
    text = unicodedata.normalize("NFKC", text).replace("\u3002", ".")
    text = _INVISIBLE.sub(invisible, text)
    text = _SPACE.sub(" ", _BREAK.sub("\n", text))
    return text.lower()


def _ascii_digits(text: str) -> str:
    return text if text.isascii() else _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m[0])), text)


def _trim(name: str) -> str:
    """A host name without the sentence punctuation around it (a full stop, a closing quote, an emoji)."""
    end = len(name)
    while end and (name[end - 1] in _TRAILING or (not name[end - 1].isascii() and unicodedata.category(name[end - 1])[0] in "PSZC")):
        end -= 1
    return name[:end]


def _trim_start(name: str) -> str:
    start = 0
    while start < len(name) and not name[start].isascii() and unicodedata.category(name[start])[0] in "PSZC":
        start += 1
    return name[start:]


@dataclass(slots=True)
class _Reading:
    """What one normalised reading holds."""

    found: list[tuple[str, str, int, int]]  # (kind, value, start, end) in the reading
    domains: list[str]  # the domains of readable e-mail addresses
    hosts: list[str]  # the hosts of readable links and host names
    domains_unread: bool
    hosts_unread: bool


def _scan(s: str) -> _Reading:
    found: list[tuple[str, str, int, int]] = []
    domains: list[str] = []
    hosts: list[str] = []
    covered: list[tuple[int, int]] = []  # links and addresses: the other patterns skip what lies inside them
    emails_unread = hosts_unread = False
    links = 0
    for m in _LINK.finditer(s):
        links += 1
        covered.append((m.start(), m.end()))
        host, port = _authority(m[1])
        if host is None:
            hosts_unread = True
            found += _link(UNREADABLE + m[1], "", m.start(), m.end())
        else:
            hosts.append(host)
            found += _link(host, port + m[2].rstrip(_TRAILING).rstrip("/"), m.start(), m.end())
    emails = 0
    for m in _EMAIL.finditer(s):
        emails += 1
        local, raw_domain = m[1], m[2]
        domain = None if raw_domain.startswith("[") else _trim(raw_domain)
        end = m.end() if domain is None else m.start(2) + len(domain)
        host = canonical(domain) if domain and len(local) <= 256 else None
        covered.append((m.start(), end))
        if host is None:
            emails_unread = True
            found.append(("email", UNREADABLE + local + "@" + (domain or raw_domain), m.start(), end))
        else:
            domains.append(host)
            found.append(("email", local + "@" + host, m.start(), end))
    inside = _Spans(covered)
    for m in _BARE.finditer(s):
        if inside(m.start()):
            continue
        name = _trim(_trim_start(m[1]))
        last = tld(name)
        if "." not in name or last in NOT_TLDS or not (last.isascii() and ((last.isalpha() and 2 <= len(last) <= 24) or last.startswith("xn--"))):
            continue  # a file name, a decimal, an abbreviation, the end of a sentence: not a host
        host = canonical(name)
        if host is None:
            if name.isascii():
                continue  # empty labels (wait...what): no receiver reaches it
            hosts_unread = True
            found += _link(UNREADABLE + name, "", m.start(), m.end())
        else:
            hosts.append(host)
            found += _link(host, (":" + m[2] if m[2] else "") + m[3].rstrip(_TRAILING).rstrip("/"), m.start(), m.end())
    for m in _ODD_HOST.finditer(s):
        if inside(m.start()):
            continue
        if m["ipv4"] is not None:
            parts = m["ipv4"].split(".")
            address = canonical(m["ipv4"]) if len(parts) == 4 else None
            if address is not None:
                hosts.append(address)
                found += _link(address, m["port"] or "", m.start(), m.end())
                continue
            if not (len(parts) == 4 or m["port"] or "0x" in m["ipv4"]):
                continue  # 3.14 and 1.2.3 are numbers; 0177.0.0.1, 0x7f.1 and 127.1:80 are hosts
        elif m["ipv6"] is not None and not is_ipv6_literal(m["ipv6"]):
            continue  # [10:30:45] is a time
        hosts_unread = True
        found += _link(UNREADABLE + m[0], "", m.start(), m.end())
    for m in _NUMBER.finditer(s):
        digits = _ascii_digits(m[0])
        if m["iban"]:
            for candidate in _ibans(digits):
                found.append(("number", candidate, m.start(), m.end()))
        else:
            found.append(("number", _SEPARATORS.sub("", digits), m.start(), m.end()))
    word = s.strip()
    lone = bool(word) and len(word.split(maxsplit=1)) == 1
    emails_unread = emails_unread or s.count("@") > emails or (lone and not domains)
    hosts_unread = hosts_unread or s.count("://") > links or (lone and not hosts)
    return _Reading(found, domains, hosts, emails_unread, hosts_unread)


def _link(host: str, rest: str, start: int, end: int) -> list[tuple[str, str, int, int]]:
    return [("url", host + rest, start, end), ("host", host, start, end)]


class _Spans:
    """Whether a position lies inside one of a set of (start, end) spans."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[int] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1]:
                merged[-1] = max(merged[-1], end)
            else:
                merged += (start, end)
        self._bounds = merged

    def __call__(self, position: int) -> bool:
        return bisect.bisect_right(self._bounds, position) % 2 == 1


def _authority(authority: str) -> tuple[str | None, str]:
    """The canonical host of a link's authority (None: cannot be read) and its ":port" ("" without one)."""
    hostport = authority.rsplit("@", 1)[-1]
    if hostport.startswith("["):
        return None, ""  # an IPv6 literal: receivers disagree on what it reaches (::ffff:127.0.0.1, zones)
    host, colon, port = hostport.partition(":")
    port = port.rstrip(_TRAILING + ")]}")
    host = _trim(host.rstrip(")]}"))
    if colon and port and not port.isdigit():
        return None, ""
    if "%" in host:  # browsers percent-decode a host before IDNA (http://evil%2Eio/ is evil.io)
        try:
            decoded = _percent_decode(host)
        except UnicodeDecodeError:
            return None, ""
        if _INVISIBLE.search(decoded) or any(c.isspace() for c in decoded):
            return None, ""
        host = normalise(decoded)
    name = canonical(host)
    if name is None or tld(name) in NOT_TLDS:
        return None, ""
    return name, (":" + port if port else "")


def _percent_decode(text: str) -> str:
    raw = re.sub(rb"%([0-9a-fA-F]{2})", lambda m: bytes([int(m[1], 16)]), text.encode("utf-8", "surrogatepass"))
    return raw.decode("utf-8")


def _ibans(printed: str) -> Iterator[str]:
    """The account numbers an IBAN-like match may stand for. A printed IBAN (groups of 4) may have swallowed
    the next short word of the text ("... 0130 00 to"), so every group boundary from the shortest IBAN on is a
    candidate; the true number is one of them on both sides (output and argument), whatever follows it."""
    groups = printed.split()
    if len(groups) == 1:
        yield printed.upper()
        return
    for end in range(3, len(groups) + 1):
        candidate = "".join(groups[:end])
        if len(candidate) >= _SHORTEST_IBAN:
            yield candidate.upper()


@dataclass(frozen=True, slots=True)
class TextValues:
    """Everything the rules read in one text, over all its readings."""

    values: frozenset[tuple[str, str]]  # (kind, value); a value starting with UNREADABLE could not be read
    in_text: frozenset[tuple[str, str]]  # those that sat in running text, not alone in a field (``zoned`` only)
    domains: tuple[str, ...]  # domains of the readable e-mail addresses
    hosts: tuple[str, ...]  # hosts of the readable links and host names
    domains_unread: bool  # something looked like an e-mail address but could not be read
    hosts_unread: bool  # something looked like a link or host but could not be read
    complete: bool  # False when a reading was cut at MAX_READING_CHARS
    digests: dict[tuple[str, str], str] = field(default_factory=dict, compare=False)

    def digest(self, kind: str, value: str) -> str:
        """``_dataflow.digest`` of one of the values, computed once."""
        found = self.digests.get((kind, value))
        if found is None:
            found = self.digests[(kind, value)] = digest(kind, value)
        return found


def readings(text: str) -> list[tuple[str, str | None]]:
    """The normalised readings of ``text``: (invisible characters deleted, invisible characters as spaces or
    None when it has none), for the text as written and for each decoded reading that differs from it."""
    texts = [text]
    for _ in range(_DECODE_ROUNDS):
        decoded = decode(texts[-1])
        if decoded == texts[-1]:
            break
        texts.append(decoded)
    out: list[tuple[str, str | None]] = []
    for item in texts:
        deleted = normalise(item)
        spaced = normalise(item, " ") if not item.isascii() and _INVISIBLE.search(item) else None
        out.append((deleted, spaced))
    return out


def scan(text: str, *, zoned: bool = False) -> TextValues:
    """Every value in every reading of ``text`` (see the module docstring)."""
    values: set[tuple[str, str]] = set()
    in_text: set[tuple[str, str]] = set()
    domains: list[str] = []
    hosts: list[str] = []
    domains_unread = hosts_unread = False
    complete = True
    for deleted, spaced in readings(text):
        pair = [deleted] if spaced is None else [deleted, spaced]
        scanned: list[set[tuple[str, str]]] = []
        for reading in pair:
            if len(reading) > MAX_READING_CHARS:
                reading, complete = reading[:MAX_READING_CHARS], False
            result = _scan(reading)
            domains += result.domains
            hosts += result.hosts
            domains_unread = domains_unread or result.domains_unread
            hosts_unread = hosts_unread or result.hosts_unread
            mine = {(kind, value) for kind, value, _, _ in result.found}
            scanned.append(mine)
            values |= mine
            if zoned:
                in_text |= _running_text(reading, result.found)
        if len(scanned) == 2:
            # A destination an invisible character splits: the receiver deletes the character, a reader
            # may stop at it. Both readings are kept as values, and the destination counts as unreadable.
            for kind, value in scanned[0] - scanned[1]:
                if kind in DESTINATIONS and not value.startswith(UNREADABLE):
                    values.add((kind, UNREADABLE + value))
                    domains_unread = domains_unread or kind == "email"
                    hosts_unread = hosts_unread or kind != "email"
    return TextValues(frozenset(values), frozenset(in_text), tuple(domains), tuple(hosts), domains_unread, hosts_unread, complete)


def _running_text(s: str, found: list[tuple[str, str, int, int]]) -> set[tuple[str, str]]:
    """The values of ``found`` that sit in running text: their line holds more than the value alone."""
    out: set[tuple[str, str]] = set()
    line_end = -1
    core = ""
    for kind, value, start, end in sorted(found, key=lambda f: f[2]):
        if start > line_end:  # the values are in order, so every line is looked at once
            line_start = s.rfind("\n", 0, start) + 1
            line_end = s.find("\n", start)
            if line_end == -1:
                line_end = len(s)
            core = _FIELD_PREFIX.sub("", s[line_start:line_end], count=1).strip().strip(_QUOTES)
        raw = s[start:end].rstrip(_TRAILING)
        if core != raw and core.rstrip("/") != raw.rstrip("/"):
            out.add((kind, value))
    return out


def extract(text: str, kinds: Iterable[str] = KINDS) -> Iterator[tuple[str, str]]:
    """(kind, value) pairs found in ``text``, unreadable destinations included (see ``UNREADABLE``)."""
    wanted = set(kinds)
    for kind, value in scan(text).values:
        if kind in wanted:
            yield kind, value


def canonical_domain(domain: str) -> str:
    """A domain from a policy (``domain_in``, ``except_domains``) in the spelling values are compared in."""
    name = normalise(domain).strip(".")
    return canonical(name) or name


# The last few long texts rules scanned, by identity: a call's argument is read by every data-flow and
# domain test of every candidate rule, and scanning a long one once is enough. Only identity is trusted
# (the entry holds the text, so its id cannot be reused while it is here).
_RECENT: list[tuple[str, TextValues]] = []
_RECENT_SIZE = 4
_WORTH_CACHING = 1024


def scanned(text: str) -> TextValues:
    """``scan(text)``, remembered for the last few long texts."""
    if len(text) < _WORTH_CACHING:
        return scan(text)
    for seen, result in _RECENT:
        if seen is text:
            return result
    result = scan(text)
    _RECENT.insert(0, (text, result))
    del _RECENT[_RECENT_SIZE:]
    return result
