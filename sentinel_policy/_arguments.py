"""Argument tests, the tests of an ``args`` condition: one table, ``ARGUMENT_TESTS``.

Each entry compiles one test (``{gt: 1000}``) into a function of the argument's
value (``MISSING`` when the call has no such argument), appending every problem
with its place. A test may raise ``RuleEvalError`` at evaluation (a value of the
wrong type, a number that is not finite, a value nested too deep); its message
names the argument and its JSON type, never its value (it ends up in reasons).
Adding a test is one entry. Nothing here does I/O or reads the clock.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sentinel_policy._dataflow import MAX_SCAN_CHARS, RuleEvalError, json_type, strings
from sentinel_policy._values import UNREADABLE, addresses, canonical_domain

ValueTest = Callable[[Any], bool]
# (argument name, test name, expected value, place, problems) -> the test, or None after a problem
CompileTest = Callable[[str, str, Any, str, list[str]], ValueTest | None]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()  # the value a test sees for an argument the call does not have


@dataclass(frozen=True, slots=True)
class ArgumentTest:
    compile: CompileTest
    # What one more element of a list argument can turn the test into, whatever the others hold:
    # False (every element must pass, or the whole value must be equal), True (one element suffices),
    # None (neither). `policy lint` warns about restrictions such a test lets an agent defeat.
    extra_element_makes: bool | None = None


def as_str_list(raw: Any, place: str, problems: list[str], what: str = "a string or a list of strings") -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        return list(raw)
    problems.append(f"{place}: must be {what}")
    return []


def in_domains(domain: str, allowed: Sequence[str]) -> bool:
    """Whether ``domain`` is one of ``allowed`` or a subdomain of one (an IP address: only itself)."""
    if domain.startswith(UNREADABLE):
        return False
    if domain.rsplit(".", 1)[-1].isdigit():  # a dotted-decimal IPv4 address has no subdomains
        return domain in allowed
    return any(domain == d or domain.endswith("." + d) for d in allowed)


_HOST_END = re.compile(r"[:/?#\\]")


def domain_of(kind: str, value: str) -> str:
    """The domain an extracted value of ``kind`` is at: an address's, a link's host, a host itself."""
    if value.startswith(UNREADABLE):
        return value
    if kind == "email":
        return value.rsplit("@", 1)[-1]
    if kind == "url":
        return _HOST_END.split(value, 1)[0]
    return value


def _number(value: Any, place: str) -> float:
    """A number or numeric text as a finite float. A comparison with NaN is always false (a deny on gt would
    never fire) and infinity is beyond every bound, so a non-finite number (nan, inf, 1e999, an integer too
    big for a float) is an error, not a value."""
    kind = type(value)
    try:
        if kind is int or kind is float:  # the common case first: this runs for every range test
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            raise RuleEvalError(f"{place} is not a number ({json_type(value)})")
    except ValueError:
        raise RuleEvalError(f"{place} is not a number ({json_type(value)})") from None
    except OverflowError:
        raise RuleEvalError(f"{place} is not a finite number ({json_type(value)})") from None
    if not math.isfinite(number):
        raise RuleEvalError(f"{place} is not a finite number ({json_type(value)})")
    return number


def _elements(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _addresses(value: Any, kind: str) -> tuple[list[str], bool]:
    """The domains (hosts) of every address (link) in the value, and whether some text looked like one
    but could not be read (or was too long to read): that one counts as outside every list (fail closed)."""
    found: list[str] = []
    unread = False
    for text in strings(value):
        if len(text) > MAX_SCAN_CHARS:
            unread = True
            continue
        domains, missed = addresses(text, kind)
        found.extend(domains)
        unread = unread or missed
    return found, unread


def _exists(name: str, op: str, expected: Any, place: str, problems: list[str]) -> ValueTest | None:
    if not isinstance(expected, bool):
        problems.append(f"{place}: exists must be true or false")
        return None
    return lambda v: (v is not MISSING) is expected


def _equals(name: str, op: str, expected: Any, place: str, problems: list[str]) -> ValueTest | None:
    negate = op == "not_equals"
    return lambda v: (v is not MISSING and v == expected) is not negate


def _in(name: str, op: str, expected: Any, place: str, problems: list[str]) -> ValueTest | None:
    if not isinstance(expected, list):
        problems.append(f"{place}: {op} must be a list")
        return None
    allowed = list(expected)
    if op == "in":  # every element of a list value must be allowed
        return lambda v: v is not MISSING and bool(_elements(v)) and all(x in allowed for x in _elements(v))
    return lambda v: v is MISSING or not any(x in allowed for x in _elements(v))


def _regex(name: str, op: str, expected: Any, place: str, problems: list[str]) -> ValueTest | None:
    if not isinstance(expected, str):
        problems.append(f"{place}: regex must be a string")
        return None
    try:
        pattern = re.compile(expected)
    except re.error as exc:
        problems.append(f"{place}: invalid regex {expected!r}: {exc}")
        return None

    def regex(v: Any) -> bool:
        if v is MISSING:
            return False
        items = _elements(v)
        for x in items:
            if not isinstance(x, str):
                raise RuleEvalError(f"argument {name} is not text ({json_type(x)}); regex needs text")
        return bool(items) and all(pattern.search(x) for x in items)

    return regex


def _contains(name: str, op: str, expected: Any, place: str, problems: list[str]) -> ValueTest | None:
    if not isinstance(expected, str):
        problems.append(f"{place}: contains must be a string")
        return None
    return lambda v: v is not MISSING and any(expected in s for s in strings(v))


_COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
}


def _compare(name: str, op: str, expected: Any, place: str, problems: list[str]) -> ValueTest | None:
    if isinstance(expected, bool) or not isinstance(expected, (int, float)):
        problems.append(f"{place}: {op} must be a number")
        return None
    bound = float(expected)
    compare = _COMPARISONS[op]
    return lambda v: v is not MISSING and compare(_number(v, f"argument {name}"), bound)


def _domains(name: str, op: str, expected: Any, place: str, problems: list[str]) -> ValueTest | None:
    """domain_in / domain_not_in (e-mail addresses) and host_in / host_not_in (links)."""
    domains = [canonical_domain(d) for d in as_str_list(expected, place, problems, "a list of domains")]
    if not domains:
        return None
    kind = "email" if op.startswith("domain") else "host"

    def inside(v: Any) -> bool | None:
        """True: every address is listed; False: one is not (or is unreadable); None: there is none."""
        if v is MISSING:
            return None
        found, unread = _addresses(v, kind)
        if unread or not all(in_domains(d, domains) for d in found):
            return False
        return True if found else None

    if op.endswith("_not_in"):  # some address or host outside the list, or one that cannot be read
        return lambda v: inside(v) is False
    return lambda v: inside(v) is True


# The order is the one `unknown test` problems list them in.
ARGUMENT_TESTS: Mapping[str, ArgumentTest] = {
    "equals": ArgumentTest(_equals, extra_element_makes=False),
    "not_equals": ArgumentTest(_equals, extra_element_makes=True),
    "in": ArgumentTest(_in, extra_element_makes=False),
    "not_in": ArgumentTest(_in, extra_element_makes=False),
    "regex": ArgumentTest(_regex, extra_element_makes=False),
    "contains": ArgumentTest(_contains, extra_element_makes=True),
    "gt": ArgumentTest(_compare),
    "gte": ArgumentTest(_compare),
    "lt": ArgumentTest(_compare),
    "lte": ArgumentTest(_compare),
    "domain_in": ArgumentTest(_domains, extra_element_makes=False),
    "domain_not_in": ArgumentTest(_domains, extra_element_makes=True),
    "host_in": ArgumentTest(_domains, extra_element_makes=False),
    "host_not_in": ArgumentTest(_domains, extra_element_makes=True),
    "exists": ArgumentTest(_exists),
}


def compile_test(name: str, op: str, expected: Any, place: str, problems: list[str]) -> ValueTest | None:
    """One test on one argument's value; None (and a problem) when it is unknown or malformed."""
    test = ARGUMENT_TESTS.get(op)
    if test is None:
        problems.append(f"{place}: unknown test {op!r} (one of {', '.join(ARGUMENT_TESTS)})")
        return None
    return test.compile(name, op, expected, place, problems)
