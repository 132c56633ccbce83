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
from sentinel_policy._hosts import NOT_TLDS, Budget, canonical, is_ipv6_literal, tld

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
_LOCAL_RUN = re.compile(rf"(?<!{_LOCAL}){_LOCAL}+\Z")  # searched in a window that ends at the "@"
_LOCAL_CHAR = re.compile(_LOCAL)
_DOMAIN = re.compile(rf"\[[^\]\s]{{0,80}}\]|{_H}++")
_LINK = re.compile(rf"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{{0,31}}://([^\s/\\?#<>\"'`()]*+)({_PATH})")
_BARE = re.compile(rf"(?<!@)(?<!{_H})({_H_NO_DOT}*+\.{_H}*+)(?!@)(?::([0-9]{{1,5}}))?({_PATH})")
# Hosts without a scheme that no name pattern sees: IPv4 addresses in any spelling (dotted, hexadecimal,
# octal parts) with an optional port, bracketed IPv6 literals, a single label with a port and a path
# (intranet:8080/admin: a port of 2+ digits, a path that starts with a letter), and localhost. Each pattern opens with a character or a literal, not a lookbehind,
# so the regular expression engine skips ahead to where one can start (the lookbehind checks the boundary).
_IPV4ISH = re.compile(r"[0-9](?<![\w.:][0-9])[0-9a-fx]*+(?:\.(?:0x[0-9a-f]*|[0-9]+)){1,3}(?P<port>:[0-9]{1,5})?(?!\w|\.\w)")
_IPV6 = re.compile(r"\[(?P<ipv6>[0-9a-f:.]{2,45}(?:%[^\]\s]{1,32})?)\]")
_LABEL_PORT = re.compile(r"(?<![\w.@/:-])[a-z][a-z0-9-]{2,62}:[0-9]{2,5}(?=/[a-z_.~-]|[?#])")  # not score:10/10
_LABEL_PORT_HINT = re.compile(r":[0-9]{2,5}[/?#]")
_LOCALHOST = re.compile(r"(?<![\w.-])localhost(?![\w-])")
# Account-like numbers: IBANs (in one piece or printed in groups of 4, the groups separated by a space or a
# line break), international phone numbers and runs of 6+ digits. Not dates, times, decimals or dotted
# addresses; a run that ends a sentence ("to account 98765432.") is a number.
_IBAN = re.compile(
    r"[a-z](?<![a-z0-9][a-z])[a-z][0-9]{2}(?:[a-z0-9]{8,30}|(?:(?: |\n {0,16})[a-z0-9]{4}){2,7}(?:(?: |\n {0,16})[a-z0-9]{1,3})?)(?![a-z0-9])"
)
_PHONE = re.compile(r"\+\d[\d -]{6,}\d")
_DIGITS = re.compile(r"\d(?<![\d.:/-]\d)\d{5,}(?!\d|[.:/-]\d)")
_SEPARATORS = re.compile(r"[ \n-]")
_SHORTEST_IBAN = 15  # Norway
_LONGEST_LOCAL_PART = 256  # SMTP's longest path; 64 is the standard's limit, but servers accept longer
_ANY_DIGIT = re.compile(r"\d")
# A character some value needs (an address's "@", a name's ".", a link's ":", a digit, an IPv6 "[") or an
# escape starts with: ASCII text without one holds no value.
_VALUE_HINT = re.compile(r"[@.:\[0-9\\&]|(?i:localhost)")
_TRAILING = ".,;:!?'\""

# A line that holds nothing but a value ("- a@b.c", "sender: a@b.c") is a data field;
# anything else around the value makes it running text.
_FIELD_PREFIX = re.compile(r"[ \t]*(?:-\s+(?:[A-Za-z_][\w-]*:\s*)?|[A-Za-z_][\w-]*:\s*(?:-\s+)?)")
_QUOTES = "'\",;"
_NEWLINE = re.compile("\n")


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


class _Reading:
    """What one normalised reading holds: its values with where they sit, and what the domain tests need."""

    def __init__(self, s: str, budget: Budget) -> None:
        self.s = s
        self.budget = budget
        self.found: list[tuple[str, str, int, int]] = []  # (kind, value, start, end) in the reading
        self.domains: list[str] = []  # the domains of readable e-mail addresses
        self.hosts: list[str] = []  # the hosts of readable links and host names
        self.domains_unread = False
        self.hosts_unread = False
        has_dot, has_digit = "." in s, _ANY_DIGIT.search(s) is not None
        inside = _Spans(self._links() + self._emails())  # the other patterns skip what lies in links and addresses
        if has_dot:
            self._names(inside)
        if has_digit:
            self._numeric_hosts(inside)
        self._odd_hosts(inside)
        if has_digit:
            self._numbers()
        word = s.strip()
        lone = bool(word) and len(word.split(maxsplit=1)) == 1  # a single word: "attacker" may be a mailbox
        self.domains_unread = self.domains_unread or (lone and not self.domains)
        self.hosts_unread = self.hosts_unread or (lone and not self.hosts)
        self.complete = not budget.exhausted

    def _link(self, host: str | None, rest: str, raw: str, start: int, end: int, *, url: bool = True) -> None:
        """A link (``url``) or a bare host: its host (None: unreadable, then ``raw`` stands for it) and the rest."""
        if host is None:
            self.hosts_unread = True
            host, rest = UNREADABLE + raw, ""
        else:
            self.hosts.append(host)
        if url or rest:
            self.found.append(("url", host + rest, start, end))
        self.found.append(("host", host, start, end))

    def _links(self) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        if "://" not in self.s:
            return spans
        for m in _LINK.finditer(self.s):
            spans.append((m.start(), m.end()))
            host, port = _authority(m[1], self.budget)
            self._link(host, port + m[2].rstrip(_TRAILING).rstrip("/"), m[1], m.start(), m.end())
            if "://" in m[2]:  # a link inside a link (?next=http://evil.io/): a destination too
                for inner in _LINK.finditer(self.s, m.start(2), m.end(2)):
                    host, port = _authority(inner[1], self.budget)
                    self._link(host, port + inner[2].rstrip(_TRAILING).rstrip("/"), inner[1], inner.start(), inner.end())
                self.hosts_unread = True  # and the host tests cannot tell which one is visited
        if self.s.count("://") > len(spans):
            self.hosts_unread = True
        return spans

    def _emails(self) -> list[tuple[int, int]]:
        """Addresses, found from their "@" (rare) rather than by trying every word: the local part is the run of
        local-part characters before it (never reaching into the address before), the domain the name after it."""
        spans: list[tuple[int, int]] = []
        s, previous = self.s, 0
        at = s.find("@")
        while at != -1:
            window = max(previous, at - _LONGEST_LOCAL_PART)
            run = _LOCAL_RUN.search(s, window, at)
            after = _DOMAIN.match(s, at + 1)
            if after is None or (run is None and not (at > previous and _LOCAL_CHAR.match(s, at - 1))):
                self.domains_unread = True  # an "@" with no address around it (x@ evil.io, @channel)
            else:
                start = run.start() if run is not None else window  # no run: a local part too long to be read
                local, raw_domain = s[start:at], after[0]
                domain = None if raw_domain.startswith("[") else _trim(raw_domain)
                end = after.end() if domain is None else at + 1 + len(domain)
                spans.append((start, end))
                host = canonical(domain, self.budget) if domain and run is not None else None
                if host is None:
                    self.domains_unread = True
                    self.found.append(("email", UNREADABLE + local + "@" + (domain or raw_domain), start, end))
                else:
                    self.domains.append(host)
                    self.found.append(("email", local + "@" + host, start, end))
                previous = end
            at = s.find("@", at + 1)
        return spans

    def _names(self, inside: _Spans) -> None:
        """Host names without a scheme (www.example.com/path, report.zip)."""
        for m in _BARE.finditer(self.s):
            if inside(m.start()):
                continue
            name = _trim(_trim_start(m[1]))
            last = tld(name)
            if "." not in name or last in NOT_TLDS or not (last.isascii() and ((last.isalpha() and 2 <= len(last) <= 24) or last.startswith("xn--"))):
                continue  # a file name, a decimal, an abbreviation, the end of a sentence: not a host
            host = canonical(name, self.budget)
            if host is None and name.isascii():
                continue  # empty labels (wait...what): no receiver reaches it
            port = ":" + m[2] if m[2] else ""
            self._link(host, port + m[3].rstrip(_TRAILING).rstrip("/"), name, m.start(), m.end())

    def _numeric_hosts(self, inside: _Spans) -> None:
        """IPv4 addresses: dotted decimal is a host; 0177.0.0.1, 0x7f.1 and 127.1:80 are hosts nobody reads alike."""
        for m in _IPV4ISH.finditer(self.s):
            if inside(m.start()):
                continue
            port = m["port"] or ""
            address = m[0].removesuffix(port)
            parts = address.count(".") + 1
            host = canonical(address) if parts == 4 else None
            if host is not None or parts == 4 or len(port) > 2 or "x" in address:  # not 3.14, 1.2.3, 2.5:1
                self._link(host, port, m[0], m.start(), m.end(), url=False)  # a link only with a port

    def _odd_hosts(self, inside: _Spans) -> None:
        """Destinations nobody reads alike: IPv6 literals, localhost, a single label with a port."""
        s = self.s
        found = [m for m in _IPV6.finditer(s) if is_ipv6_literal(m["ipv6"])] if "[" in s else []
        if _LABEL_PORT_HINT.search(s):
            found += _LABEL_PORT.finditer(s)
        if "localhost" in s:
            found += _LOCALHOST.finditer(s)
        for m in found:
            if not inside(m.start()):
                self._link(None, "", m[0], m.start(), m.end())

    def _numbers(self) -> None:
        ibans: list[tuple[int, int]] = []
        for m in _IBAN.finditer(self.s):
            ibans.append((m.start(), m.end()))
            for candidate in _ibans(_ascii_digits(m[0])):
                self.found.append(("number", candidate, m.start(), m.end()))
        in_iban = _Spans(ibans)
        for pattern in (_PHONE, _DIGITS) if "+" in self.s else (_DIGITS,):
            for m in pattern.finditer(self.s):
                if not in_iban(m.start()):
                    self.found.append(("number", _SEPARATORS.sub("", _ascii_digits(m[0])), m.start(), m.end()))


class _Spans:
    """Whether a position lies inside one of a set of (start, end) spans."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[int] = []
        for start, end in sorted(spans) if spans else ():
            if merged and start <= merged[-1]:
                merged[-1] = max(merged[-1], end)
            else:
                merged += (start, end)
        self._bounds = merged

    def __call__(self, position: int) -> bool:
        return bisect.bisect_right(self._bounds, position) % 2 == 1 if self._bounds else False


def _authority(authority: str, budget: Budget) -> tuple[str | None, str]:
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
    name = canonical(host, budget)
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


def scan(text: str, *, zoned: bool = False, limit: int | None = None) -> TextValues:
    """Every value in every reading of ``text`` (see the module docstring). With ``limit``, reading stops once
    more distinct values than that were found (the answer is then not ``complete``)."""
    if text.isascii() and not _VALUE_HINT.search(text):  # plain words: nothing any pattern could start on
        lone = len(text.split(maxsplit=1)) == 1
        return TextValues(frozenset(), frozenset(), (), (), lone, lone, True)
    values: set[tuple[str, str]] = set()
    in_text: set[tuple[str, str]] = set()
    domains: list[str] = []
    hosts: list[str] = []
    domains_unread = hosts_unread = False
    complete = True
    budget = Budget()
    for deleted, spaced in readings(text):
        pair = [deleted] if spaced is None else [deleted, spaced]
        per_reading: list[set[tuple[str, str]]] = []
        for reading in pair:
            if len(reading) > MAX_READING_CHARS:
                reading, complete = reading[:MAX_READING_CHARS], False
            result = _Reading(reading, budget)
            complete = complete and result.complete
            domains += result.domains
            hosts += result.hosts
            domains_unread = domains_unread or result.domains_unread
            hosts_unread = hosts_unread or result.hosts_unread
            mine = {(kind, value) for kind, value, _, _ in result.found}
            per_reading.append(mine)
            values |= mine
            if limit is not None and len(values) > limit:
                return TextValues(frozenset(values), frozenset(in_text), tuple(domains), tuple(hosts), domains_unread, hosts_unread, False)
            if zoned:
                in_text |= _running_text(reading, result.found)
        if len(per_reading) == 2:
            # A destination an invisible character splits: the receiver deletes the character, a reader
            # may stop at it. Both readings are kept as values, and the destination counts as unreadable.
            for kind, value in per_reading[0] - per_reading[1]:
                if kind in DESTINATIONS and not value.startswith(UNREADABLE):
                    values.add((kind, UNREADABLE + value))
                    domains_unread = domains_unread or kind == "email"
                    hosts_unread = hosts_unread or kind != "email"
    return TextValues(frozenset(values), frozenset(in_text), tuple(domains), tuple(hosts), domains_unread, hosts_unread, complete)


def _running_text(s: str, found: list[tuple[str, str, int, int]]) -> set[tuple[str, str]]:
    """The values of ``found`` that sit in running text: their line holds more than the value alone."""
    breaks = [m.start() for m in _NEWLINE.finditer(s)]
    cores: dict[int, tuple[str, str]] = {}
    out: set[tuple[str, str]] = set()
    for kind, value, start, end in found:
        if (kind, value) in out:
            continue
        line = bisect.bisect_right(breaks, start)
        core = cores.get(line)
        if core is None:
            first = breaks[line - 1] + 1 if line else 0
            last = breaks[line] if line < len(breaks) else len(s)
            prefix = _FIELD_PREFIX.match(s, first, last)
            text = s[prefix.end() : last].strip().strip(_QUOTES) if prefix else ""  # a bare line is running text
            core = cores[line] = (text, text.rstrip("/"))
        raw = s[start:end].rstrip(_TRAILING)
        if raw not in core and raw.rstrip("/") not in core:  # the whole line, with or without a closing "/", is this value: a field
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


# The last texts rules scanned, by identity: a call's arguments are read by every data-flow and domain
# test of every candidate rule, and once is enough. Only identity is trusted (an entry holds its text, so
# the text's id cannot be reused while it is here).
_RECENT: list[tuple[str, TextValues]] = []
_RECENT_SIZE = 16


def scanned(text: str) -> TextValues:
    """``scan(text)``, remembered for the last few texts."""
    for seen, result in _RECENT:
        if seen is text:
            return result
    result = scan(text)
    _RECENT.insert(0, (text, result))
    del _RECENT[_RECENT_SIZE:]
    return result


def addresses(text: str, kind: str) -> tuple[list[str], bool]:
    """The e-mail domains (``kind`` "email") or link hosts ("host") in ``text``, and whether some part of it
    looks like such an address but could not be read (``attacker@[203.0.113.7]``, ``http://localhost/``,
    a lone word such as ``attacker``): a consumer may still accept it, so callers must fail closed."""
    values = scanned(text)
    if kind == "email":
        return list(values.domains), values.domains_unread or not values.complete
    return list(values.hosts), values.hosts_unread or not values.complete
